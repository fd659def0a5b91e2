"""The Gradio web app (and Hugging Face Space) of posekit: ``create_demo()`` builds it, ``launch()`` serves it.

``posekit.ui.gpu`` is imported first: on ZeroGPU, ``spaces`` must come before anything touches CUDA.
"""

from posekit.ui import gpu  # noqa: F401  (import order matters on ZeroGPU)
from posekit.ui.layout import create_demo, launch

__all__ = ["create_demo", "launch"]
