"""posekit: 2D and 3D human pose from photos, videos and iPhone depth captures.

Networks live in :mod:`posekit.models` (plain PyTorch), model wrappers with their pre- and post-processing in
:mod:`posekit.estimators`, readers and writers in :mod:`posekit.io`, pure functions over poses in
:mod:`posekit.processing`, whole jobs in :mod:`posekit.pipelines`, drawing in :mod:`posekit.viz`, and the one
coordinate convention in :mod:`posekit.coords`. Importing posekit needs neither CUDA nor the network.
"""

from posekit.estimators.detector import PersonDetector
from posekit.estimators.posekit import PoseKit
from posekit.estimators.rtmpose3d import RTMPose3D, RTMPose3DInference, clear_cache
from posekit.io.captures.base import Capture, CaptureError, RGBDFrame
from posekit.io.captures.open import open_capture
from posekit.io.images import ImageError, to_bgr
from posekit.io.take_writer import save_take
from posekit.io.takes import TakeError, load_take
from posekit.io.video import VideoReader
from posekit.io.video_open import VideoError
from posekit.io.video_writer import VideoWriter
from posekit.limits import LimitError, Limits
from posekit.pipelines import JobResult, Models, Settings, run_file
from posekit.pipelines.capture import process_capture
from posekit.pipelines.video import VideoResult, process_video
from posekit.poses import Poses
from posekit.sequence import PoseSequence
from posekit.skeletons import COCO_WHOLEBODY, POSEKIT_COCO17_2, Skeleton, get_skeleton
from posekit.viz.drawing import draw_poses

__version__ = "0.1.0"

__all__ = [
    "COCO_WHOLEBODY",
    "POSEKIT_COCO17_2",
    "Capture",
    "CaptureError",
    "ImageError",
    "JobResult",
    "LimitError",
    "PersonDetector",
    "PoseKit",
    "RTMPose3D",
    "RTMPose3DInference",
    "Limits",
    "Models",
    "PoseSequence",
    "Poses",
    "RGBDFrame",
    "Settings",
    "Skeleton",
    "TakeError",
    "VideoError",
    "VideoReader",
    "VideoResult",
    "VideoWriter",
    "clear_cache",
    "draw_poses",
    "get_skeleton",
    "load_take",
    "open_capture",
    "process_capture",
    "process_video",
    "run_file",
    "save_take",
    "to_bgr",
]
