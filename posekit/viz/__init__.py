"""Drawing: 2D overlays on images and frames, Plotly 3D skeletons."""
