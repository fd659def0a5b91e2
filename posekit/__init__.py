"""posekit: 2D and 3D human pose from photos, videos and iPhone depth captures.

Models live in :mod:`posekit.models` (plain PyTorch), pre- and post-processing in :mod:`posekit.pipeline`,
conventions in :mod:`posekit.coords`. Importing posekit needs neither CUDA nor the network.
"""

from posekit.drawing import draw_poses
from posekit.images import ImageError, to_bgr
from posekit.poses import Poses
from posekit.skeletons import COCO_WHOLEBODY, POSEKIT_COCO17_2, Skeleton, get_skeleton

__version__ = "0.1.0"

__all__ = [
    "COCO_WHOLEBODY",
    "POSEKIT_COCO17_2",
    "ImageError",
    "Poses",
    "Skeleton",
    "draw_poses",
    "get_skeleton",
    "to_bgr",
]
