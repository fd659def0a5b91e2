"""The app's models: each loaded once (at start-up where its weights are available), shared by all requests.

A model whose weights cannot be found or fetched does not stop the app: its error is kept and shown in the
UI, and the next request for it tries again (weights may have been added to ``POSEKIT_WEIGHTS_DIR`` or the
network may be back).
"""

from __future__ import annotations

import itertools
import logging
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from posekit.estimators.registry import load_estimator, load_person_detector

log = logging.getLogger(__name__)

MODEL_NAMES = ("RTMW3D-L", "RTMW3D-X", "PoseKit")
MODEL_INFO = {
    "RTMW3D-L": "133 whole-body keypoints (body, feet, face, hands) in 2D and 3D; RTMDet-M finds the people.",
    "RTMW3D-X": "The larger RTMW3D: a little more accurate, about twice as slow.",
    "PoseKit": "The PoseKit app's mobile model: 17 body joints plus pelvis and neck, 2D only (3D from depth).",
}


class ModelUnavailableError(RuntimeError):
    """A model that could not be loaded; the message says which and why (shown in the UI as is)."""


_REGISTRIES: weakref.WeakValueDictionary[int, ModelRegistry] = weakref.WeakValueDictionary()
_KEYS = itertools.count()


@dataclass
class LoadedModel:
    """A ready model.

    Pickling a ``LoadedModel`` sends only its registry's key and its name, and unpickling looks it up again:
    ZeroGPU pickles a GPU handler's arguments into a worker forked from this process, which already holds the
    loaded models, so hundreds of megabytes of weights never go through the pipe.

    Attributes:
        name: one of :data:`MODEL_NAMES`.
        estimator: ``estimator(image_bgr, bboxes=...) -> Poses`` and ``estimator.predict_batch``.
        detector: the person detector, ``detector(image_bgr) -> (boxes (M, 4), scores (M,))``.
        registry_key: the key of the :class:`ModelRegistry` that loaded it.
    """

    name: str
    estimator: Any
    detector: Any
    registry_key: int = -1

    def __reduce__(self) -> tuple[Any, tuple[int, str]]:
        return _loaded_model, (self.registry_key, self.name)


def _loaded_model(registry_key: int, name: str) -> LoadedModel:
    registry = _REGISTRIES.get(registry_key)
    if registry is None:
        raise ModelUnavailableError(f"the model registry that loaded {name} is gone")
    return registry.get(name)


Loader = Callable[[str], Any]


DEFAULT_LOADERS: dict[str, Loader] = {
    "RTMW3D-L": partial(load_estimator, "rtmw3d-l"),
    "RTMW3D-X": partial(load_estimator, "rtmw3d-x"),
    "PoseKit": partial(load_estimator, "posekit"),
}


class ModelRegistry:
    """Loads each model and the shared person detector at most once, on one device.

    Args:
        loaders: model name -> ``loader(device) -> estimator``.
        detector_loader: ``loader(device) -> person detector`` (RTMDet-M), shared by every model.
        device: ``"cuda"`` / ``"cpu"``; None picks CUDA when present.
    """

    def __init__(
        self,
        loaders: Mapping[str, Loader] | None = None,
        detector_loader: Loader | None = None,
        device: str | None = None,
    ) -> None:
        self.loaders = dict(DEFAULT_LOADERS if loaders is None else loaders)
        self.detector_loader = detector_loader or load_person_detector
        self._device = device
        self._models: dict[str, Any] = {}
        self._detector: Any = None
        self._errors: dict[str, str] = {}
        self._lock = threading.Lock()
        self.key = next(_KEYS)
        _REGISTRIES[self.key] = self

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.loaders)

    @property
    def device(self) -> str:
        if self._device is None:
            from posekit.ui.gpu import device

            self._device = device()
        return self._device

    def preload(self) -> dict[str, str | None]:
        """Load every model now (the app's start-up); returns name -> error message or None."""
        for name in self.loaders:
            try:
                self.get(name)
            except ModelUnavailableError:
                pass
        return self.status()

    def status(self) -> dict[str, str | None]:
        """Name -> None when loaded, else the last error message (or "not loaded yet")."""
        return {n: None if n in self._models else self._errors.get(n, "not loaded yet") for n in self.loaders}

    def status_markdown(self) -> str:
        """One line per model that could not be loaded (empty when all are ready)."""
        lines = [f"- **{n}** is unavailable: {msg}" for n, msg in self.status().items() if msg and n in self._errors]
        return "\n".join(["⚠️ Some models could not be loaded:", *lines]) if lines else ""

    def get(self, name: str) -> LoadedModel:
        """The loaded model ``name`` (loading it, and the detector, on first use).

        Raises:
            ModelUnavailableError: unknown name, or its weights (or the detector's) could not be loaded.
        """
        if name not in self.loaders:
            raise ModelUnavailableError(f"unknown model {name!r}; expected one of {list(self.loaders)}")
        with self._lock:
            if name not in self._models:
                try:
                    estimator = self.loaders[name](self.device)
                    # RTMPose3D brings its own RTMDet-M; the other models share the first one loaded.
                    detector = getattr(estimator, "person_detector", None) or self._get_detector()
                    self._models[name] = LoadedModel(name, estimator, detector, self.key)
                    self._errors.pop(name, None)
                except Exception as exc:  # weights missing, corrupt, unreachable hub, missing module...
                    log.warning("model %s could not be loaded: %s", name, exc)
                    self._errors[name] = _first_line(exc)
                    raise ModelUnavailableError(
                        f"The {name} model is unavailable: {self._errors[name]}. Try another model, or see the "
                        "README for how to provide its weights (POSEKIT_WEIGHTS_DIR)."
                    ) from exc
            return self._models[name]

    def _get_detector(self) -> Any:
        if self._detector is None:
            self._detector = next((m.detector for m in self._models.values() if m.detector is not None), None)
        if self._detector is None:
            try:
                self._detector = self.detector_loader(self.device)
            except Exception as exc:
                raise RuntimeError(f"the person detector (RTMDet-M) could not be loaded: {_first_line(exc)}") from exc
        return self._detector


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
