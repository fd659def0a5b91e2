"""Model wrappers with their pre- and post-processing (RTMPose3D, PoseKit, the RTMDet-M person detector), one
contract for device, precision and errors (:mod:`posekit.estimators.base`), and loading by name."""
