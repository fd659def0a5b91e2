import io
import zipfile

import pytest

from posekit.io.archive import ArchiveError, SafeZip
from posekit.limits import LimitError, Limits


def make_zip(path, members, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_reads_members(tmp_path):
    z = make_zip(tmp_path / "a.zip", {"meta.json": b"{}", "dir/x.bin": b"abc"})
    with SafeZip(z) as arc:
        assert arc.names() == ["meta.json", "dir/x.bin"]
        assert arc.read("dir/x.bin") == b"abc"
        with pytest.raises(ArchiveError, match="expected a member 'nope'"):
            arc.read("nope")


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/passwd", "a/../../b", "C:/x", "a\\..\\b"])
def test_zip_slip_names_refused(tmp_path, name):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo(name), b"x")
    (tmp_path / "s.zip").write_bytes(buf.getvalue())
    with pytest.raises(ArchiveError, match="leave the archive"):
        SafeZip(tmp_path / "s.zip")


def test_bounds(tmp_path):
    z = make_zip(tmp_path / "b.zip", {f"{i}.txt": b"x" for i in range(5)})
    with pytest.raises(LimitError, match="5 archive members is over the limit of 4"):
        SafeZip(z, Limits(max_archive_members=4))
    bomb = make_zip(tmp_path / "bomb.zip", {"zeros": b"\0" * (40 * 1024**2)})
    with SafeZip(bomb) as arc, pytest.raises(LimitError, match="zip bomb"):
        arc.read("zeros")
    with SafeZip(bomb, Limits(max_inflated_bytes=1000)) as arc, pytest.raises(LimitError, match="1,000 bytes"):
        arc.read("zeros")
    with pytest.raises(LimitError, match="over the limit"):
        SafeZip(bomb, Limits(max_file_bytes=10))


def test_not_a_zip(tmp_path):
    (tmp_path / "x.zip").write_bytes(b"hello")
    with pytest.raises(ArchiveError, match="expected a ZIP archive"):
        SafeZip(tmp_path / "x.zip")


def test_open_streams_a_member_within_bounds(tmp_path):
    z = make_zip(tmp_path / "v.zip", {"video.bin": bytes(range(256)) * 100})
    with SafeZip(z) as arc, arc.open("video.bin") as f:
        f.seek(25_000)
        assert f.read(3) == bytes([168, 169, 170])
        f.seek(0)
        assert len(f.read()) == 25_600
    with SafeZip(z, Limits(max_inflated_bytes=1000)) as arc, pytest.raises(LimitError, match="1,000 bytes"):
        arc.open("video.bin")
    bomb = make_zip(tmp_path / "bomb.zip", {"zeros": b"\0" * (40 * 1024**2)})
    with SafeZip(bomb) as arc, pytest.raises(LimitError, match="zip bomb"):
        arc.open("zeros")
