"""GPU placement for the app: ZeroGPU's ``spaces.GPU`` on the inference handlers when it is installed, CUDA
when present, else CPU.

``spaces.GPU`` is a no-op outside a ZeroGPU Space, and the ``spaces`` package is optional (a local run
or the Docker image needs none), so :func:`gpu` falls back to the undecorated function without it.
On ZeroGPU, ``spaces`` must be imported before anything initialises CUDA: the app imports this module first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

try:  # pragma: no cover - depends on the environment
    import spaces
except ImportError:  # pragma: no cover
    spaces = None

F = TypeVar("F", bound=Callable[..., Any])


def gpu(duration: int | Callable[..., int]) -> Callable[[F], F]:
    """Decorate an inference handler for ZeroGPU.

    Args:
        duration: seconds of GPU the call may hold, or a function of the handler's own arguments that
            estimates them (ZeroGPU's dynamic duration): short for an image, estimated for a video.
    """

    def wrap(fn: F) -> F:
        if spaces is None:
            return fn
        return spaces.GPU(duration=duration)(fn)  # pragma: no cover - ZeroGPU only

    return wrap


def device() -> str:
    """``"cuda"`` when a GPU is visible (ZeroGPU emulates one at start-up), else ``"cpu"``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
