"""``PersonDetector``: RTMDet-M (person only), the detector of the RTMPose3D pipeline, in plain PyTorch.

>>> detector = PersonDetector.from_pretrained()          # rbarac/rtmpose3d, or $POSEKIT_WEIGHTS_DIR
>>> boxes, scores = detector(image_bgr)                  # (M, 4) xyxy float32 pixels, (M,) float32

Numerics follow mmdet 3.3 exactly (see :mod:`posekit.estimators.rtmdet_post`); the network runs from a copy
with BatchNorm folded into the convolutions (:class:`NetworkRunner`), in float32 on the CPU and float16
autocast on CUDA unless told otherwise.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from posekit.estimators.base import DeviceLike, PrecisionLike, resolve_device, resolve_precision
from posekit.estimators.rtmdet_post import (
    DetectorPostprocess,
    normalize_images,
    postprocess_image,
    resize_and_pad,
)
from posekit.io import hub
from posekit.io.checkpoints import load_into, load_state_dict
from posekit.io.images import ImageLike, to_bgr
from posekit.models.fuse import optimize_for_inference
from posekit.models.rtmdet import RTMDet, rtmdet_m

DEFAULT_REPO = "rbarac/rtmpose3d"
DETECTOR_FILE = "rtmdet_m_8xb32-100e_coco-obj365-person-235e8209.pth"
PERSON_LABEL = 0
PERSON_POSTPROCESS = DetectorPostprocess()
"""mmpose's person-detector test settings: score > 0.05, 1000 candidates per level, NMS IoU 0.6, 100 boxes."""


def resolve_checkpoint(
    source: str | os.PathLike | None,
    filename: str,
    repo_id: str = DEFAULT_REPO,
    cache_dir: str | os.PathLike | None = None,
) -> Path:
    """Where a checkpoint comes from.

    Args:
        source: None (``filename`` from ``repo_id``: ``$POSEKIT_WEIGHTS_DIR`` first, then the Hugging Face
            cache/Hub), a local file, a local folder holding ``filename``, an ``http(s)://`` URL (downloaded
            once into ``$POSEKIT_CACHE``) or a Hub repo id ``owner/name``.
        filename: the upstream file name to look for.
        repo_id: the default Hub repo.
        cache_dir: Hugging Face cache folder (default: the hub's own).

    Raises:
        posekit.io.hub.WeightsNotFoundError: nothing found; the message says where it looked.
    """
    if source is None:
        return hub.hf_file(repo_id, filename, cache_dir)
    text = os.fspath(source)
    if text.startswith(("http://", "https://")):
        return hub.url_file(text, f"rtmpose3d/{text.rsplit('/', 1)[-1]}")
    path = Path(text).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        if (path / filename).is_file():
            return path / filename
        raise hub.WeightsNotFoundError(f"{path}: expected the folder to hold {filename!r}; it does not")
    looks_like_file = path.suffix in (".pth", ".pt", ".safetensors", ".bin")
    if text.count("/") == 1 and not looks_like_file and not text.startswith((".", "/", "~")):
        return hub.hf_file(text, filename, cache_dir)
    raise hub.WeightsNotFoundError(
        f"{text!r}: expected a checkpoint file, a folder holding {filename!r}, a URL or a Hub repo id "
        "'owner/name'; no such file or folder"
    )


class NetworkRunner:
    """Runs a checkpoint-keyed network for inference on one device, in one precision.

    The module given stays as it is (its ``state_dict()`` keeps the checkpoint's keys); inference uses a
    copy with BatchNorm folded into the convolutions and channels-last weights (``posekit.models.fuse``),
    optionally ``torch.compile``-d, built at the first call and after :meth:`to` or :meth:`refresh`.
    float16/bfloat16 run under ``torch.autocast`` (norms and softmax stay float32), with the copy's conv and
    linear weights stored in that dtype.

    Args:
        module: the network (eval mode is set).
        device: where it runs (see :func:`posekit.estimators.base.resolve_device`).
        precision: compute precision (see :func:`posekit.estimators.base.resolve_precision`).
        fuse: fold BatchNorm into the convolutions.
        channels_last: channels-last weights and inputs.
        compile: wrap the copy in ``torch.compile`` (needs a C++ compiler on CPU; first call is slow).
    """

    def __init__(
        self,
        module: nn.Module,
        device: DeviceLike = "auto",
        precision: PrecisionLike = "auto",
        fuse: bool = True,
        channels_last: bool = True,
        compile: bool = False,
    ) -> None:
        self.device = resolve_device(device)
        self.dtype = resolve_precision(precision, self.device)
        self.module = module.to(self.device).eval()
        self.fuse = fuse
        self.channels_last = channels_last
        self.compile = compile
        self._network: Callable[[torch.Tensor], Any] | None = None

    def refresh(self) -> None:
        """Rebuild the inference copy at the next call (after changing the module's weights)."""
        self._network = None

    def to(self, device: DeviceLike = None, precision: PrecisionLike = None) -> NetworkRunner:
        """Move to ``device`` and/or switch the precision (the device's default if only moving)."""
        if device is not None:
            self.device = resolve_device(device)
            self.module.to(self.device)
        if precision is not None or device is not None:
            self.dtype = resolve_precision(precision, self.device)
        self.refresh()
        return self

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def network(self) -> Callable[[torch.Tensor], Any]:
        """The inference copy (built on first use)."""
        if self._network is None:
            net = optimize_for_inference(self.module, fold_bn=self.fuse, channels_last=self.channels_last)
            if self.dtype != torch.float32:
                # Autocast would cast every conv/linear weight on every call; cast them once instead.
                # Everything else (norm scales, offsets) stays float32, as autocast expects.
                for layer in net.modules():
                    if isinstance(layer, (nn.Conv2d, nn.Linear)):
                        layer.to(self.dtype)
            # Freezing lets inductor treat the weights as constants (prepacked, folded) for inference.
            self._network = torch.compile(net, options={"freezing": True}) if self.compile else net
        return self._network

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def __call__(self, x: torch.Tensor) -> Any:
        with torch.inference_mode(), self.autocast():
            return self.network()(x.to(self.device, memory_format=self.memory_format))


