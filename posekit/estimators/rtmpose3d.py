"""RTMPose3D: whole-body 3D pose with RTMW3D-L/X and the RTMDet-M person detector, in plain PyTorch.

The API of the RTMPose3D wrapper (``RTMPose3D.from_pretrained``, ``RTMPose3DInference``, ``model(image,
return_tensors="np")``) on posekit's own networks, with mmpose's numerics:

>>> model = RTMPose3D.from_pretrained("rbarac/rtmpose3d")      # or a folder, or $POSEKIT_WEIGHTS_DIR
>>> poses = model(image_bgr)                                   # posekit.Poses, COCO-WholeBody 133
>>> seed_dict = model(image_bgr, return_tensors="np")          # the wrapper's dict (Z-up 3D)

3D. RTMW3D predicts, per keypoint, image pixels (u, v) and a depth z_rel relative to the root (the hips'
mid-point), in metres. mmpose's ``TopdownPoseEstimator3D`` places the root at ``root_z = 5.14388`` m (the
mean root depth of its training data) and back-projects ``X = (u - cx) / fx * Z``, ``Y = (v - cy) / fy * Z``
with ``Z = z_rel + root_z``, f = (1145.04940459, 1143.78109572) px and c = the image centre. mmpose computes
that centre as ``ori_shape / 2`` with ``ori_shape = (h, w)``, i.e. ``cx = h / 2, cy = w / 2`` (swapped);
posekit uses ``cx = w / 2, cy = h / 2``. For a landscape 640 x 480 image the two differ by 80 px in each
coordinate, which shifts mmpose's X and Y by ``80 / 1145 * Z`` (~0.36 m at 5.1 m): the shape of the
skeleton is the same, its position differs. Give ``camera=(fx, fy, cx, cy)`` and ``root_depth=`` (e.g.
measured) to place the skeleton in a real camera: ``keypoints_3d = backproject(keypoints_2d, z_rel +
root_depth, camera)``, and ``meta["intrinsics"]``, ``meta["root_depth"]`` record what was used, so that
``keypoints_3d[..., 2] - meta["root_depth"]`` gives z_rel back.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from posekit.coords import backproject
from posekit.estimators.base import DeviceLike, PrecisionLike, resolve_device
from posekit.estimators.detector import (
    DEFAULT_REPO,
    DETECTOR_FILE,
    NetworkRunner,
    PersonDetector,
    resolve_checkpoint,
)
from posekit.estimators.simcc import ROOT_Z, decode_simcc3d
from posekit.estimators.topdown import (
    bbox_to_center_scale,
    image_to_tensor,
    normalize_crops,
    warp_affine,
    warp_matrices,
)
from posekit.io.atomic import atomic_path, atomic_write
from posekit.io.checkpoints import load_into, load_state_dict, save_safetensors
from posekit.io.images import ImageLike, to_bgr
from posekit.models.rtmw3d import RTMW3D, rtmw3d_l, rtmw3d_x
from posekit.poses import Poses
from posekit.processing.people import check_boxes, pick_main_box, select_people
from posekit.skeletons import COCO_WHOLEBODY

POSE_FILES = {
    "l": "rtmw3d-l_8xb64_cocktail14-384x288-794dbc78_20240626.pth",
    "x": "rtmw3d-x_8xb64_cocktail14-384x288-b0a0eab7_20240626.pth",
}
_FACTORIES = {"l": rtmw3d_l, "x": rtmw3d_x}
_ALIASES = {
    "rtmpose3d-l": "l", "rtmpose3d-large": "l", "rtmw3d-l": "l",
    "rtmpose3d-x": "x", "rtmpose3d-xlarge": "x", "rtmw3d-x": "x",
}  # fmt: skip
DEFAULT_FOCAL = (1145.04940459, 1143.78109572)
"""mmpose's default focal lengths (fx, fy) in pixels for RTMW3D's 3D output."""
CONFIG_NAME = "config.json"
FORMAT_VERSION = 1


def _model_size(size: str) -> str:
    key = str(size).lower()
    if key not in POSE_FILES:
        raise ValueError(f"model_size: expected 'l' or 'x', got {size!r}")
    return key


def _intrinsics(camera: Sequence[float] | None, width: int, height: int) -> tuple[list[float], str]:
    if camera is None:
        return [DEFAULT_FOCAL[0], DEFAULT_FOCAL[1], width / 2.0, height / 2.0], "default"
    values = np.asarray(camera, dtype=np.float64).reshape(-1)
    if values.shape != (4,) or not np.isfinite(values).all() or values[0] <= 0 or values[1] <= 0:
        raise ValueError(f"camera: expected (fx, fy, cx, cy) in pixels with fx, fy > 0, got {camera!r}")
    return [float(v) for v in values], "given"


def _root_depths(root_depth: float | Sequence[float] | None, n: int) -> tuple[np.ndarray, Any]:
    if root_depth is None:
        return np.full(n, ROOT_Z), ROOT_Z
    values = np.asarray(root_depth, dtype=np.float64)
    if values.ndim == 0:
        if not np.isfinite(values) or values <= 0:
            raise ValueError(f"root_depth: expected a positive depth in metres, got {root_depth!r}")
        return np.full(n, float(values)), float(values)
    if values.shape != (n,) or not np.isfinite(values).all():
        raise ValueError(f"root_depth: expected one number, or one per person ({n}), got shape {values.shape}")
    return values, values.tolist()


def clear_cache(cache_dir: str | os.PathLike | None = None, repo_id: str = DEFAULT_REPO) -> list[Path]:
    """Delete the Hugging Face cache of ``repo_id`` (the downloaded checkpoints); return what was removed.

    ``$POSEKIT_WEIGHTS_DIR`` is the user's own folder and is never touched.
    """
    from huggingface_hub import constants

    root = Path(cache_dir).expanduser() if cache_dir is not None else Path(constants.HF_HUB_CACHE)
    folder = root / ("models--" + repo_id.replace("/", "--"))
    if folder.is_dir():
        shutil.rmtree(folder)
        return [folder]
    return []


class RTMPose3DInference:
    """RTMW3D whole-body 3D pose estimation with the RTMDet-M person detector.

    Args:
        model_size: ``"l"`` (RTMW3D-L, default) or ``"x"`` (RTMW3D-X).
        detector_checkpoint: the RTMDet-M checkpoint: None (the Hub repo / ``$POSEKIT_WEIGHTS_DIR``), a
            file, a folder, a URL or a repo id (see :func:`posekit.estimators.detector.resolve_checkpoint`).
        pose_checkpoint: the RTMW3D checkpoint, likewise.
        device: ``"auto"`` (CUDA when present, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` (see
            :mod:`posekit.estimators.base`; CUDA where there is none raises ``DeviceUnavailableError``).
        cache_dir: Hugging Face cache folder for downloads.
        precision: ``"auto"``, ``"fp32"``, ``"fp16"``, ``"bf16"`` or a torch dtype: float16 (autocast) on CUDA
            and float32 on CPU by default; ``"bf16"`` opts into bfloat16 autocast (about twice as fast on CPUs with
            AVX-512 BF16 / AMX; how far its keypoints
            stray from float32 on the trained weights is not yet measured: ``benchmarks/bench_rtmw3d.py``).
        repo_id: the Hub repo the default files come from.
        pose_batch_size: person crops per forward pass.
        fuse, channels_last, compile: see :class:`posekit.estimators.detector.NetworkRunner`.

    Raises:
        posekit.io.hub.WeightsNotFoundError: a checkpoint cannot be found (the message says where it looked).
        posekit.io.checkpoints.CheckpointError: a checkpoint is truncated, corrupt, or of another model/size.

    Attributes:
        detector: the RTMDet-M ``nn.Module``; pose_model: the RTMW3D ``nn.Module`` (``state_dict()`` keys
            equal the upstream checkpoints'). After changing their weights in place, call :meth:`refresh`.
        person_detector: the :class:`posekit.estimators.detector.PersonDetector` around ``detector``.
        skeleton: ``COCO_WHOLEBODY`` (133 keypoints).
    """

    skeleton = COCO_WHOLEBODY

    def __init__(
        self,
        model_size: str = "l",
        detector_checkpoint: str | os.PathLike | None = None,
        pose_checkpoint: str | os.PathLike | None = None,
        device: DeviceLike = "auto",
        cache_dir: str | os.PathLike | None = None,
        precision: PrecisionLike = "auto",
        *,
        repo_id: str = DEFAULT_REPO,
        pose_batch_size: int = 32,
        fuse: bool = True,
        channels_last: bool = True,
        compile: bool = False,
    ) -> None:
        self.model_size = _model_size(model_size)
        self.repo_id = repo_id
        self.cache_dir = cache_dir
        self.pose_batch_size = max(1, int(pose_batch_size))
        device = resolve_device(device)  # before any file is read: a missing GPU is the first thing to fix
        # Find both files before loading either, so that a missing one fails fast.
        detector_path = resolve_checkpoint(detector_checkpoint, DETECTOR_FILE, repo_id, cache_dir)
        pose_path = resolve_checkpoint(pose_checkpoint, POSE_FILES[self.model_size], repo_id, cache_dir)
        pose = _FACTORIES[self.model_size]()
        load_into(pose, load_state_dict(pose_path), pose_path)
        options = {"fuse": fuse, "channels_last": channels_last, "compile": compile}
        self.person_detector = PersonDetector.from_pretrained(
            detector_path, device=device, precision=precision, **options
        )
        self.pose_runner = NetworkRunner(pose, device, precision, **options)
        self.checkpoints = {"detector": detector_path, "pose": pose_path}

    # ----------------------------------------------------------------------------------- loading, saving
    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike = DEFAULT_REPO,
        device: DeviceLike = "auto",
        model_size: str | None = None,
        cache_dir: str | os.PathLike | None = None,
        precision: PrecisionLike = "auto",
        **kwargs: Any,
    ) -> RTMPose3DInference:
        """Load RTMPose3D (Transformers-style).

        Args:
            pretrained_model_name_or_path: a Hub repo id (default ``rbarac/rtmpose3d``, whose upstream
                file names are looked up in ``$POSEKIT_WEIGHTS_DIR`` first), ``"rtmpose3d-l"`` /
                ``"rtmpose3d-x"``, a folder written by :meth:`save_pretrained`, a folder of upstream
                checkpoint files, or one RTMW3D checkpoint file (the detector then comes from the Hub).
            device, precision, cache_dir, kwargs: see the class.
            model_size: ``"l"`` or ``"x"``; default: the saved config's, the alias', else ``"l"``.
        """
        source = os.fspath(pretrained_model_name_or_path)
        path = Path(source).expanduser()
        common = {"device": device, "cache_dir": cache_dir, "precision": precision, **kwargs}
        if source.lower() in _ALIASES:
            return cls(model_size=model_size or _ALIASES[source.lower()], **common)
        if path.is_dir() and (path / CONFIG_NAME).is_file():
            config = _read_config(path / CONFIG_NAME)
            size = model_size or config["model_size"]
            return cls(
                model_size=size,
                detector_checkpoint=path / config["detector_weights"],
                pose_checkpoint=path / config["pose_weights"],
                **common,
            )
        if path.is_dir():
            return cls(model_size=model_size or "l", detector_checkpoint=path, pose_checkpoint=path, **common)
        if path.is_file():
            return cls(model_size=model_size or "l", pose_checkpoint=path, **common)
        return cls(model_size=model_size or "l", repo_id=source, **common)

    def save_pretrained(self, save_directory: str | os.PathLike) -> Path:
        """Write ``config.json`` and both networks' weights (``.safetensors``, upstream keys) to a folder
        that :meth:`from_pretrained` reloads without the network. Files are written to temporary names and
        renamed when complete; ``config.json`` comes last. Returns the folder."""
        folder = Path(save_directory).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        files = {
            "detector_weights": "rtmdet-m.safetensors",
            "pose_weights": f"rtmw3d-{self.model_size}.safetensors",
        }
        for key, module in (("detector_weights", self.detector), ("pose_weights", self.pose_model)):
            with atomic_path(folder / files[key]) as tmp:
                save_safetensors(module.state_dict(), tmp)
        config = {
            "model_type": "rtmpose3d",
            "format_version": FORMAT_VERSION,
            "model_size": self.model_size,
            "skeleton": self.skeleton.name,
            **files,
            "upstream_files": {"detector": DETECTOR_FILE, "pose": POSE_FILES[self.model_size]},
        }
        with atomic_write(folder / CONFIG_NAME) as f:
            f.write(json.dumps(config, indent=2))
        return folder

    def clear_cache(self) -> list[Path]:
        """Delete this model's downloads from the Hugging Face cache (see :func:`clear_cache`)."""
        return clear_cache(self.cache_dir, self.repo_id)

    # -------------------------------------------------------------------------------- device, precision
    @property
    def detector(self) -> torch.nn.Module:
        return self.person_detector.model

    @property
    def pose_model(self) -> RTMW3D:
        return self.pose_runner.module

    @property
    def device(self) -> torch.device:
        return self.pose_runner.device

    @property
    def dtype(self) -> torch.dtype:
        return self.pose_runner.dtype

    def to(self, device: DeviceLike = None, precision: PrecisionLike = None) -> RTMPose3DInference:
        """Move both networks to ``device`` and/or switch the precision; returns self."""
        self.person_detector.to(device, precision)
        self.pose_runner.to(device, precision)
        return self

    def refresh(self) -> None:
        """Rebuild the inference copies (BN folded) after editing ``detector``/``pose_model`` weights."""
        self.person_detector.runner.refresh()
        self.pose_runner.refresh()

    # ------------------------------------------------------------------------------------------ inference
    def __call__(
        self,
        image: ImageLike,
        bbox_thr: float = 0.3,
        single_person: bool = False,
        bboxes: np.ndarray | Sequence[Sequence[float]] | None = None,
        return_tensors: Literal["np", "pt"] | None = None,
        camera: Sequence[float] | None = None,
        root_depth: float | Sequence[float] | None = None,
    ) -> Poses | dict[str, Any]:
        """Whole-body 3D poses of the people in one image.

        Args:
            image: BGR uint8 (H, W, 3) array (OpenCV's order; convert RGB first), a path or a PIL image.
            bbox_thr: keep detections whose score is above this.
            single_person: keep only the most prominent person (largest box area x score).
            bboxes: (M, 4) ``[x1, y1, x2, y2]`` pixels: skip the detector and use these (score 1); an empty
                array means nobody.
            return_tensors: None for a :class:`posekit.Poses`; ``"np"`` / ``"pt"`` for the RTMPose3D
                wrapper's dict (``keypoints_3d`` Z-up, ``keypoints_2d``, ``scores``, ``bboxes``; numpy
                arrays, or tensors on the model's device).
            camera: ``(fx, fy, cx, cy)`` in pixels of this image; default mmpose's focal lengths and the
                image centre (see the module docstring).
            root_depth: depth of the root (hips' mid-point) in metres, one number or one per person;
                default 5.14388.

        Returns:
            Poses with N people (N = 0 if nobody): ``keypoints_2d`` (N, 133, 2) pixels, ``scores`` (N, 133)
            (RTMW3D's raw SimCC maxima, ~0..1, can be < 0), ``keypoints_3d`` (N, 133, 3) camera frame metres
            (``space_3d="model"``), ``bboxes``, ``bbox_scores``, ``meta`` with ``intrinsics``,
            ``root_depth`` and ``model``.
        """
        if return_tensors not in (None, "np", "pt"):
            raise ValueError(f"return_tensors: expected None, 'np' or 'pt', got {return_tensors!r}")
        poses = self.predict_batch(
            [image],
            [bboxes],
            bbox_thr=bbox_thr,
            single_person=single_person,
            camera=camera,
            root_depth=root_depth,
        )[0]
        if return_tensors is None:
            return poses
        return poses.to_dict(return_tensors, device=self.device)

    forward = __call__

    def predict_batch(
        self,
        images: Sequence[ImageLike],
        bboxes: Sequence[np.ndarray | Sequence[Sequence[float]] | None] | None = None,
        bbox_thr: float = 0.3,
        single_person: bool = False,
        camera: Sequence[float] | None = None,
        root_depth: float | Sequence[float] | None = None,
    ) -> list[Poses]:
        """:meth:`__call__` for several images: one detector batch for the images without boxes, then all
        person crops of all images through RTMW3D ``pose_batch_size`` at a time.

        Args:
            images: the images.
            bboxes: per image, (M, 4) boxes or None (detect); None: detect in every image.
            bbox_thr, single_person, camera, root_depth: as for :meth:`__call__`, the same for every image.

        Returns:
            One :class:`posekit.Poses` per image.
        """
        bgr = [to_bgr(im) for im in images]
        if bboxes is None:
            bboxes = [None] * len(bgr)
        if len(bboxes) != len(bgr):
            raise ValueError(f"bboxes: expected one entry (array or None) per image ({len(bgr)}), got {len(bboxes)}")
        boxes: list[np.ndarray] = [np.zeros((0, 4), np.float32)] * len(bgr)
        scores: list[np.ndarray] = [np.zeros(0, np.float32)] * len(bgr)
        for i, given in enumerate(bboxes):
            if given is not None:
                boxes[i] = check_boxes(given, f"bboxes[{i}]")
                scores[i] = np.ones(len(boxes[i]), np.float32)
        todo = [i for i, given in enumerate(bboxes) if given is None]
        detections = self.person_detector.detect_batch([bgr[i] for i in todo]) if todo else []
        for i, (found, found_scores) in zip(todo, detections, strict=True):
            boxes[i], scores[i] = select_people(found, found_scores, bbox_thr)
        if single_person:
            for i in range(len(bgr)):
                if len(boxes[i]) > 1:
                    best = pick_main_box(boxes[i], scores[i])
                    boxes[i], scores[i] = boxes[i][best : best + 1], scores[i][best : best + 1]
        keypoints_2d, z_rel, kpt_scores = self._estimate(bgr, boxes)
        out = []
        start = 0
        for image, b, s in zip(bgr, boxes, scores, strict=True):
            end = start + len(b)
            out.append(
                self._poses(
                    image,
                    b,
                    s,
                    keypoints_2d[start:end],
                    z_rel[start:end],
                    kpt_scores[start:end],
                    camera,
                    root_depth,
                )
            )
            start = end
        return out

    def _estimate(self, images: list[np.ndarray], boxes: list[np.ndarray]) -> tuple[np.ndarray, ...]:
        """RTMW3D on all crops: (P, 133, 2) image pixels, (P, 133) root-relative depth, (P, 133) scores."""
        crops, centers, scales = [], [], []
        for image, b in zip(images, boxes, strict=True):
            if len(b) == 0:
                continue
            center, scale = bbox_to_center_scale(b)
            crops.append(warp_affine(image_to_tensor(image, self.device), warp_matrices(center, scale)))
            centers.append(center)
            scales.append(scale)
        k = self.skeleton.num_keypoints
        if not crops:
            return np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32), np.zeros((0, k), np.float32)
        all_crops = torch.cat(crops)
        center_t = torch.from_numpy(np.concatenate(centers)).to(self.device)
        scale_t = torch.from_numpy(np.concatenate(scales)).to(self.device)
        parts = []
        for start in range(0, len(all_crops), self.pose_batch_size):
            part = slice(start, start + self.pose_batch_size)
            simcc_x, simcc_y, simcc_z = self.pose_runner(normalize_crops(all_crops[part]))
            decoded = decode_simcc3d(simcc_x, simcc_y, simcc_z, center_t[part], scale_t[part])
            parts.append([t.float().cpu().numpy() for t in decoded])
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))

    def _poses(
        self,
        image: np.ndarray,
        boxes: np.ndarray,
        box_scores: np.ndarray,
        keypoints_2d: np.ndarray,
        z_rel: np.ndarray,
        scores: np.ndarray,
        camera: Sequence[float] | None,
        root_depth: float | Sequence[float] | None,
    ) -> Poses:
        height, width = image.shape[:2]
        intrinsics, source = _intrinsics(camera, width, height)
        depths, depth_meta = _root_depths(root_depth, len(boxes))
        keypoints_3d = backproject(keypoints_2d.astype(np.float64), z_rel + depths[:, None], tuple(intrinsics))
        return Poses(
            keypoints_2d=keypoints_2d,
            scores=scores,
            bboxes=boxes,
            bbox_scores=box_scores,
            skeleton=self.skeleton,
            keypoints_3d=keypoints_3d,
            space_3d="model",
            image_size=(width, height),
            meta={
                "intrinsics": intrinsics,
                "intrinsics_source": source,
                "root_depth": depth_meta,
                "model": f"rtmw3d-{self.model_size}",
            },
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model_size={self.model_size!r}, device={str(self.device)!r}, "
            f"dtype={self.dtype}, num_keypoints={self.skeleton.num_keypoints})"
        )


class RTMPose3D(RTMPose3DInference):
    """The Transformers-style name of :class:`RTMPose3DInference`: ``RTMPose3D.from_pretrained(...)``."""


def _read_config(path: Path) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: expected the JSON written by save_pretrained, could not read it ({exc})") from exc
    needed = ("model_size", "detector_weights", "pose_weights")
    if not isinstance(config, dict) or config.get("model_type") != "rtmpose3d" or any(k not in config for k in needed):
        raise ValueError(f"{path}: expected an RTMPose3D config with model_type 'rtmpose3d' and keys {needed}")
    return config
