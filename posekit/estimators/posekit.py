"""``PoseKit``: the PoseKit app's 17-joint 2D detector (plus derived Pelvis and Neck) as a pose estimator.

``model(image)`` letterboxes the whole frame as the iOS app does and returns one person;
``model(image, bboxes=boxes)`` runs the network on one training-style square crop per box (the way to
multi-person PoseKit, with boxes from a person detector), batched. Keypoints come back in original-image
pixels in the ``COCO17+2`` skeleton; see :mod:`posekit.estimators.posekit_framing` for the two framings and
:mod:`posekit.estimators.posekit_decode` for the decoding.

Weights: an upstream training checkpoint (``.pth``), a ``.safetensors`` written by
:meth:`PoseKit.save_pretrained`, or the app's compiled Core ML model folder ``pkmodel.mlmodelc``; by default
``$POSEKIT_WEIGHTS_DIR`` is searched, then the app model is downloaded once from the PoseKit repository at a
pinned commit.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from posekit.estimators.base import DeviceLike, PrecisionLike, resolve_device, resolve_precision
from posekit.estimators.posekit_decode import HM_THRESHOLD, add_pelvis_neck, decode
from posekit.estimators.posekit_framing import (
    clamp_to_image,
    crop_transforms,
    invert_points,
    letterbox_transform,
    to_network_input,
    warp_images,
)
from posekit.io.atomic import atomic_path
from posekit.io.checkpoints import CheckpointError, load_into, load_state_dict, save_safetensors
from posekit.io.coreml import mlmodelc_state_dict
from posekit.io.hub import WEIGHTS_DIR_ENV, WeightsNotFoundError, find_local, url_file, weights_dir
from posekit.io.images import ImageLike, to_bgr
from posekit.models.posekit_net import INPUT_SIZE, PoseKitNet, fuse_batchnorm
from posekit.poses import Poses
from posekit.processing.people import check_boxes
from posekit.skeletons import POSEKIT_COCO17_2

UPSTREAM_REPO = "surinrasu/PoseKit"
UPSTREAM_COMMIT = "99a4ca5552b0d802586f1a11d4615bb691f9e8b5"
APP_MODEL_DIR = "PoseKitApp/Sources/PoseKitApp/Resources/Models/pkmodel.mlmodelc"
APP_MODEL_FILES = {  # every file of the compiled model at the pinned commit (plain git blobs, not LFS)
    "model.mil": "c03a8b0e78c60391c3ad6dae0784fdb6e3c8358a81161c4e2292113cb45fe50b",
    "weights/weight.bin": "8fc2a80dad8db1c2ef9e227fbf9ec33ab7ba265f4138ffef596719915455e438",
    "metadata.json": "6931a1f366a95059b368798ef596f6ae0ebdd6cf1a1f071f3c93175ca9ea29ff",
    "coremldata.bin": "5d48272839967144c5476b69910045d1e6f9de2d6d06fbe62d98f721bdb1fac3",
    "analytics/coremldata.bin": "fbe1f531e3065e4bd222ffe433453ca7ddd26817dd382db2758e20385dff3587",
}
SAFETENSORS_NAME = "posekit.safetensors"
LOCAL_NAMES = ("pkmodel.mlmodelc", SAFETENSORS_NAME, "last.pth")
"""Looked for, in order, in ``$POSEKIT_WEIGHTS_DIR`` (then upstream's per-epoch ``e<N>_valacc<acc>.pth``,
the best accuracy first)."""
_EPOCH_CHECKPOINT = re.compile(r"^e(\d+)_valacc([0-9.]+)\.pth$")


def _epoch_checkpoints(folder: Path) -> list[Path]:
    found = [
        (float(m[2].rstrip(".")), p) for p in folder.glob("e*_valacc*.pth") if (m := _EPOCH_CHECKPOINT.match(p.name))
    ]
    return [p for _, p in sorted(found, key=lambda t: -t[0])]


def find_weights(folder: Path) -> Path | None:
    """The PoseKit weights in ``folder``: the first of :data:`LOCAL_NAMES`, else the best epoch checkpoint."""
    local = find_local(list(LOCAL_NAMES), folder)
    if local is not None:
        return local
    epochs = _epoch_checkpoints(folder)
    return epochs[0] if epochs else None


def download_app_model() -> Path:
    """The app's ``pkmodel.mlmodelc`` at the pinned commit, downloaded once into the posekit cache."""
    root = f"https://raw.githubusercontent.com/{UPSTREAM_REPO}/{UPSTREAM_COMMIT}/{APP_MODEL_DIR}"
    cache = f"posekit-app/{UPSTREAM_COMMIT[:12]}/pkmodel.mlmodelc"
    paths = [url_file(f"{root}/{name}", f"{cache}/{name}", sha) for name, sha in APP_MODEL_FILES.items()]
    return paths[0].parent


