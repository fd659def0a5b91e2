#!/usr/bin/env bash
# The CUDA check of issue 14, for a session whose task is lent a GPU machine (the device tool's `run`):
# installs what the tests need, runs the suite with CUDA visible, then the CUDA benchmarks, and writes a
# report under $OUT (default: ./gpu-report). Meant to finish in under 8 minutes on one H200.
#
#   run: bash benchmarks/gpu_check.sh            (on the device machine, from the repository root)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu-report}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
log() { echo "== $*" | tee -a "$OUT/report.txt"; }

log "machine"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available())"; } >> "$OUT/report.txt" 2>&1

log "install (the project's own extras; torch as the machine has it)"
python3 -m pip install -q -e ".[app,dev]" >> "$OUT/install.log" 2>&1 || log "install failed: see install.log"

log "tests with CUDA visible (the browser, batch and parity tests are CPU-side and skipped here)"
timeout 240 python3 -m pytest -q -x --ignore=tests/ui/test_browser.py --ignore=tests/batch --ignore=tests/parity \
    2>&1 | tail -15 >> "$OUT/report.txt"

log "RTMW3D-L / RTMDet-M throughput (random weights: speed only), fp16 section at batch 1, 8, 32"
timeout 150 python3 benchmarks/bench_rtmw3d.py --repeat 2 --no-reference 2>&1 | tail -30 >> "$OUT/report.txt"

log "video end to end on CUDA: RTMW3D-L (one person) and PoseKit"
timeout 120 python3 benchmarks/bench_video.py --device cuda --frames 300 2>&1 | tail -30 >> "$OUT/report.txt"

log "peak GPU memory of one RTMW3D-L image run"
timeout 60 python3 - >> "$OUT/report.txt" 2>&1 <<'PY'
import sys, tempfile, torch
sys.path.insert(0, "tests")
from generators.weights import write_weights
import os, numpy as np
folder = write_weights(tempfile.mkdtemp(), rtmw3d=("l",), posekit=True)
os.environ["POSEKIT_WEIGHTS_DIR"] = str(folder)
from posekit import RTMPose3D
model = RTMPose3D.from_pretrained(str(folder), device="cuda")
image = np.random.default_rng(0).integers(0, 255, (720, 1280, 3), np.uint8)
torch.cuda.reset_peak_memory_stats(); model(image); torch.cuda.synchronize()
print(f"peak GPU memory, RTMW3D-L + RTMDet-M, one 720p image: {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")
PY
log "done: $OUT/report.txt"
