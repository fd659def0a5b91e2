"""Readers and writers, each bounded by :class:`~posekit.limits.Limits`: images, videos, PoseKit takes, RGB-D
captures, ZIP archives, Core ML models, checkpoints and weights, result documents, animation files (BVH, glTF)
and atomic writes."""
