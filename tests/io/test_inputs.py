import zipfile

import pytest

from posekit.io.inputs import (
    IMAGE_EXTENSIONS,
    RGBD_EXTENSIONS,
    VIDEO_EXTENSIONS,
    UnsupportedFileError,
    file_kind,
)
from posekit.limits import LimitError, Limits
from posekit.pipelines import input_jobs


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name in members:
            z.writestr(name, b"x")
    return path


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("a.JPG", "image"),
        ("a.webp", "image"),
        ("a.tiff", "image"),
        ("a.MOV", "video"),
        ("a.mkv", "video"),
        ("a.json", "take"),
        ("a.bin", "take"),
        ("a.r3d", "capture"),
    ],
)
def test_kind_by_extension(tmp_path, name, kind):
    (tmp_path / name).write_bytes(b"")
    assert file_kind(tmp_path / name) == kind


def test_zip_is_a_take_by_its_members(tmp_path):
    assert file_kind(_zip(tmp_path / "t.zip", ["meta.json", "frames.bin"])) == "take"
    assert file_kind(_zip(tmp_path / "mac.zip", ["PoseTake/frames.json", "__MACOSX/._frames.json"])) == "take"
    assert file_kind(_zip(tmp_path / "c.zip", ["intrinsics.json", "color/000000.jpg"])) == "capture"


def test_unknown_extension_says_what_was_expected(tmp_path):
    with pytest.raises(UnsupportedFileError, match=r"notes\.txt: expected an image .* got a '\.txt' file"):
        file_kind(tmp_path / "notes.txt")
    with pytest.raises(UnsupportedFileError, match="without an extension"):
        file_kind(tmp_path / "README")


def test_zip_is_bounded_before_its_members_are_read(tmp_path):
    archive = _zip(tmp_path / "many.zip", [f"f{i}.txt" for i in range(5)])
    with pytest.raises(LimitError):
        file_kind(archive, Limits(max_archive_members=2))


def test_cli_and_app_share_the_rule(tmp_path):
    """The CLI and the app's RGB-D tab tell every file apart the same way (they once kept separate lists)."""
    pytest.importorskip("gradio")
    from posekit.ui.files import rgbd_kind

    for suffix in IMAGE_EXTENSIONS + VIDEO_EXTENSIONS + RGBD_EXTENSIONS:
        path = tmp_path / f"x{suffix}"
        if suffix == ".zip":
            _zip(path, ["frames.bin"])
        else:
            path.write_bytes(b"")
        kind = file_kind(path)
        assert input_jobs(path) == [(path, kind)]
        if suffix in RGBD_EXTENSIONS:
            assert rgbd_kind(path, Limits()) == kind
        else:
            with pytest.raises(ValueError, match="expected a PoseKit take"):
                rgbd_kind(path, Limits())
