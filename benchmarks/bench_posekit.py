"""Benchmark the PoseKit detector on CPU: network forward + decoding, eager vs the optimised paths.

Measures, per variant (rounds interleaved so that machine load hits every variant alike; the median and the
best round are printed):

* single frame: one (1, 3, 192, 192) input, forward + decode (what the app does per camera frame);
* crops: a batch of person crops, forward + decode, reported per crop;
* pipeline: ``PoseKit(image)`` on a 640x480 frame (letterbox warp, forward, decode, mapping back).

Variants: ``eager`` (the network as loaded, BatchNorm separate), ``fused`` (BatchNorm folded, channels-last:
the detector's default), ``fused+jit`` (that, traced and frozen with TorchScript: for comparison only, since
TorchScript is deprecated in torch 2.13), and with ``--compile`` ``fused+compile`` (``torch.compile``, the
detector's ``optimize="compile"``; the one-off compilation time is printed). Every variant's outputs are
compared with eager's before timing.

Run: ``python benchmarks/bench_posekit.py [--threads 2] [--crops 8] [--rounds 15] [--compile] [--weights W]``
(random weights unless ``--weights`` names a .pth / .safetensors / .mlmodelc).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch

from posekit.estimators.posekit import PoseKit, load_network
from posekit.estimators.posekit_decode import decode
from posekit.models.posekit_net import PoseKitNet, fuse_batchnorm


def variants(net: PoseKitNet, use_compile: bool) -> dict[str, Callable[[torch.Tensor], tuple]]:
    fused = fuse_batchnorm(net).to(memory_format=torch.channels_last)
    example = torch.rand(1, 3, 192, 192).contiguous(memory_format=torch.channels_last) * 255
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        traced = torch.jit.freeze(torch.jit.trace(copy.deepcopy(fused), example))
    out: dict[str, Callable[[torch.Tensor], tuple]] = {
        "eager": lambda x: net(x.contiguous()),
        "fused": lambda x: fused(x.contiguous(memory_format=torch.channels_last)),
        "fused+jit": lambda x: traced(x.contiguous(memory_format=torch.channels_last)),
    }
    if use_compile:
        compiled = torch.compile(copy.deepcopy(fused))
        start = time.perf_counter()
        with torch.inference_mode():
            compiled(example)
        print(f"torch.compile: first call (compilation) {time.perf_counter() - start:.1f} s")
        out["fused+compile"] = lambda x: compiled(x.contiguous(memory_format=torch.channels_last))
    return out


def check_equal(runs: dict[str, Callable], x: torch.Tensor) -> None:
    with torch.inference_mode():
        ref = runs["eager"](x)
        for name, run in runs.items():
            diff = max((a - b).abs().max().item() for a, b in zip(ref, run(x), strict=True))
            print(f"  {name:14s} max |output - eager| = {diff:.2e}")
            if diff > 1e-3:
                sys.exit(f"{name}: outputs differ from eager by {diff}")


def time_rounds(runs: dict[str, Callable], x: torch.Tensor, rounds: int, reps: int) -> dict[str, list[float]]:
    """Seconds per call of forward + decode, ``rounds`` interleaved rounds of ``reps`` calls each."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    with torch.inference_mode():
        for run in runs.values():  # warm-up: oneDNN primitives, allocator
            for _ in range(3):
                decode(*run(x))
        for _ in range(rounds):
            for name, run in runs.items():
                start = time.perf_counter()
                for _ in range(reps):
                    decode(*run(x))
                times[name].append((time.perf_counter() - start) / reps)
    return times


def report(title: str, times: dict[str, list[float]], per: int = 1) -> None:
    print(title)
    base = statistics.median(times["eager"])
    for name, t in times.items():
        med, best = statistics.median(t) / per, min(t) / per
        print(f"  {name:14s} median {med * 1e3:7.2f} ms  best {best * 1e3:7.2f} ms  "
              f"= {1 / med:6.1f} /s  (x{base / per / med:.2f} vs eager)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--crops", type=int, default=8, help="crops per batch")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--reps", type=int, default=5, help="calls per round")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (about a minute)")
    parser.add_argument("--weights", default=None, help="a .pth / .safetensors / .mlmodelc (default: random)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = load_network(args.weights) if args.weights else PoseKitNet().eval()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, weights: {args.weights or 'random'}")
    print("command: python " + " ".join(sys.argv))

    runs = variants(net, args.compile)
    single = torch.rand(1, 3, 192, 192) * 255
    crops = torch.rand(args.crops, 3, 192, 192) * 255
    print("outputs vs eager:")
    check_equal(runs, single)
    report("single frame (batch 1), forward + decode:", time_rounds(runs, single, args.rounds, args.reps))
    report(
        f"crops (batch {args.crops}), forward + decode, per crop:",
        time_rounds(runs, crops, max(3, args.rounds // 3), 1),
        per=args.crops,
    )

    frame = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    pipelines = {"eager": PoseKit(copy.deepcopy(net), optimize="none"), "fused": PoseKit(copy.deepcopy(net))}
    times: dict[str, list[float]] = {name: [] for name in pipelines}
    for model in pipelines.values():
        model(frame)
    for _ in range(args.rounds):
        for name, model in pipelines.items():
            start = time.perf_counter()
            for _ in range(args.reps):
                model(frame)
            times[name].append((time.perf_counter() - start) / args.reps)
    report("pipeline PoseKit(640x480 frame): letterbox + forward + decode + mapping:", times)


if __name__ == "__main__":
    main()
