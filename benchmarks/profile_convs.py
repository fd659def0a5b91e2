"""Where RTMW3D-L's and RTMDet-M's CPU time goes, by kind of convolution, next to this CPU's matrix-multiply rate.

For each network (random weights: the cost does not depend on them), as it runs for inference (BatchNorm
folded, channels-last), every ``nn.Conv2d`` is timed with forward hooks and grouped by kernel, stride and
depthwise-or-dense. Printed per group: time, share of the forward pass, GFLOP per input (2 x multiply-adds)
and the rate reached, with a large float32 matrix product's rate for comparison. Convolutions running near
that rate leave no headroom short of doing less arithmetic (Winograd, lower precision).

Usage::

    python benchmarks/profile_convs.py [--threads 2] [--batch 4]
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from posekit.models.fuse import optimize_for_inference  # noqa: E402
from posekit.models.rtmdet import rtmdet_m  # noqa: E402
from posekit.models.rtmw3d import rtmw3d_l  # noqa: E402


def matmul_rate(n: int = 2048, repeat: int = 5) -> float:
    """GFLOP/s of an ``n x n`` float32 matrix product."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(repeat):
        a @ b
    return 2 * n**3 * repeat / (time.perf_counter() - start) / 1e9


def profile(name: str, model: nn.Module, x: torch.Tensor, repeat: int) -> None:
    model = optimize_for_inference(model, channels_last=True)
    x = x.contiguous(memory_format=torch.channels_last)
    groups: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0, 0.0])
    starts: dict[nn.Module, float] = {}

    def before(module: nn.Module, args: tuple) -> None:
        starts[module] = time.perf_counter()

    def after(module: nn.Conv2d, args: tuple, out: torch.Tensor) -> None:
        seconds = time.perf_counter() - starts[module]
        kh, kw = module.kernel_size
        kind = "depthwise" if module.groups > 1 else "dense"
        row = groups[f"{kh}x{kw} stride {module.stride[0]} {kind}"]
        row[0] += 1
        row[1] += seconds
        row[2] += 2 * out.numel() * (module.in_channels // module.groups) * kh * kw

    with torch.inference_mode():
        model(x)
        total = time.perf_counter()
        for _ in range(repeat):
            model(x)
        total = (time.perf_counter() - total) / repeat
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                module.register_forward_pre_hook(before)
                module.register_forward_hook(after)
        for _ in range(repeat):
            model(x)
    batch = x.shape[0]
    print(f"\n{name}: input {tuple(x.shape)}, forward {1000 * total:.0f} ms ({1000 * total / batch:.0f} ms per input)")
    print(f"  {'convolutions':26s} {'layers':>6s} {'ms':>8s} {'share':>6s} {'GFLOP/input':>12s} {'GFLOP/s':>8s}")
    flops = 0.0
    for key, (count, seconds, work) in sorted(groups.items(), key=lambda kv: -kv[1][1]):
        seconds, work = seconds / repeat, work / repeat
        flops += work
        print(
            f"  {key:26s} {count // repeat:6d} {1000 * seconds:8.1f} {100 * seconds / total:5.1f}% "
            f"{work / 1e9 / batch:12.2f} {work / seconds / 1e9:8.0f}"
        )
    print(f"  all convolutions: {flops / 1e9 / batch:.1f} GFLOP per input")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--batch", type=int, default=4, help="person crops per RTMW3D forward pass")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {args.threads} threads")
    print(f"float32 2048 x 2048 matrix product: {matmul_rate():.0f} GFLOP/s")
    profile("RTMW3D-L", rtmw3d_l(), torch.randn(args.batch, 3, 384, 288), args.repeat)
    profile("RTMDet-M", rtmdet_m(), torch.randn(1, 3, 640, 640), args.repeat)
    print(f"\nRerun: python benchmarks/profile_convs.py --threads {args.threads} --batch {args.batch}")


if __name__ == "__main__":
    main()