def _chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


class PersonDetector:
    """RTMDet-M person detector with mmdet's pre- and post-processing.

    Args:
        model: an :class:`posekit.models.rtmdet.RTMDet` with weights loaded (default: random weights; use
            :meth:`from_pretrained` for the trained ones).
        device, precision: see :mod:`posekit.estimators.base` (default: CUDA in float16 when present, else CPU
            in float32; ``"bf16"`` for bfloat16).
        postprocess: thresholds (mmpose's person config: score 0.05, NMS IoU 0.6, 100 boxes).
        batch_size: images per forward pass in :meth:`detect_batch`.
        fuse, channels_last, compile: see :class:`NetworkRunner`.

    Attributes:
        model: the network (``state_dict()`` keys equal the upstream checkpoint's).
    """

    def __init__(
        self,
        model: RTMDet | None = None,
        device: DeviceLike = "auto",
        precision: PrecisionLike = "auto",
        postprocess: DetectorPostprocess = PERSON_POSTPROCESS,
        batch_size: int = 8,
        fuse: bool = True,
        channels_last: bool = True,
        compile: bool = False,
    ) -> None:
        self.runner = NetworkRunner(
            model if model is not None else rtmdet_m(),
            device,
            precision,
            fuse=fuse,
            channels_last=channels_last,
            compile=compile,
        )
        self.postprocess = postprocess
        self.batch_size = max(1, int(batch_size))

    @classmethod
    def from_pretrained(
        cls,
        checkpoint: str | os.PathLike | None = None,
        device: DeviceLike = "auto",
        precision: PrecisionLike = "auto",
        cache_dir: str | os.PathLike | None = None,
        repo_id: str = DEFAULT_REPO,
        **kwargs: Any,
    ) -> PersonDetector:
        """The trained person detector.

        Args:
            checkpoint: None (``rtmdet_m_8xb32-100e_coco-obj365-person-235e8209.pth`` from
                ``$POSEKIT_WEIGHTS_DIR`` or the Hub repo), a file (upstream ``.pth`` or ``.safetensors``), a
                folder holding that file, a URL or another Hub repo id (see :func:`resolve_checkpoint`).
            device, precision, kwargs: see the class.
            cache_dir: Hugging Face cache folder.
            repo_id: the Hub repo for ``checkpoint=None``.

        Raises:
            posekit.io.hub.WeightsNotFoundError: no such file anywhere (the message lists where it looked).
            posekit.io.checkpoints.CheckpointError: the file is truncated, corrupt or not RTMDet-M's.
        """
        resolve_device(device)  # an unavailable device fails before any file is read
        path = resolve_checkpoint(checkpoint, DETECTOR_FILE, repo_id, cache_dir)
        model = rtmdet_m()
        load_into(model, load_state_dict(path), path)
        return cls(model, device=device, precision=precision, **kwargs)

    @property
    def model(self) -> RTMDet:
        return self.runner.module

    @property
    def device(self) -> torch.device:
        return self.runner.device

    @property
    def dtype(self) -> torch.dtype:
        return self.runner.dtype

    def to(self, device: DeviceLike = None, precision: PrecisionLike = None) -> PersonDetector:
        """Move to ``device`` and/or switch precision; returns self."""
        self.runner.to(device, precision)
        return self

    def __call__(self, image: ImageLike) -> tuple[np.ndarray, np.ndarray]:
        """Person boxes in one image.

        Args:
            image: BGR uint8 (H, W, 3) array, a path or a PIL image (see :func:`posekit.io.images.to_bgr`).

        Returns:
            boxes (M, 4) float32 ``[x1, y1, x2, y2]`` original-image pixels, and scores (M,) float32 in 0..1,
            by decreasing score (every detection above 0.05 after NMS; filter by score as needed).
        """
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[ImageLike]) -> list[tuple[np.ndarray, np.ndarray]]:
        """:meth:`__call__` for several images, ``batch_size`` of them per forward pass."""
        bgr = [to_bgr(im) for im in images]
        results: list[tuple[np.ndarray, np.ndarray]] = []
        for part in _chunks(len(bgr), self.batch_size):
            padded, factors = zip(*(resize_and_pad(im) for im in bgr[part]), strict=True)
            batch = torch.from_numpy(np.stack(padded)).to(self.device)
            cls_scores, bbox_preds = self.runner(normalize_images(batch))
            for i, factor in enumerate(factors):
                boxes, scores, labels = postprocess_image(
                    [c[i] for c in cls_scores], [b[i] for b in bbox_preds], factor, self.postprocess
                )
                person = labels == PERSON_LABEL
                results.append(
                    (
                        boxes[person].cpu().numpy().astype(np.float32),
                        scores[person].cpu().numpy().astype(np.float32),
                    )
                )
        return results
