"""Batch pose estimation on Ray Data: ``posekit batch INPUTS... -o OUT`` and :func:`run_batch`.

Needs the ``batch`` extra (``pip install "posekit[batch]"``: Ray Data and pyarrow). Importing this package does
not import Ray; :func:`run_batch` does, when it runs. ``import posekit`` never imports this package.
"""

from __future__ import annotations

from posekit.batch.run import BatchSummary, run_batch

__all__ = ["BatchSummary", "run_batch"]
