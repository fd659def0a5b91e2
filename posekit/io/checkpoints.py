"""Reading state dicts from checkpoint files without executing pickled code.

* ``.safetensors``: read with ``safetensors`` (no pickle at all).
* ``.pth`` / ``.pt`` (PyTorch zip format, as mmengine and the PoseKit training code save them): read with
  ``torch.load(weights_only=True)``. mmengine's ``meta`` often holds objects (numpy scalars, mmengine
  classes) that a weights-only load refuses. Each such global is replaced by an inert stand-in class that
  accepts and discards its arguments, so the tensors load and nothing from the file ever runs. The
  ``meta`` is dropped: only tensors are returned.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch

STATE_DICT_KEYS = ("state_dict", "model", "model_state", "model_state_dict", "net")


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, unreadable or does not fit the model; the message names the file."""


def _inert_class(qualified: str) -> type:
    module, _, name = qualified.rpartition(".")

    def _accept(self, *args, **kwargs):  # noqa: ANN001, ANN202 - stand-in that swallows everything
        pass

    def _new(cls, *args, **kwargs):  # noqa: ANN001, ANN202
        return object.__new__(cls)

    return type(
        name,
        (),
        {"__module__": module, "__init__": _accept, "__new__": _new, "__setstate__": _accept},
    )


def _torch_load(path: Path) -> object:
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"{path.name}: expected a PyTorch checkpoint (a zip archive written by torch.save) or a .safetensors "
            "file, got something else (truncated download, or a legacy non-zip checkpoint)"
        )
    try:
        unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception as exc:
        raise CheckpointError(f"{path.name}: cannot read the checkpoint's pickle ({exc})") from exc
    stand_ins = [(_inert_class(g), g) for g in unsafe]
    try:
        with torch.serialization.safe_globals(stand_ins):
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path.name}: refused: its pickle calls code that a weights-only load does not run ({exc})"
        ) from exc
    except (RuntimeError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise CheckpointError(f"{path.name}: the checkpoint is corrupt or truncated ({exc})") from exc


def _find_state_dict(obj: object, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, Mapping):
        for key in STATE_DICT_KEYS:
            inner = obj.get(key)
            if isinstance(inner, Mapping) and inner and all(torch.is_tensor(v) for v in inner.values()):
                return dict(inner)
        if obj and all(torch.is_tensor(v) for v in obj.values()):
            return dict(obj)
    keys = list(obj.keys())[:8] if isinstance(obj, Mapping) else type(obj).__name__
    raise CheckpointError(
        f"{path.name}: expected a state dict of tensors, or a dict holding one under one of {STATE_DICT_KEYS}; "
        f"found {keys}"
    )


def load_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """All tensors of a checkpoint file, on the CPU, keyed as saved.

    Args:
        path: a ``.safetensors`` file, or a PyTorch ``.pth``/``.pt``: a raw state dict, or a dict holding
            one under ``state_dict``, ``model``, ``model_state``, ``model_state_dict`` or ``net``.

    Raises:
        CheckpointError: the file is missing, truncated, corrupt, or holds no state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path.name}: checkpoint file not found")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"{path.name}: not a readable safetensors file ({exc})") from exc
    return _find_state_dict(_torch_load(path), path)


def load_into(
    module: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], source: str | os.PathLike
) -> torch.nn.Module:
    """``module.load_state_dict(state_dict, strict=True)`` with an error that names the file and the keys.

    Shapes are checked first so that a checkpoint of another model size fails with one clear line.
    """
    own = module.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    mismatched = [
        f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(v.shape)}"
        for k, v in own.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {missing[:3]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[:3]})")
        if mismatched:
            parts.append(f"{len(mismatched)} shape mismatches (e.g. {mismatched[:2]})")
        raise CheckpointError(
            f"{source}: does not fit {type(module).__name__}: "
            + "; ".join(parts)
            + ". Is it the checkpoint of another model or size?"
        )
    module.load_state_dict(state_dict, strict=True)
    return module


def save_safetensors(state_dict: Mapping[str, torch.Tensor], path: str | os.PathLike) -> None:
    """Write a state dict as ``.safetensors`` (contiguous CPU copies; shared storages split)."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state_dict.items()}
    save_file(tensors, str(path))
