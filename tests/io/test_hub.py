import pytest

from posekit.io import hub


def test_weights_dir_is_searched_first(tmp_path, monkeypatch):
    (tmp_path / "a.pth").write_bytes(b"x")
    monkeypatch.setenv("POSEKIT_WEIGHTS_DIR", str(tmp_path))
    assert hub.hf_file("some/repo", "a.pth") == tmp_path / "a.pth"
    assert hub.find_local(["missing", "a.pth"]) == tmp_path / "a.pth"


def test_offline_and_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("POSEKIT_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("POSEKIT_CACHE", str(tmp_path / "cache"))
    with pytest.raises(hub.WeightsNotFoundError, match="missing.pth.*POSEKIT_WEIGHTS_DIR"):
        hub.hf_file("some/repo", "missing.pth", cache_dir=tmp_path / "hf")
    with pytest.raises(hub.WeightsNotFoundError, match="offline mode"):
        hub.url_file("https://example.invalid/x.bin", "x/x.bin")


def test_url_cache_hit_needs_no_network(tmp_path, monkeypatch):
    monkeypatch.setenv("POSEKIT_CACHE", str(tmp_path))
    monkeypatch.setenv("POSEKIT_OFFLINE", "1")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "x.bin").write_bytes(b"ok")
    assert hub.url_file("https://example.invalid/x.bin", "x/x.bin").read_bytes() == b"ok"