def default_weights() -> Path:
    """``$POSEKIT_WEIGHTS_DIR``'s PoseKit weights, else the downloaded app model."""
    folder = weights_dir()
    if folder is not None:
        found = find_weights(folder)
        if found is not None:
            return found
    try:
        return download_app_model()
    except WeightsNotFoundError as exc:
        looked = f"{WEIGHTS_DIR_ENV}={folder}" if folder else f"{WEIGHTS_DIR_ENV} (unset)"
        raise WeightsNotFoundError(
            f"no PoseKit weights: looked in {looked} for {list(LOCAL_NAMES)} or e<N>_valacc<acc>.pth, and "
            f"the app model could not be fetched from github.com/{UPSTREAM_REPO} ({exc}). Copy "
            f"{APP_MODEL_DIR} from that repository into the folder named by {WEIGHTS_DIR_ENV}."
        ) from exc


def load_network(source: str | os.PathLike) -> PoseKitNet:
    """A :class:`PoseKitNet` (eval mode, CPU) from a ``.pth``, a ``.safetensors``, a ``*.mlmodelc`` folder,
    or a folder holding one of :data:`LOCAL_NAMES`. Checkpoints with BatchNorm keys load into the unfused
    network, others (Core ML, a saved fused model) into the fused one.

    Raises:
        CheckpointError: missing, unreadable or non-PoseKit weights (the message names the file).
    """
    path = Path(source)
    if not path.exists():
        raise CheckpointError(f"{path}: weights not found (expected a .pth, a .safetensors or a .mlmodelc folder)")
    if path.is_dir():
        if (path / "model.mil").is_file():
            return load_into(PoseKitNet(fused=True), mlmodelc_state_dict(path), path).eval()
        inner = find_weights(path)
        if inner is None:
            raise CheckpointError(
                f"{path}: expected a .mlmodelc folder (with model.mil) or a folder holding one of "
                f"{list(LOCAL_NAMES)}, found neither"
            )
        return load_network(inner)
    if path.suffix not in (".pth", ".pt", ".safetensors"):
        raise CheckpointError(f"{path}: expected a .pth/.pt or .safetensors checkpoint or a .mlmodelc folder")
    state = load_state_dict(path)
    fused = not any(k.endswith("running_mean") for k in state)
    return load_into(PoseKitNet(fused=fused), state, path).eval()


