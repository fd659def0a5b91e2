"""Small pure functions over poses: person selection, tracking, smoothing, depth sampling, canonical pose,
and the animation rig (bone lengths, rest pose, joint rotations)."""
