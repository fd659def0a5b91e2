"""Project side of the parity tests: runs scripts in OpenMMLab's reference venv and reads what they wrote.

The reference venv (mmcv/mmengine/mmdet/mmpose; built by ``tests/parity/make-venv.sh``) is named by
the environment variable ``POSEKIT_REFERENCE_PYTHON`` (its python executable). Without it parity tests
skip, with :func:`skip_reason` as the reason. posekit's own venv never imports OpenMMLab code; the two
sides exchange only files (``torch.save`` checkpoints, ``.npz`` arrays, JSON).

Interface (import as ``from reference import ...`` from tests in this folder; pytest puts it on
``sys.path``):

* :func:`skip_reason` -> ``str | None``; :func:`reference_python` -> the executable's path.
* :func:`run_reference(script, *args, timeout=...)` runs ``script`` (a path; by default
  ``ref_build.py`` beside this file) with the reference python, a clean ``PYTHON*`` environment and
  this folder as working directory; raises :class:`ReferenceError` with the tail of its output if it
  fails. Write your own reference script beside ``ref_build.py`` and ``import ref_build`` in it to reuse
  ``build_reference``, ``randomize_``, ``load_checkpoint`` and ``network_outputs``.
* :func:`reference_networks(out_dir, models, seed, batch)` runs ``ref_build.py networks`` once per
  folder (cached by its ``manifest.json``) and returns ``{name: ReferenceNetwork}`` with the checkpoint
  path (load it with ``posekit.io.checkpoints.load_state_dict``), the outputs ``.npz`` and the reference
  state-dict shapes. The session fixture ``reference_networks`` in ``conftest.py`` wraps it.
* :func:`assert_close_to_scale(actual, expected, rel, what)`: ``max|a - e| <= rel * max|e|``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ENV_VAR = "POSEKIT_REFERENCE_PYTHON"
HERE = Path(__file__).resolve().parent
REF_BUILD = HERE / "ref_build.py"
NETWORKS = ("rtmw3d-l", "rtmw3d-x", "rtmdet-m")


class ReferenceError(RuntimeError):
    """A reference-venv script failed; the message carries its command and output tail."""


def reference_python() -> str | None:
    """The reference venv's python from ``$POSEKIT_REFERENCE_PYTHON``, or ``None`` if unusable."""
    path = os.environ.get(ENV_VAR, "")
    return path if path and os.path.isfile(path) and os.access(path, os.X_OK) else None


def skip_reason() -> str | None:
    """Why parity tests cannot run here, or ``None`` when they can."""
    path = os.environ.get(ENV_VAR)
    if not path:
        return (
            f"{ENV_VAR} is not set: parity tests need the OpenMMLab reference venv "
            "(build it with tests/parity/make-venv.sh DIR, then export "
            f"{ENV_VAR}=DIR/bin/python)"
        )
    if reference_python() is None:
        return f"{ENV_VAR}={path!r} is not an executable file"
    return None


def run_reference(
    script: str | os.PathLike = REF_BUILD, *args: str, timeout: float = 1800
) -> subprocess.CompletedProcess[str]:
    """Run ``script args...`` with the reference python; raise :class:`ReferenceError` on failure."""
    python = reference_python()
    if python is None:
        raise ReferenceError(skip_reason())
    # The reference venv must not see this venv's packages or settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONUNBUFFERED"] = "1"
    cmd = [python, str(script), *args]
    try:
        proc = subprocess.run(cmd, cwd=HERE, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ReferenceError(f"{' '.join(cmd)}: timed out after {timeout} s") from exc
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-4000:]
        raise ReferenceError(f"{' '.join(cmd)}: exit status {proc.returncode}\n{tail}")
    return proc


@dataclass(frozen=True)
class ReferenceNetwork:
    """What ``ref_build.py networks`` wrote for one model."""

    name: str
    checkpoint: Path
    outputs_path: Path
    config: str
    input_shape: tuple[int, ...]
    state_dict_shapes: dict[str, tuple[int, ...]]

    def outputs(self) -> dict[str, np.ndarray]:
        """``input`` and the reference outputs (``backbone.i``, ``neck.i``, ``head.*``), float32."""
        with np.load(self.outputs_path) as data:
            return {k: data[k] for k in data.files}


def reference_networks(
    out_dir: str | os.PathLike, models: Sequence[str] = NETWORKS, seed: int = 0, batch: int = 2
) -> dict[str, ReferenceNetwork]:
    """Random-weight reference checkpoints and outputs for ``models``, built once per ``out_dir``."""
    out_dir = Path(out_dir)
    manifest_path = out_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    if not set(models) <= set(manifest):
        run_reference(
            REF_BUILD,
            "networks",
            "--out",
            str(out_dir),
            "--models",
            *models,
            "--seed",
            str(seed),
            "--batch",
            str(batch),
        )
        manifest = json.loads(manifest_path.read_text())
    return {
        name: ReferenceNetwork(
            name=name,
            checkpoint=Path(entry["checkpoint"]),
            outputs_path=Path(entry["outputs"]),
            config=entry["config"],
            input_shape=tuple(entry["input_shape"]),
            state_dict_shapes={k: tuple(v) for k, v in entry["state_dict"].items()},
        )
        for name, entry in manifest.items()
        if name in models
    }


def assert_close_to_scale(actual: np.ndarray, expected: np.ndarray, rel: float = 1e-4, what: str = "") -> None:
    """Assert equal shapes and ``max|actual - expected| <= rel * max|expected|`` (all finite)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, reference {expected.shape}"
    assert np.isfinite(expected).all(), f"{what}: the reference holds non-finite values"
    scale = float(np.abs(expected).max())
    err = float(np.abs(actual.astype(np.float64) - expected).max())
    assert err <= rel * max(scale, 1e-12), (
        f"{what}: max abs error {err:.3g} exceeds {rel:g} x reference scale {scale:.3g} "
        f"(relative {err / max(scale, 1e-12):.3g})"
    )
