"""Animation files in the results ZIP (``Settings.export``): the app asks for BVH and glTF, the CLI's ``--export``
maps to the same field, so both write the same ZIP."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from posekit.cli import build_parser, settings_from_args
from posekit.pipelines import Models, Settings, run_file

TAKE = Path(__file__).resolve().parents[2] / "assets" / "rgbd" / "PoseTake_2025-01-01T120000Z.zip"


def test_export_is_checked_and_recorded():
    assert Settings(export=["glb", "bvh", "glb"]).export == ("glb", "bvh")
    assert Settings.from_dict(Settings(export=("bvh",)).to_dict()).export == ("bvh",)
    with pytest.raises(ValueError, match="export: expected some of bvh, glb"):
        Settings(export=("fbx",))
    args = build_parser().parse_args(["clip.mp4", "--zip", "--export", "bvh,glb"])
    assert settings_from_args(args).export == ("bvh", "glb")


@pytest.mark.parametrize("export", [(), ("bvh", "glb")])
def test_take_zip_holds_the_animation_files_asked_for(export, tmp_path):
    settings = Settings(zip=True, export=export)
    result = run_file(TAKE, settings, Models.for_settings(settings), tmp_path, "take")
    with zipfile.ZipFile(result.files["zip"]) as z:
        names = set(z.namelist())
        animations = {n for n in names if n.startswith("animation/")}
        assert animations == {f"animation/take.{fmt}" for fmt in export}
        for name in animations:
            assert z.getinfo(name).file_size > 100
    assert {"results.json", "keypoints.csv"} <= names
