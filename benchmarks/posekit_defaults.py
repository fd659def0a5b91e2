"""Measure posekit's default PoseKit path end to end with the real app model: people found, joints drawn and
right, empty images, presence rules, speed.

The default (``Settings(model="posekit")``, no detector) is :class:`posekit.pipelines.image.Framing`: the whole
frame letterboxed (the app's framing), a box around the joints found there (``boxes_from_keypoints`` at the
keypoint threshold), PoseKit again on that crop ("refine"), and the person kept when the mean of their 8 best
joint scores reaches ``min_presence``. What it prints (every figure computed here):

1. per input (the 4 COCO images whole, as a user uploads them; the 4 Human3.6M frames; each annotated COCO
   person as its own photo, the annotated box padded by 20% and cropped out): people found, joints drawn
   (score >= keypoint threshold, of 17) and how many of the annotated ones are right (within 0.1 x the box
   diagonal of the annotated person matched best), for (a) the whole frame only, (b) whole + refine (the
   default), (b2) a second refine, (c) crop framing on the annotated box (``model(image, bboxes=...)``, the
   upper bound without a detector); (d) the RTMDet-M detector path when its weights are found;
2. images without a person (blank, noise, gradients, person-free regions of the COCO images and of the
   street / posetrack frames, each at its own size and resized to 640x480 and 1280x720): false persons of the
   default path, and a sweep of presence rules (whole-frame / refined top-8 mean, joints drawn, box size)
   with margin = min(person) - max(empty), and the frames of the two videos where it finds a person;
3. frames per second of the default path (whole + refine) and of the whole frame only on the posetrack
   1280x720 frames, 2 then 1 torch threads, repeated (median and best round).

Run (weights: the app's ``pkmodel.mlmodelc`` in $POSEKIT_WEIGHTS_DIR; never commit it):

    POSEKIT_WEIGHTS_DIR=<folder with pkmodel.mlmodelc> python3 benchmarks/posekit_defaults.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path[:0] = [
    str(Path(__file__).resolve().parents[1]),
    str(Path(__file__).resolve().parents[1] / "tests"),
]  # this checkout

from generators.person_free import person_free_images, read_frames  # noqa: E402

CORRECT = 0.1  # a joint is right when within this fraction of the annotated box diagonal
TOPK = 8
LOCALIZED = 6  # a person input is localized when at least this many joints are drawn and right
SWEEP = (0.128, 0.15, 0.16, 0.165, 0.17, 0.175, 0.18, 0.19, 0.2, 0.21, 0.22)
# H36M joint order (mmpose h36m) -> COCO-17 index, for the 12 body joints both skeletons have.
H36M_TO_COCO = {11: 5, 14: 6, 12: 7, 15: 8, 13: 9, 16: 10, 4: 11, 1: 12, 5: 13, 2: 14, 6: 15, 3: 16}

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
"""The shared data beside a clone (``../shared/data``): coco/, video/, h36m/."""


def load_coco(folder: Path) -> tuple[dict[str, np.ndarray], list[dict]]:
    data = json.loads((folder / "test_coco.json").read_text())
    names = {im["id"]: im["file_name"] for im in data["images"]}
    images = {n: cv2.imread(str(folder / n)) for n in names.values()}
    people = []
    for ann in data["annotations"]:
        x, y, w, h = ann["bbox"]
        kp = np.array(ann["keypoints"], dtype=float).reshape(17, 3)
        if (kp[:, 2] > 0).any():
            people.append({"image": names[ann["image_id"]], "id": ann["id"], "box": [x, y, x + w, y + h],
                           "diag": float(np.hypot(w, h)), "xy": kp[:, :2], "v": kp[:, 2] > 0})  # fmt: skip
    return images, people


def load_h36m(folder: Path) -> list[tuple[str, np.ndarray, dict]]:
    d = np.load(folder / "test_h36m_body3d.npz")
    out = []
    for name, part in zip(d["imgname"], d["part"]):
        img = cv2.imread(str(folder / Path(str(name)).name))
        xy, v = np.zeros((17, 2)), np.zeros(17, bool)
        for h, c in H36M_TO_COCO.items():
            xy[c], v[c] = part[h, :2], True
        lo, hi = part[:, :2].min(0), part[:, :2].max(0)  # the joints' extent (head included) as the box
        out.append(
            (Path(str(name)).name, img, {"box": [*lo, *hi], "diag": float(np.hypot(*(hi - lo))), "xy": xy, "v": v})
        )
    return out


def person_inputs(
    images: dict, people: list[dict], h36m: list
) -> list[tuple[str, np.ndarray, list[dict], dict | None]]:
    """(label, image, annotated people, the one person of a person photo or None): COCO images whole, H36M
    frames, and each annotated COCO person as its own photo (the box padded by 20% a side, cropped out)."""
    inputs = []
    for name, img in images.items():
        inputs.append((f"coco {name[:12]} whole", img, [p for p in people if p["image"] == name], None))
    for name, img, p in h36m:
        inputs.append((f"h36m {name[:26]}", img, [p], None))
    for p in people:
        img = images[p["image"]]
        x1, y1, x2, y2 = p["box"]
        px, py = 0.2 * (x2 - x1), 0.2 * (y2 - y1)
        c = [
            max(0, int(x1 - px)),
            max(0, int(y1 - py)),
            min(img.shape[1], int(x2 + px)),
            min(img.shape[0], int(y2 + py)),
        ]
        sub = np.ascontiguousarray(img[c[1] : c[3], c[0] : c[2]])
        moved = {**p, "xy": p["xy"] - [c[0], c[1]], "box": [x1 - c[0], y1 - c[1], x2 - c[0], y2 - c[1]]}
        inputs.append((f"coco id {p['id']} photo", sub, [moved], moved))
    return inputs


class Runner:
    """The model's framings, each kept: whole frame, refine (the default's), a second refine, a given box."""

    def __init__(self, model, settings) -> None:
        from posekit.processing.tracking import boxes_from_keypoints

        self.model, self.kt, self.boxes_from_keypoints = model, settings.keypoint_threshold, boxes_from_keypoints

    def refine(self, image: np.ndarray, poses):
        h, w = image.shape[:2]
        box, _ = self.boxes_from_keypoints(poses.keypoints_2d, poses.scores, self.kt, image_size=(w, h))
        return (self.model.predict_batch([image], [box])[0], box[0]) if len(box) else (None, None)

    def __call__(self, image: np.ndarray) -> dict:
        whole = self.model.predict_batch([image], [None])[0]
        ref, box = self.refine(image, whole)
        ref2, _ = self.refine(image, ref) if ref is not None else (None, None)
        return {"whole": whole, "refine": ref, "refine2": ref2, "box": box}


def presence(poses) -> float:
    from posekit.processing.people import presence_scores

    return float(presence_scores(poses.scores)[0]) if poses is not None and len(poses) else 0.0


def drawn_right(poses, kt: float, people: list[dict], offset=(0.0, 0.0)) -> tuple[int, int, int, int]:
    """(drawn of 17, annotated, drawn & annotated, drawn & right) against the annotated person matched best."""
    if poses is None or not len(poses):
        return 0, 0, 0, 0
    xy, s = poses.keypoints_2d[0, :17] + np.asarray(offset), poses.scores[0, :17]
    drawn = s >= kt
    best = (-1, 0, 0)
    for p in people:
        err = np.linalg.norm(xy - p["xy"], axis=1) / p["diag"]
        key = (int((drawn & p["v"] & (err < CORRECT)).sum()), int((drawn & p["v"]).sum()), int(p["v"].sum()))
        best = max(best, key)
    return int(drawn.sum()), best[2], best[1], best[0]


def fmt(t) -> str:
    return f"{t[0]:2d} {t[2]:2d}/{t[1]:<2d} {t[3]:2d}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "shared" / "data",
        help="folder with coco/ video/ h36m/",
    )
    parser.add_argument("--repeats", type=int, default=5, help="timing rounds over the posetrack frames")
    args = parser.parse_args()
    if not os.environ.get("POSEKIT_WEIGHTS_DIR"):
        print("set POSEKIT_WEIGHTS_DIR to the folder holding the app's pkmodel.mlmodelc", file=sys.stderr)
        return 2
    os.environ.setdefault("POSEKIT_OFFLINE", "1")  # measure the local copy, never a download
    import torch

    from posekit import PoseKit
    from posekit.pipelines.image import Framing, estimate_image
    from posekit.pipelines.settings import Settings

    torch.set_num_threads(2)
    weights = os.environ["POSEKIT_WEIGHTS_DIR"]
    rerun = f"POSEKIT_WEIGHTS_DIR={weights} python3 benchmarks/posekit_defaults.py --data {args.data}"
    model = PoseKit.from_pretrained()
    settings = Settings(model="posekit")
    kt, mp = settings.keypoint_threshold, settings.min_presence
    run = Runner(model, settings)
    print(f"PoseKit (real app model), torch threads {torch.get_num_threads()}; defaults: keypoint_threshold {kt}, "
          f"min_presence {mp} (top-{TOPK} mean of the 19 scores, as Framing applies it)")  # fmt: skip

    images, people = load_coco(args.data / "coco")
    h36m = load_h36m(args.data / "h36m")
    positives: list[tuple[str, dict]] = []  # (label, features) of inputs with a person

    def features(label: str, image: np.ndarray, res: dict) -> dict:
        h, w = image.shape[:2]
        box = res["box"]
        f = {
            "whole": presence(res["whole"]),
            "refine": presence(res["refine"]),
            "refine2": presence(res["refine2"]),
            "n_whole": int((res["whole"].scores[0, :17] >= kt).sum()),
            "n_refine": int((res["refine"].scores[0, :17] >= kt).sum()) if res["refine"] is not None else 0,
            "box_frac": 0.0 if box is None else float(max(box[2] - box[0], box[3] - box[1]) / max(w, h)),
            "centre": float(res["whole"].bbox_scores[0]),
        }
        f["min_w_r"] = min(f["whole"], f["refine"])
        return f

    # ---------------------------------------------------------------- 1. people found, joints drawn / right
    print(f"\n== 1. Persons: found / joints drawn (of 17) / drawn among annotated / right (< {CORRECT} diag) ==")
    print("   cells: 'drawn annotated-drawn/annotated right'; found: default path's people (estimate_image)")
    cols = ("(a) whole", "(b) refine", "(b2) refine2", "(c) ann.box")
    print(f"{'input':<34}{'size':>10}{'found':>6}  " + "  ".join(f"{c:>12}" for c in cols))
    totals = {k: [0, 0, 0] for k in ("whole", "refine", "refine2", "crop")}
    inputs = person_inputs(images, people, h36m)
    found_default = []
    for label, img, anns, single in inputs:
        res = run(img)
        default = estimate_image(img, model, None, settings)
        found_default.append((label, len(default)))
        f = features(label, img, res)
        positives.append((label, f))
        f["right"] = drawn_right(res["refine"], kt, anns)[3]
        # The default path must be what Runner's refine is: same person, same joints.
        if len(default):
            assert np.allclose(default.keypoints_2d, res["refine"].keypoints_2d), label
        cells = {k: drawn_right(res[k], kt, anns) for k in ("whole", "refine", "refine2")}
        targets = anns if single is None else [single]
        crop = model(img, bboxes=np.array([p["box"] for p in targets]))
        per = [drawn_right(crop.select([i]), kt, [p]) for i, p in enumerate(targets)]
        best = max(range(len(per)), key=lambda i: (per[i][3], per[i][2]))
        cells["crop"] = per[best]
        f["crop"] = presence(crop.select([best]))
        for k, t in cells.items():
            totals[k][0] += t[2]
            totals[k][1] += t[3]
            totals[k][2] += t[2] >= min(12, t[1])
        h, w = img.shape[:2]
        print(f"{label:<34}{f'{w}x{h}':>10}{len(default):6d}  " + "  ".join(f"{fmt(cells[k]):>12}" for k in totals)
              + f"   presence w {f['whole']:.3f} r {f['refine']:.3f} c {f['crop']:.3f}")  # fmt: skip
    n_inp = len(inputs)
    print(f"{'totals: annotated joints drawn':<50}" + "  ".join(f"{totals[k][0]:>12d}" for k in totals))
    print(f"{'totals: drawn and right':<50}" + "  ".join(f"{totals[k][1]:>12d}" for k in totals))
    print(
        f"{'inputs with >= 12 (or all) annotated drawn':<50}" + "  ".join(f"{totals[k][2]:>9d}/{n_inp}" for k in totals)
    )
    print("(c) is the best-matched annotated person in crop framing on its annotated box (for whole COCO images, the")
    print("    person (c) reaches most right joints on)")
    try:
        from posekit.estimators.detector import PersonDetector

        detector = PersonDetector.from_pretrained()
    except Exception as exc:  # noqa: BLE001 - any reason the weights cannot be had is reported, not raised
        print(f"(d) the RTMDet-M detector path: skipped, no detector weights here ({str(exc).splitlines()[0][:100]})")
    else:
        dset = Settings(model="posekit", detector=True)
        print("(d) the RTMDet-M detector path (Settings(model='posekit', detector=True)): people found, best-matched")
        for label, img, anns, _ in inputs:
            d = estimate_image(img, model, detector, dset)
            per = [drawn_right(d.select([i]), kt, anns) for i in range(len(d))]
            print(f"  {label:<34}{len(d):4d} people  " + "  ".join(fmt(t) for t in per))
    missed = [lab for lab, n in found_default if n == 0]
    print(f"default path: a person found in {n_inp - len(missed)} of {n_inp} person inputs; missed: {missed or 'none'}")

    # ---------------------------------------------------------------- 2. images without a person
    print("\n== 2. Images without a person: the default path's false persons, and presence rules ==")
    negatives: list[tuple[str, dict]] = []
    empties = person_free_images(args.data)
    false_persons = []
    for label, img in empties:
        res = run(img)
        n = len(estimate_image(img, model, None, settings))
        negatives.append((label, features(label, img, res)))
        if n:
            false_persons.append(label)
    print(f"{len(empties)} empty inputs: the default path (min_presence {mp}) reports a person on {len(false_persons)}")
    for lab in false_persons:
        print(f"  false person: {lab}")
    print("highest-scoring empty inputs (refined top-8):")
    for lab, f in sorted(negatives, key=lambda x: -x[1]["refine"])[:8]:
        print(f"  {lab:<52} whole {f['whole']:.3f}  refine {f['refine']:.3f}  refine2 {f['refine2']:.3f}  "
              f"n {f['n_refine']:2d}  box {f['box_frac']:.2f}")  # fmt: skip
    print("lowest-scoring person inputs (refined top-8):")
    for lab, f in sorted(positives, key=lambda x: x[1]["refine"])[:6]:
        print(f"  {lab:<52} whole {f['whole']:.3f}  refine {f['refine']:.3f}  refine2 {f['refine2']:.3f}  "
              f"n {f['n_refine']:2d}  box {f['box_frac']:.2f}")  # fmt: skip

    # ---------------------------------------------------------------- 2b. video frames with people
    videos: list[tuple[str, dict]] = []
    print("\n== 2b. Video frames with people (no annotation): the default path's people and presence ==")
    for vid in ("street.mp4", "posetrack_000001.mp4"):
        for fi, fr in enumerate(read_frames(args.data / "video" / vid)):
            res = run(fr)
            d = estimate_image(fr, model, None, settings)
            f = features(vid, fr, res)
            videos.append((f"{vid} f{fi}", f))
            print(f"  {vid:<22} f{fi}  found {len(d)} at the default  joints drawn {f['n_refine']:2d}  "
                  f"presence whole {f['whole']:.3f}  refine {f['refine']:.3f}")  # fmt: skip

    # A person the default path keeps with a wrong skeleton (joints on a tripod, say) is no better than a false
    # person: the rules are judged against every person input and against those it localizes.
    localized = [(lab, f) for lab, f in positives if f["right"] >= LOCALIZED]
    print(f"\npresence rules: {len(positives)} person inputs ({len(localized)} localized: >= {LOCALIZED} joints "
          f"right after the refine), {len(negatives)} empty inputs; margin = min(person) - max(empty)")  # fmt: skip
    print(
        f"{'rule':<10}{'persons':<11}{'person min':>11}{'empty max':>10}{'margin':>9}{'midpoint':>9}"
        f"{'missed':>8}{'kept':>6}"
    )
    for key in ("refine", "whole", "refine2", "min_w_r", "n_refine", "box_frac", "centre"):
        for gname, group in (("all", positives), ("localized", localized)):
            pv = [f[key] for _, f in group]
            nv = [f[key] for _, f in negatives]
            mid = (min(pv) + max(nv)) / 2
            print(f"{key:<10}{gname:<11}{min(pv):11.3f}{max(nv):10.3f}{min(pv) - max(nv):+9.3f}{mid:9.3f}"
                  f"{sum(v < mid for v in pv):8d}{sum(v >= mid for v in nv):6d}")  # fmt: skip
    print(f"\nmin_presence sweep (refined top-{TOPK}, what Framing applies): persons dropped / empty inputs kept")
    print(f"{'min_presence':>12}{'persons missed':>16}{'localized missed':>18}{'empty kept':>12}"
          f"{'video frames with a person':>28}")  # fmt: skip
    for t in sorted({mp, *SWEEP}):
        print(f"{t:12.3f}{sum(f['refine'] < t for _, f in positives):>10d}/{len(positives):<5d}"
              f"{sum(f['refine'] < t for _, f in localized):>12d}/{len(localized):<5d}"
              f"{sum(f['refine'] >= t for _, f in negatives):>6d}/{len(negatives):<5d}"
              f"{sum(f['refine'] >= t for _, f in videos):>16d}/{len(videos)}")  # fmt: skip
    print("person inputs not localized (refine right < "
          f"{LOCALIZED}): " + ", ".join(f"{lab} ({f['right']} right, presence {f['refine']:.3f})"
                                        for lab, f in positives if f["right"] < LOCALIZED))  # fmt: skip

    # ---------------------------------------------------------------- 3. speed
    print("\n== 3. Speed on posetrack 1280x720 frames, one frame per call (as the image job) ==")
    frames = read_frames(args.data / "video" / "posetrack_000001.mp4")
    whole_only = Framing(model, None, settings)
    whole_only.refine = False
    default = Framing(model, None, settings)
    for threads in (2, 1):
        torch.set_num_threads(threads)
        for fr in frames[:2]:  # warm up
            default(fr)
        rates: dict[str, list[float]] = {"whole + refine (default)": [], "whole only": []}
        for _ in range(args.repeats):
            for name, fn in (("whole + refine (default)", default), ("whole only", whole_only)):
                t0 = time.perf_counter()
                for fr in frames:
                    fn(fr)
                rates[name].append(len(frames) / (time.perf_counter() - t0))
        for name, r in rates.items():
            print(f"  {threads} thread{'s' if threads > 1 else ' '}  {name:<26} median {statistics.median(r):6.1f} "
                  f"frames/s, best round {max(r):6.1f} ({args.repeats} rounds of {len(frames)} frames)")  # fmt: skip
    print(f"  load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs "
          "(other jobs share them: the best round is the least disturbed)")  # fmt: skip
    print(f"\nrerun: {rerun}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
