"""The app's models: one :class:`~posekit.pipelines.models.Models` shared by all requests.

Locally the page is served at once and each model loads on its first request (with a message), then stays
loaded. On a ZeroGPU Space the weights are on disk already (``preload_from_hub``) and every model is built at
start-up, placed on the GPU outside any ``spaces.GPU`` call, so no GPU call spends its time loading.

A model whose weights cannot be found does not stop the app: its error is kept and shown, and the next request
for it tries again (weights may have been added to ``POSEKIT_WEIGHTS_DIR``, or the network may be back).
"""

from __future__ import annotations

import itertools
import os
import weakref

from posekit.pipelines.models import Models, ModelUnavailableError

MODEL_IDS = {"RTMW3D-L": "rtmw3d-l", "RTMW3D-X": "rtmw3d-x", "PoseKit": "posekit"}
"""The app's model names and the library's."""
MODEL_NAMES = tuple(MODEL_IDS)
MODEL_INFO = {
    "RTMW3D-L": "133 whole-body keypoints (body, feet, face, hands) in 2D and 3D; RTMDet-M finds the people.",
    "RTMW3D-X": "The larger RTMW3D: a little more accurate, about twice as slow.",
    "PoseKit": "The PoseKit app's mobile model: 17 body joints plus pelvis and neck, 2D only (3D from depth); "
    "finds one person in the whole frame, about 30× faster than detecting people first.",
}

_REGISTRIES: weakref.WeakValueDictionary[int, ModelRegistry] = weakref.WeakValueDictionary()
_KEYS = itertools.count()


def on_zero_gpu() -> bool:
    """Whether this process serves a ZeroGPU Space (the ``spaces`` runtime sets ``SPACES_ZERO_GPU``)."""
    return os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "true")


def model_id(name: str) -> str:
    """The library's id of the app's model ``name`` (ids are accepted as they are, for API callers)."""
    if name in MODEL_IDS:
        return MODEL_IDS[name]
    if name in MODEL_IDS.values():
        return name
    raise ValueError(f"model: expected one of {', '.join(MODEL_NAMES)}, got {name!r}")


class ModelRegistry:
    """The app's models on one device.

    Pickling a registry sends only its key, and unpickling looks it up again: ZeroGPU pickles a GPU handler's
    arguments into a worker forked from this process, which already holds the loaded models, so hundreds of
    megabytes of weights never go through the pipe.

    Args:
        models: where the models come from (default: the trained weights on ``device``).
        device: ``"auto"`` (CUDA when present), ``"cpu"``...
        names: the app's model names offered.
    """

    def __init__(self, models: Models | None = None, device: str = "auto", names: tuple[str, ...] = MODEL_NAMES):
        self.models = models or Models(device)
        self.names = names
        self.key = next(_KEYS)
        _REGISTRIES[self.key] = self

    def __reduce__(self) -> tuple[object, tuple[int]]:
        return _registry, (self.key,)

    @property
    def device(self) -> str:
        from posekit.estimators.base import resolve_device

        return str(resolve_device(self.models.device))

    def loaded(self, name: str) -> bool:
        return self.models.loaded(model_id(name))

    def load(self, name: str) -> None:
        """Load ``name`` (and the person detector where it uses one) now.

        Raises:
            ModelUnavailableError: with the reason; the next call tries again.
        """
        from posekit.pipelines.settings import Settings

        self.models.for_job(Settings(model=model_id(name)))

    def preload(self) -> dict[str, str | None]:
        """Load every model (a ZeroGPU Space's start-up); returns name -> error message or None."""
        for name in self.names:
            try:
                self.load(name)
            except ModelUnavailableError:
                pass
        return self.status()

    def status(self) -> dict[str, str | None]:
        """Name -> None when loaded, else the last error (or "not loaded yet")."""
        errors = self.models.errors
        out = {}
        for name in self.names:
            failed = errors.get(model_id(name)) or (errors.get("RTMDet-M") if name != "PoseKit" else None)
            out[name] = None if self.loaded(name) else failed or "not loaded yet"
        return out

    def status_markdown(self) -> str:
        """One line per model that failed to load (empty when none did)."""
        lines = [f"- **{n}** is unavailable: {msg}" for n, msg in self.status().items() if msg and msg !=
                 "not loaded yet"]  # fmt: skip
        return "\n".join(["⚠️ Some models could not be loaded:", *lines]) if lines else ""


def _registry(key: int) -> ModelRegistry:
    registry = _REGISTRIES.get(key)
    if registry is None:
        raise ModelUnavailableError("the app's models are gone (the app is restarting): try again in a minute")
    return registry


__all__ = ["MODEL_IDS", "MODEL_INFO", "MODEL_NAMES", "ModelRegistry", "ModelUnavailableError", "model_id"]
