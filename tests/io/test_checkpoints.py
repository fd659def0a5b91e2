import collections

import numpy as np
import pytest
import torch

from posekit.io.checkpoints import CheckpointError, load_into, load_state_dict, save_safetensors


class Meta:
    """Stands for mmengine objects that a weights-only load refuses."""

    def __init__(self):
        self.history = np.arange(3)


def test_mmengine_style_checkpoint_with_objects_in_meta(tmp_path):
    net = torch.nn.Linear(3, 2)
    meta = {"obj": Meta(), "np": np.float64(1.5), "arr": np.zeros(2), "od": collections.OrderedDict(a=1)}
    torch.save({"state_dict": net.state_dict(), "meta": meta}, tmp_path / "ck.pth")
    sd = load_state_dict(tmp_path / "ck.pth")
    assert set(sd) == {"weight", "bias"}
    assert torch.equal(sd["weight"], net.weight)


@pytest.mark.parametrize("key", ["model", "state_dict", "model_state", "net", None])
def test_wrapped_or_raw_state_dicts(tmp_path, key):
    net = torch.nn.Linear(3, 2)
    obj = net.state_dict() if key is None else {key: net.state_dict(), "epoch": 3}
    torch.save(obj, tmp_path / "ck.pth")
    load_into(torch.nn.Linear(3, 2), load_state_dict(tmp_path / "ck.pth"), "ck.pth")


def test_safetensors_round_trip(tmp_path):
    net = torch.nn.Linear(3, 2)
    save_safetensors(net.state_dict(), tmp_path / "w.safetensors")
    sd = load_state_dict(tmp_path / "w.safetensors")
    assert torch.equal(sd["bias"], net.bias)


def test_code_in_pickle_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("echo should-not-run",))

    torch.save({"state_dict": {"w": torch.zeros(1)}, "meta": Evil()}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError, match="evil.pth: refused"):
        load_state_dict(tmp_path / "evil.pth")


def test_missing_truncated_and_wrong_files(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_state_dict(tmp_path / "none.pth")
    torch.save({"state_dict": torch.nn.Linear(3, 2).state_dict()}, tmp_path / "ck.pth")
    data = (tmp_path / "ck.pth").read_bytes()
    (tmp_path / "trunc.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="trunc.pth"):
        load_state_dict(tmp_path / "trunc.pth")
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(CheckpointError, match="bad.safetensors"):
        load_state_dict(tmp_path / "bad.safetensors")
    torch.save({"epoch": 1}, tmp_path / "nosd.pth")
    with pytest.raises(CheckpointError, match="expected a state dict"):
        load_state_dict(tmp_path / "nosd.pth")


def test_mismatch_names_file_and_keys():
    sd = torch.nn.Linear(4, 2).state_dict()
    with pytest.raises(CheckpointError, match=r"ck.pth: .*shape mismatches"):
        load_into(torch.nn.Linear(3, 2), sd, "ck.pth")
    with pytest.raises(CheckpointError, match="missing keys"):
        load_into(torch.nn.Linear(3, 2), {"weight": sd["weight"][:, :3]}, "ck.pth")
