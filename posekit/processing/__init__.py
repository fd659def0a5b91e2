"""Small pure functions over poses: rigs and joint rotations for animation export."""
