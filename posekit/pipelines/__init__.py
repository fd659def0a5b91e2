"""Whole jobs, the only code that runs one: read with bounds, estimate, track, smooth, draw, export. The CLI,
the app and the batch runner are thin adapters over these.

>>> from posekit.pipelines import Models, Settings, run_file
>>> settings = Settings(model="posekit")
>>> result = run_file("clip.mp4", settings, Models.for_settings(settings), "results/")
>>> result.files  # {"json": results/clip.json, "overlay": results/clip_overlay.mp4}
"""

from posekit.pipelines.models import Models, ModelUnavailableError
from posekit.pipelines.results import JobResult, Outputs, ProgressFn
from posekit.pipelines.run import input_jobs, run_file
from posekit.pipelines.settings import MODEL_DEFAULTS, Settings

__all__ = [
    "MODEL_DEFAULTS",
    "JobResult",
    "ModelUnavailableError",
    "Models",
    "Outputs",
    "ProgressFn",
    "Settings",
    "input_jobs",
    "run_file",
]
