"""The models a job needs, loaded on first use and kept: one loader for the CLI, the app and the batch runner.

A :class:`Models` holds any number of pose estimators (by name) and one RTMDet-M person detector that they
share (RTMW3D brings its own, which is then reused rather than loading a second copy). Loading failures are
remembered per model with a readable reason, so the app can show them and the CLI can stop early.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from posekit.estimators.base import PersonFinder, PoseEstimator
from posekit.estimators.registry import LABELS, check_estimator_name, load_estimator, load_person_detector
from posekit.pipelines.settings import Settings

log = logging.getLogger(__name__)

EstimatorLoader = Callable[[str, str, str, bool], PoseEstimator]
"""``loader(name, device, precision, compile) -> estimator``."""
DetectorLoader = Callable[[str, str, bool], PersonFinder]
"""``loader(device, precision, compile) -> person detector``."""


class ModelUnavailableError(RuntimeError):
    """A model that could not be loaded; the message says which, why, and what to do."""


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class Models:
    """Estimators by name and the shared person detector, on one device and precision.

    Args:
        device, precision, compile: as in :class:`~posekit.pipelines.settings.Settings`.
        estimator_loader, detector_loader: how to build them (default: the trained weights through
            :mod:`posekit.estimators.registry`).
    """

    def __init__(
        self,
        device: str = "auto",
        precision: str = "auto",
        compile: bool = False,
        estimator_loader: EstimatorLoader | None = None,
        detector_loader: DetectorLoader | None = None,
    ) -> None:
        self.device = device
        self.precision = precision
        self.compile = compile
        self._load_estimator = estimator_loader or load_estimator
        self._load_detector = detector_loader or load_person_detector
        self._estimators: dict[str, PoseEstimator] = {}
        self._detector: PersonFinder | None = None
        self.errors: dict[str, str] = {}
        self._lock = threading.RLock()

    @classmethod
    def for_settings(cls, settings: Settings, **loaders: Callable) -> Models:
        """A :class:`Models` on the settings' device and precision."""
        return cls(settings.device, settings.precision, settings.compile, **loaders)

    def loaded(self, name: str) -> bool:
        return name in self._estimators

    def estimator(self, name: str) -> PoseEstimator:
        """The pose estimator ``name``, loading it on first use.

        Raises:
            ModelUnavailableError: its weights are missing or broken, or the device or precision cannot be had.
            ValueError: an unknown name.
        """
        check_estimator_name(name)
        with self._lock:
            if name not in self._estimators:
                self._estimators[name] = self._load(name, lambda: self._load_estimator(
                    name, self.device, self.precision, self.compile))  # fmt: skip
            return self._estimators[name]

    def detector(self) -> PersonFinder:
        """The RTMDet-M person detector: RTMW3D's own when one is loaded, else loaded on first use."""
        with self._lock:
            if self._detector is None:
                own = [getattr(e, "person_detector", None) for e in self._estimators.values()]
                self._detector = next((d for d in own if d is not None), None) or self._load(
                    "RTMDet-M", lambda: self._load_detector(self.device, self.precision, self.compile)
                )
            return self._detector

    def for_job(self, settings: Settings) -> tuple[PoseEstimator, PersonFinder | None]:
        """The estimator of ``settings.model`` and, if the settings use one, the person detector."""
        estimator = self.estimator(settings.model)
        return estimator, self.detector() if settings.detector else None

    def runtime(self, name: str) -> dict[str, str]:
        """What ``auto`` became for the loaded model ``name``: its device and precision, and posekit's version."""
        from posekit import __version__
        from posekit.estimators.base import precision_name

        out = {"posekit": __version__}
        model = self._estimators.get(name)
        if getattr(model, "device", None) is not None:
            out["device"] = str(model.device)
        if getattr(model, "dtype", None) is not None:
            out["precision"] = precision_name(model.dtype)
        return out

    def _load(self, name: str, load: Callable[[], PoseEstimator | PersonFinder]) -> PoseEstimator | PersonFinder:
        try:
            model = load()
        except ValueError:  # a device or precision this machine cannot run: the user's choice to change
            raise
        except Exception as exc:  # missing or corrupt weights, an unreachable hub, a missing module...
            self.errors[name] = first_line(exc)
            log.info("model %s could not be loaded: %s", name, self.errors[name])  # the caller reports it
            raise ModelUnavailableError(
                f"The {LABELS.get(name, name)} model is unavailable: {self.errors[name].rstrip('.')}. Put its weights "
                "in a folder named by POSEKIT_WEIGHTS_DIR (see the README's Weights section), or choose another model."
            ) from exc
        self.errors.pop(name, None)
        return model
