"""Fixtures for parity tests against OpenMMLab's reference implementation (see ``reference.py``)."""

from __future__ import annotations

import pytest
import reference


@pytest.fixture(scope="session")
def reference_networks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, reference.ReferenceNetwork]:
    """RTMW3D-L/X and RTMDet-M reference checkpoints and layer outputs, built once per test session.

    Skips (with the reason) where ``POSEKIT_REFERENCE_PYTHON`` does not name the reference venv's python.
    """
    reason = reference.skip_reason()
    if reason:
        pytest.skip(reason)
    return reference.reference_networks(tmp_path_factory.mktemp("reference_networks"))