class PoseKit:
    """The PoseKit 2D pose detector: callable ``model(image, bboxes=None) -> Poses``.

    Args:
        net: the network (unfused or fused), on any device; it is kept as given for :meth:`save_pretrained`.
        device: ``"auto"`` (CUDA when present; the default), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` (see
            :mod:`posekit.estimators.base`); tensors stay there until the decoded joints (B x 17 x 3 values).
        precision: ``"auto"`` (float32: the mobile model is cheap, and its low scores sit near the decoder's
            0.1 cut-off), ``"fp32"`` or ``"fp16"`` (CUDA only).
        fuse: fold BatchNorm into the convolutions with channels-last memory (the default; same outputs up to
            float rounding), or run the network as given.
        compile: also ``torch.compile`` it: a one-off compilation of about a minute, then faster.
        batch_size: crops per forward pass in :meth:`predict_batch` (on 2 CPU cores, batches of 4 to 8 ran
            fastest per crop: larger ones spill the caches).
    """

    skeleton = POSEKIT_COCO17_2
    input_size = INPUT_SIZE

    def __init__(
        self,
        net: PoseKitNet,
        device: DeviceLike = "auto",
        precision: PrecisionLike = "auto",
        fuse: bool = True,
        compile: bool = False,
        batch_size: int = 8,
    ):
        self.device = resolve_device(device)
        auto = precision is None or precision == "auto"
        self.dtype = torch.float32 if auto else resolve_precision(precision, self.device, ("fp32", "fp16"))
        if batch_size < 1:
            raise ValueError(f"batch_size: expected >= 1, got {batch_size}")
        self.net = net.eval()
        self.fuse = fuse
        self.compile = compile
        self.batch_size = batch_size
        self.runner = self._build_runner()

    def _build_runner(self) -> torch.nn.Module:
        if not self.fuse:
            runner = self.net.to(self.device, self.dtype)
        else:
            runner = fuse_batchnorm(self.net.float().cpu()).to(self.device, self.dtype)
            runner = runner.to(memory_format=torch.channels_last)
        return torch.compile(runner) if self.compile else runner

    @classmethod
    def from_pretrained(
        cls,
        source: str | os.PathLike | None = None,
        device: DeviceLike = "auto",
        precision: PrecisionLike = "auto",
        fuse: bool = True,
        compile: bool = False,
        batch_size: int = 8,
    ) -> PoseKit:
        """Load weights (see :func:`load_network`; None: :func:`default_weights`) and build the detector;
        the other arguments as for the class."""
        resolve_device(device)  # an unavailable device fails before any file is read or fetched
        path = Path(source) if source is not None else default_weights()
        return cls(load_network(path), device, precision, fuse=fuse, compile=compile, batch_size=batch_size)

    def save_pretrained(self, folder: str | os.PathLike) -> Path:
        """Write the network's state dict as ``folder/posekit.safetensors`` (atomically); returns its path."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / SAFETENSORS_NAME
        with atomic_path(target, suffix=".safetensors") as tmp:
            save_safetensors(self.net.state_dict(), tmp)
        return target

    @torch.inference_mode()
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run the (optimised) network: (B, 3, 192, 192) RGB 0..255 -> heatmaps, centers, regs, offsets."""
        x = x.to(self.device, self.dtype)
        x = x.contiguous(memory_format=torch.channels_last) if self.fuse else x.contiguous()
        return self.runner(x)

    def __call__(self, image: ImageLike, bboxes: np.ndarray | Sequence | None = None) -> Poses:
        """Poses of one image.

        Args:
            image: anything :func:`posekit.io.images.to_bgr` accepts (BGR array, path, PIL image).
            bboxes: None to letterbox the whole frame (one person, as the app), or (M, 4) ``[x1, y1, x2, y2]``
                pixel boxes: one person per box, from its square crop.

        Returns:
            :class:`Poses` in ``COCO17+2``: keypoints in original pixels, scores (0 for joints not found),
            bboxes (the given boxes, or for the letterbox the box of the found joints, else the whole frame),
            bbox_scores (1 for given boxes, the centre-heatmap peak for the letterbox).
        """
        return self.predict_batch([image], [bboxes])[0]

    def predict_batch(
        self, images: Sequence[ImageLike], bboxes: Sequence[np.ndarray | Sequence | None] | None = None
    ) -> list[Poses]:
        """Poses of several images, all crops (or letterboxed frames) run in batches of ``batch_size``.

        Args:
            images: a list of images.
            bboxes: one entry per image: None (letterbox the frame) or (M, 4) boxes; None means None for all.
        """
        if bboxes is None:
            bboxes = [None] * len(images)
        if len(bboxes) != len(images):
            raise ValueError(f"bboxes: expected one entry per image ({len(images)}), got {len(bboxes)}")
        frames = [to_bgr(image) for image in images]
        boxes = [None if b is None else check_boxes(b, f"bboxes[{i}]", np.float64) for i, b in enumerate(bboxes)]
        transforms = [
            letterbox_transform(f.shape[1], f.shape[0])[None] if b is None else crop_transforms(b)
            for f, b in zip(frames, boxes, strict=True)
        ]
        keypoints, scores, center_scores = self._run(frames, transforms)
        results, start = [], 0
        for frame, box, transform in zip(frames, boxes, transforms, strict=True):
            stop = start + len(transform)
            results.append(
                self._poses(
                    frame,
                    box,
                    transform,
                    keypoints[start:stop],
                    scores[start:stop],
                    center_scores[start:stop],
                )
            )
            start = stop
        return results

    def _run(self, frames: list[np.ndarray], transforms: list[np.ndarray]) -> tuple[np.ndarray, ...]:
        """Warp, run and decode every crop: (N, 17, 2) input pixels, (N, 17) scores, (N,) centre scores."""
        jobs = [(i, j) for i, t in enumerate(transforms) for j in range(len(t))]
        out_k, out_s, out_c = [np.zeros((0, 17, 2))], [np.zeros((0, 17))], [np.zeros((0,))]
        for start in range(0, len(jobs), self.batch_size):
            chunk = jobs[start : start + self.batch_size]
            crops = np.concatenate([warp_images(frames[i], transforms[i][j : j + 1]) for i, j in chunk])
            decoded = decode(*self.forward(to_network_input(crops, self.device, self.dtype)))
            out_k.append(decoded.keypoints.double().cpu().numpy() * self.input_size)
            out_s.append(decoded.scores.cpu().numpy())
            out_c.append(decoded.center_score.cpu().numpy())
        return np.concatenate(out_k), np.concatenate(out_s), np.concatenate(out_c)

    def _poses(
        self,
        frame: np.ndarray,
        boxes: np.ndarray | None,
        transform: np.ndarray,
        keypoints: np.ndarray,
        scores: np.ndarray,
        center_scores: np.ndarray,
    ) -> Poses:
        height, width = frame.shape[:2]
        points = invert_points(keypoints, transform)
        if boxes is None:
            points = clamp_to_image(points, width, height)
        points, scores = add_pelvis_neck(points, scores)
        if boxes is None:
            valid = scores[0] >= HM_THRESHOLD
            found = points[0][valid]
            box = [*found.min(0), *found.max(0)] if len(found) else [0, 0, width - 1, height - 1]
            boxes, box_scores, framing = np.array([box]), center_scores, "letterbox"
        else:
            box_scores, framing = np.ones(len(boxes)), "crop"
        return Poses(
            keypoints_2d=points,
            scores=scores,
            bboxes=boxes,
            bbox_scores=box_scores,
            skeleton=self.skeleton,
            image_size=(width, height),
            meta={"model": "posekit", "framing": framing},
        )
