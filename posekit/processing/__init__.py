"""Small pure functions over poses: person selection, tracking, smoothing, depth sampling, canonical pose."""
