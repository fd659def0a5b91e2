#!/usr/bin/env bash
# Builds the reference environment of the parity tests: OpenMMLab's own mmcv/mmengine/mmdet/mmpose on a CPU
# torch, in its own venv (posekit itself never imports them). Then:
#   export POSEKIT_REFERENCE_PYTHON=$PWD/VENV_DIR/bin/python
# Usage: bash tests/parity/make-venv.sh VENV_DIR
# mmcv 2.1.0 ships no wheel for recent torch: it is built from its PyPI source with its CPU ops (a C++ compiler,
# about 7 minutes on 2 cores), unless MMCV_WHEEL names a wheel built before. TORCH_VERSION pins torch
# (default: the newest), TORCH_INDEX says where it comes from.
set -euo pipefail
VENV=${1:?usage: make-venv.sh VENV_DIR}
python3 -m venv "$VENV"
PY="$VENV/bin/python"
"$PY" -m pip install -q --upgrade pip
# TORCH_INDEX: where torch comes from (default the CPU index; set it empty for pip's own index)
INDEX=${TORCH_INDEX-https://download.pytorch.org/whl/cpu}
"$PY" -m pip install -q "torch${TORCH_VERSION:+==$TORCH_VERSION}" ${INDEX:+--index-url "$INDEX"}
# mmpose/mmdet runtime needs; xtcocotools' wheel is built against numpy 1.x
"$PY" -m pip install -q "numpy<2" "opencv-python-headless<4.11" json_tricks munkres scipy matplotlib \
    pillow six xtcocotools pycocotools terminaltables shapely tqdm rich addict yapf termcolor packaging \
    regex platformdirs pyyaml ninja
# mmengine still imports pkg_resources, which setuptools removed in 81
"$PY" -m pip install -q "setuptools<81" wheel
if [ -n "${MMCV_WHEEL:-}" ]; then
    "$PY" -m pip install -q --no-deps "$MMCV_WHEEL"
else
    MMCV_WITH_OPS=1 FORCE_CUDA=0 "$PY" -m pip install -q --no-deps --no-build-isolation mmcv==2.1.0
fi
"$PY" -m pip install -q --no-deps mmpose==1.3.2 mmdet==3.3.0 mmengine==0.10.7
# mmpose imports torchvision only for a visualiser; where no CPU torchvision wheel matches this torch, a
# two-line stand-in keeps the import working.
if ! "$PY" -c "import torchvision" 2>/dev/null; then
    SP=$("$PY" -c 'import site; print(site.getsitepackages()[0])')
    mkdir -p "$SP/torchvision"
    printf '__version__ = "0.0-stand-in"\n' > "$SP/torchvision/__init__.py"
    printf 'class ToPILImage:\n    def __call__(self, x):\n        raise NotImplementedError\n' > "$SP/torchvision/transforms.py"
fi
"$PY" - <<'PY'
import mmcv, mmcv.ops, mmdet.models, mmpose.models, mmpose.apis  # noqa: F401
print("reference venv ready: mmcv", mmcv.__version__)
PY
