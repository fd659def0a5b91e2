"""Whole jobs, the only code that runs one: read with bounds, estimate, track, smooth, draw, export. The CLI,
the app and the batch runner are thin adapters over these."""
