"""Models by name, shared by the CLI and the app (loading real weights is tested through both)."""

from __future__ import annotations

import pytest

from posekit import cli
from posekit.loaders import ESTIMATORS, load_estimator


def test_cli_and_app_offer_the_same_estimators():
    pytest.importorskip("gradio")
    from posekit.ui.models import DEFAULT_LOADERS

    assert cli.MODELS == ESTIMATORS
    assert {loader.args[0] for loader in DEFAULT_LOADERS.values()} == set(ESTIMATORS)


def test_unknown_name_is_refused():
    with pytest.raises(ValueError, match="expected one of"):
        load_estimator("rtmw3d-m", "cpu")
