"""Pre- and post-processing, geometry, tracking, smoothing, readers and writers: small pure functions."""
