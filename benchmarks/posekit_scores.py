"""Measure the real PoseKit model's keypoint-score scale, so posekit's PoseKit defaults come from data.

What it prints (every figure is computed here, from the real app model and the test data):

1. per-joint score percentiles on the COCO test persons, crop framing (``model(image, bboxes=boxes)`` with
   the annotated boxes) and whole-frame framing (``model(image)``, the app's letterbox, one person, matched to
   the annotated person it fits best), split by COCO visibility v=2 / v=1 / v=0; and per score band, how many
   joints land within 0.1 x (box diagonal) of the annotation;
2. per-person counts of drawn joints (score >= t, among those annotated v>0) at candidate thresholds t;
3. presence scores on images without a person (synthetic images, person-free regions of the COCO images and
   of street.mp4 frames, in both framings) against the real persons, for candidate person-presence rules;
4. a sanity check of the channel order (BGR, the API's, vs RGB fed by mistake), and the whole-frame speed
   on 1280x720 frames.

Note: posekit zeroes every joint score below the decoder's heatmap threshold (0.1, upstream ``hm_th``), so
through the public API scores are either 0 or >= 0.1; bands and thresholds below 0.1 are reported anyway to
show this.

It uses only ``from posekit import PoseKit`` plus numpy / cv2 / json, so it survives package restructuring.

Run (weights: the app's ``pkmodel.mlmodelc`` folder inside $POSEKIT_WEIGHTS_DIR; never commit it):

    POSEKIT_WEIGHTS_DIR=<folder with pkmodel.mlmodelc> python3 benchmarks/posekit_scores.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from posekit import PoseKit

NAMES = [
    "nose",
    "l_eye",
    "r_eye",
    "l_ear",
    "r_ear",
    "l_sho",
    "r_sho",
    "l_elb",
    "r_elb",
    "l_wri",
    "r_wri",
    "l_hip",
    "r_hip",
    "l_knee",
    "r_knee",
    "l_ank",
    "r_ank",
]
PERCENTILES = (5, 25, 50, 75, 95)
BANDS = [(0.0, 0.05), (0.05, 0.1), (0.1, 0.15), (0.15, 0.2), (0.2, 0.3), (0.3, 1.0001)]
THRESHOLDS = (0.05, 0.08, 0.1, 0.12, 0.15, 0.2, 0.3)
CORRECT = 0.1  # a joint is right when within this fraction of the annotated box diagonal
MIN_DRAWN = 12  # the overlay must draw at least this many of the annotated (v>0) joints per person
TOPK = 8

# Person-free squares [x1, y1, x2, y2] (checked by eye against the annotated boxes and the unannotated people).
# With crop framing the model sees the square whose side is w + h around the box, so each square is passed as
# the box of half its side at its centre: the model then sees exactly the square.
COCO_EMPTY = {
    "000000000785.jpg": [[0, 140, 270, 410], [500, 0, 640, 140]],
    "000000040083.jpg": [[400, 30, 500, 130], [150, 0, 250, 100]],
    "000000196141.jpg": [[0, 200, 229, 429], [70, 0, 230, 160], [470, 0, 560, 90]],
    "000000197388.jpg": [[92, 0, 188, 96], [188, 0, 284, 96], [370, 0, 540, 170]],
}
STREET_EMPTY = [
    [40, 340, 240, 540],
    [240, 340, 440, 540],
    [440, 370, 610, 540],
    [560, 0, 760, 160],
    [780, 0, 940, 160],
    [0, 0, 150, 150],
    [160, 0, 320, 160],
]

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
"""The shared data beside a clone (``../shared/data``): coco/, video/, h36m/."""


def pct(values, ps=PERCENTILES) -> str:
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return "  ".join(f"{'-':>5}" for _ in ps)
    return "  ".join(f"{x:5.3f}" for x in np.percentile(v, ps))


def inner_box(square) -> list[float]:
    """The box whose crop framing (a square of side w + h centred on it) is exactly ``square``."""
    x1, y1, x2, y2 = square
    cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 4
    return [cx - half, cy - half, cx + half, cy + half]


def load_coco(folder: Path):
    data = json.loads((folder / "test_coco.json").read_text())
    names = {im["id"]: im["file_name"] for im in data["images"]}
    people = []
    for ann in data["annotations"]:
        x, y, w, h = ann["bbox"]
        kp = np.array(ann["keypoints"], dtype=float).reshape(17, 3)
        people.append(
            {
                "image": names[ann["image_id"]],
                "id": ann["id"],
                "box": [x, y, x + w, y + h],
                "diag": float(np.hypot(w, h)),
                "xy": kp[:, :2],
                "v": kp[:, 2].astype(int),
            }
        )
    return names, people


def errors(pred_xy: np.ndarray, person: dict) -> np.ndarray:
    """Per-joint error / box diagonal (NaN where not annotated)."""
    err = np.linalg.norm(pred_xy - person["xy"], axis=1) / person["diag"]
    return np.where(person["v"] > 0, err, np.nan)


def presence_features(scores17: np.ndarray, threshold: float) -> dict[str, float]:
    s = np.sort(scores17)[::-1]
    return {
        f"top{TOPK}_mean": float(s[:TOPK].mean()),
        f"n>={threshold:g}": float((s >= threshold).sum()),
        "mean17": float(s.mean()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "shared" / "data",
        help="folder with coco/ video/ h36m/",
    )
    parser.add_argument("--timing-runs", type=int, default=30)
    args = parser.parse_args()
    if not os.environ.get("POSEKIT_WEIGHTS_DIR"):
        print("set POSEKIT_WEIGHTS_DIR to the folder holding the app's pkmodel.mlmodelc", file=sys.stderr)
        return 2
    os.environ.setdefault("POSEKIT_OFFLINE", "1")  # measure the local copy, never a download
    weights = os.environ["POSEKIT_WEIGHTS_DIR"]
    rerun = f"POSEKIT_WEIGHTS_DIR={weights} python3 benchmarks/posekit_scores.py --data {args.data}"
    import torch  # only to report the thread count

    model = PoseKit.from_pretrained()
    print(
        f"PoseKit from POSEKIT_WEIGHTS_DIR={os.environ['POSEKIT_WEIGHTS_DIR']}; torch threads {torch.get_num_threads()}"
    )

    names, people = load_coco(args.data / "coco")
    images = {n: cv2.imread(str(args.data / "coco" / n)) for n in names.values()}
    annotated = [p for p in people if (p["v"] > 0).any()]
    print(
        f"COCO: {len(images)} images, {len(people)} person boxes, {len(annotated)} with keypoints "
        f"({sum(int((p['v'] == 2).sum()) for p in annotated)} joints v=2, "
        f"{sum(int((p['v'] == 1).sum()) for p in annotated)} v=1, "
        f"{sum(int((p['v'] == 0).sum()) for p in annotated)} v=0)"
    )

    # ---- crop framing: one crop per annotated box
    crop = {}  # person id -> (scores17, err)
    for name, img in images.items():
        mine = [p for p in people if p["image"] == name]
        poses = model(img, bboxes=np.array([p["box"] for p in mine]))
        for i, p in enumerate(mine):
            crop[p["id"]] = (poses.scores[i, :17].astype(float), errors(poses.keypoints_2d[i, :17], p))

    # ---- whole frame: one person per image, matched to the annotated person it fits best
    whole = {}  # person id -> (scores17, err)
    whole_info = []
    for name, img in images.items():
        poses = model(img)
        s, xy = poses.scores[0, :17].astype(float), poses.keypoints_2d[0, :17]
        best = None
        for p in (p for p in annotated if p["image"] == name):
            e = errors(xy, p)
            key = (int(np.nansum(e < CORRECT)), -float(np.nanmean(e)))
            if best is None or key > best[0]:
                best = (key, p, e)
        (n_ok, _), p, e = best
        whole[p["id"]] = (s, e)
        whole_info.append((name, p["id"], n_ok, int((p["v"] > 0).sum()), float(poses.bbox_scores[0])))

    by_id = {p["id"]: p for p in people}

    def section_scores(title: str, results: dict) -> None:
        print(f"\n== 1. Joint scores, {title} ({len(results)} persons) ==")
        print(f"{'visibility':<14}{'n':>5}  {'p5':>5}  {'p25':>5}  {'p50':>5}  {'p75':>5}  {'p95':>5}   zero(<0.1)")
        for v, label in ((2, "v=2 visible"), (1, "v=1 occluded"), (0, "v=0 unlabeled")):
            vals = np.concatenate([s[by_id[i]["v"] == v] for i, (s, _) in results.items()])
            print(f"{label:<14}{len(vals):5d}  {pct(vals)}   {np.mean(vals == 0) if len(vals) else float('nan'):.2f}")
        print(
            f"score band     n(v>0)  within {CORRECT:g}*diag  median err/diag   (score 0: the joint's heatmap never "
            "reaches 0.1, the decoder zeroes it and its position is meaningless)"
        )
        ss = np.concatenate([s for s, _ in results.values()])
        ee = np.concatenate([e for _, e in results.values()])
        lab = ~np.isnan(ee)
        for lo, hi in BANDS:
            m = lab & (ss >= lo) & (ss < hi)
            frac = f"{np.mean(ee[m] < CORRECT):.2f} ({int((ee[m] < CORRECT).sum())}/{int(m.sum())})" if m.any() else "-"
            med = f"{np.median(ee[m]):.3f}" if m.any() else "-"
            print(f"[{lo:.2f},{min(hi, 1):.2f}){'':3}{int(m.sum()):6d}  {frac:>17}  {med:>15}")
        for t in THRESHOLDS:
            m_in, m_out = lab & (ss >= t), lab & (ss < t)
            right_in = np.mean(ee[m_in] < CORRECT) if m_in.any() else float("nan")
            right_out = np.mean(ee[m_out] < CORRECT) if m_out.any() else float("nan")
            print(
                f"  score >= {t:<4g}: {right_in:.2f} right of {int(m_in.sum())};  "
                f"score < {t:<4g}: {right_out:.2f} right of {int(m_out.sum())}"
            )
        print("per joint (v>0): median score / fraction right")
        for j, jn in enumerate(NAMES):
            sj = np.array([s[j] for i, (s, e) in results.items() if by_id[i]["v"][j] > 0])
            ej = np.array([e[j] for i, (s, e) in results.items() if by_id[i]["v"][j] > 0])
            if len(sj):
                print(f"  {jn:<7} n={len(sj):2d}  median {np.median(sj):.3f}  right {np.mean(ej < CORRECT):.2f}")

    crop_ann = {i: r for i, r in crop.items() if (by_id[i]["v"] > 0).any()}
    section_scores("crop framing, annotated boxes", crop_ann)
    section_scores("whole frame (letterbox), best-matching person", whole)
    print("whole-frame matches: image, matched person id, joints right / annotated, centre score (bbox_scores)")
    for row in whole_info:
        print(f"  {row[0]}  id {row[1]}  {row[2]}/{row[3]}  centre {row[4]:.3f}")

    # ---- 2. drawn joints per person at candidate thresholds
    def section_counts(title: str, results: dict) -> dict:
        print(f"\n== 2. Drawn joints per person (score >= t among annotated v>0; need >= {MIN_DRAWN}), {title} ==")
        print(
            f"{'person':<26}{'ann':>4}"
            + "".join(f"{t:>7g}" for t in THRESHOLDS)
            + "   right@0.1 (drawn & within 0.1 diag)"
        )
        passes = {t: 0 for t in THRESHOLDS}
        for i, (s, e) in results.items():
            p = by_id[i]
            ann = p["v"] > 0
            counts = [int(((s >= t) & ann).sum()) for t in THRESHOLDS]
            for t, c in zip(THRESHOLDS, counts):
                passes[t] += c >= min(MIN_DRAWN, int(ann.sum()))
            right = int(((s >= 0.1) & ann & (e < CORRECT)).sum())
            print(
                f"{p['image'][:12] + ' id ' + str(i):<26}{int(ann.sum()):4d}"
                + "".join(f"{c:7d}" for c in counts)
                + f"   {right}"
            )
        print(f"{'persons passing':<30}" + "".join(f"{passes[t]:7d}" for t in THRESHOLDS) + f"   of {len(results)}")
        return passes

    crop_pass = section_counts("crop framing", crop_ann)
    section_counts("whole frame", whole)
    tiny = [i for i in crop if not (by_id[i]["v"] > 0).any()]
    for i in tiny:
        s = crop[i][0]
        print(
            f"  (no keypoints annotated) {by_id[i]['image']} id {i} box {[round(x) for x in by_id[i]['box']]}: "
            f"joints >= 0.1: {int((s >= 0.1).sum())}, top{TOPK} mean {np.sort(s)[::-1][:TOPK].mean():.3f}"
        )
    ok = [t for t in THRESHOLDS if crop_pass[t] == len(crop_ann)]
    every = max(ok) if ok else None
    most = max(crop_pass.values())
    rec = every if every is not None else max(t for t in THRESHOLDS if crop_pass[t] == most)
    print(f"highest candidate threshold at which every annotated crop shows >= {MIN_DRAWN} joints: {every}")
    print(
        f"highest candidate threshold with the most crops passing ({most} of {len(crop_ann)}): {rec:g}"
        " (scores below 0.1 are zeroed by the decoder, so every t in (0, 0.1] draws the same joints)"
    )
    kt = rec

    # ---- 3. presence: no-person images vs persons
    print(f"\n== 3. Person presence (keypoint threshold {kt:g} for the count) ==")
    h, w = 480, 640
    rng = np.random.default_rng(0)
    synth = {
        "grey128": np.full((h, w, 3), 128, np.uint8),
        "black": np.zeros((h, w, 3), np.uint8),
        "white": np.full((h, w, 3), 255, np.uint8),
        "noise_uniform": rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        "noise_grey": np.repeat(rng.integers(0, 256, (h, w, 1), dtype=np.uint8), 3, axis=2),
        "gradient_h": np.repeat(np.tile(np.linspace(0, 255, w, dtype=np.float32), (h, 1))[..., None], 3, 2).astype(
            np.uint8
        ),
        "gradient_v": np.repeat(
            np.tile(np.linspace(0, 255, h, dtype=np.float32)[:, None], (1, w))[..., None], 3, 2
        ).astype(np.uint8),
        "gradient_rgb": np.dstack(
            [
                np.tile(np.linspace(0, 255, w), (h, 1)),
                np.tile(np.linspace(255, 0, h)[:, None], (1, w)),
                np.full((h, w), 90),
            ]
        ).astype(np.uint8),
    }
    negatives = []  # (source, framing, scores17, centre score or nan)
    for n, img in synth.items():
        pw = model(img)
        negatives.append((f"synthetic {n}", "whole", pw.scores[0, :17].astype(float), float(pw.bbox_scores[0])))
        pc = model(img, bboxes=np.array([inner_box([w / 2 - 200, h / 2 - 200, w / 2 + 200, h / 2 + 200])]))
        negatives.append((f"synthetic {n}", "crop", pc.scores[0, :17].astype(float), np.nan))
    regions = [(f"coco {n[:12]} {sq}", images[n], sq) for n, sqs in COCO_EMPTY.items() for sq in sqs]
    cap = cv2.VideoCapture(str(args.data / "video" / "street.mp4"))
    frames = []
    while True:
        ok_read, frame = cap.read()
        if not ok_read:
            break
        frames.append(frame)
    cap.release()
    street_frames = frames[:: max(1, len(frames) // 3)][:3]
    regions += [(f"street f{fi} {sq}", f, sq) for fi, f in enumerate(street_frames) for sq in STREET_EMPTY]
    for label, img, sq in regions:
        pc = model(img, bboxes=np.array([inner_box(sq)]))
        negatives.append((label, "crop", pc.scores[0, :17].astype(float), np.nan))
        x1, y1, x2, y2 = sq
        pw = model(np.ascontiguousarray(img[y1:y2, x1:x2]))
        negatives.append((label, "whole", pw.scores[0, :17].astype(float), float(pw.bbox_scores[0])))

    positives = [(f"coco id {i}", "crop", s, np.nan) for i, (s, _) in crop_ann.items()]
    positives += [(f"coco {n[:12]}", "whole", whole[i][0], c) for n, i, _, _, c in whole_info]
    h36m = sorted((args.data / "h36m").glob("*.jpg"))
    npz = args.data / "h36m" / "test_h36m_body3d.npz"
    h36m_boxes = {}
    if npz.exists():
        d = np.load(npz)
        for name, c, sc in zip(d["imgname"], d["center"], d["scale"]):
            half = float(sc) * 100.0  # H36M/MPII convention: box side = 200 * scale
            h36m_boxes[Path(str(name)).name] = [c[0] - half, c[1] - half, c[0] + half, c[1] + half]
    for path in h36m:
        img = cv2.imread(str(path))
        pw = model(img)
        positives.append((f"h36m {path.name[:24]}", "whole", pw.scores[0, :17].astype(float), float(pw.bbox_scores[0])))
        if path.name in h36m_boxes:
            pc = model(img, bboxes=np.array([h36m_boxes[path.name]]))
            positives.append((f"h36m {path.name[:24]}", "crop", pc.scores[0, :17].astype(float), np.nan))

    rules = [f"top{TOPK}_mean", f"n>={kt:g}", "mean17"]
    best_rules = {}
    for framing in ("crop", "whole"):
        pos = [(lab, presence_features(s, kt), c) for lab, f, s, c in positives if f == framing]
        neg = [(lab, presence_features(s, kt), c) for lab, f, s, c in negatives if f == framing]
        print(f"\n-- {framing} framing: {len(pos)} person inputs, {len(neg)} no-person inputs --")
        cols = rules + (["centre"] if framing == "whole" else [])

        def val(row, r):
            return row[2] if r == "centre" else row[1][r]

        print(f"{'rule':<12}{'side':<10}{'n':>4}   min    p5    p25   p50   p75   p95   max")
        for r in cols:
            for side, rows in (("person", pos), ("no-person", neg)):
                v = [val(x, r) for x in rows]
                print(f"{r:<12}{side:<10}{len(v):4d}  {pct(v, (0, 5, 25, 50, 75, 95, 100))}")
            pmin, nmax = min(val(x, r) for x in pos), max(val(x, r) for x in neg)
            margin = pmin - nmax
            thr = (pmin + nmax) / 2
            n_fp = sum(val(x, r) >= thr for x in neg)
            n_fn = sum(val(x, r) < thr for x in pos)
            print(
                f"{r:<12}margin = min(person) - max(no-person) = {pmin:.3f} - {nmax:.3f} = {margin:+.3f}; "
                f"midpoint {thr:.3f}: {n_fn} persons missed, {n_fp} empty inputs kept"
            )
            best_rules[(framing, r)] = (margin, thr)
        print("highest-scoring no-person inputs (top-8 mean):")
        for lab, feats, c in sorted(neg, key=lambda x: -x[1][f"top{TOPK}_mean"])[:6]:
            print(
                f"  {lab:<44} top8 {feats[f'top{TOPK}_mean']:.3f}  n {int(feats[f'n>={kt:g}']):2d}"
                + (f"  centre {c:.3f}" if framing == "whole" else "")
            )
        print("lowest-scoring person inputs (top-8 mean):")
        for lab, feats, c in sorted(pos, key=lambda x: x[1][f"top{TOPK}_mean"])[:4]:
            print(
                f"  {lab:<44} top8 {feats[f'top{TOPK}_mean']:.3f}  n {int(feats[f'n>={kt:g}']):2d}"
                + (f"  centre {c:.3f}" if framing == "whole" else "")
            )

    print("\n-- presence rule sweep: margin = min(person) - max(no-person), midpoint threshold, errors there --")
    sweep = [(f"top{k}_mean", lambda s, k=k: float(np.sort(s)[::-1][:k].mean())) for k in (4, 6, 8, 10, 12)]
    sweep += [(f"n>={t:g}", lambda s, t=t: float((s >= t).sum())) for t in (0.1, 0.15, 0.2)]
    sweep += [("max", lambda s: float(s.max()))]
    print(f"{'rule':<12}{'framing':<8}{'person min':>11}{'empty max':>10}{'margin':>8}{'midpoint':>9}  missed  kept")
    for framing in ("crop", "whole"):
        for r, fn in sweep:
            pv = [fn(s) for _, f, s, _ in positives if f == framing]
            nv = [fn(s) for _, f, s, _ in negatives if f == framing]
            mid = (min(pv) + max(nv)) / 2
            print(
                f"{r:<12}{framing:<8}{min(pv):11.3f}{max(nv):10.3f}{min(pv) - max(nv):+8.3f}{mid:9.3f}"
                f"  {sum(v < mid for v in pv):6d}  {sum(v >= mid for v in nv):4d}"
            )

    # ---- 4a. channel order
    print("\n== 4a. Channel order (the API takes BGR arrays; 'swapped' feeds RGB by mistake) ==")
    for label, flip in (("BGR (right)", False), ("RGB (swapped)", True)):
        sc, ee = [], []
        for name, img in images.items():
            mine = [p for p in annotated if p["image"] == name]
            im = np.ascontiguousarray(img[..., ::-1]) if flip else img
            poses = model(im, bboxes=np.array([p["box"] for p in mine]))
            for i, p in enumerate(mine):
                sc.append(poses.scores[i, :17][p["v"] > 0])
                ee.append(errors(poses.keypoints_2d[i, :17], p)[p["v"] > 0])
        sc, ee = np.concatenate(sc), np.concatenate(ee)
        print(
            f"  {label:<14} crops: annotated joints {len(sc)}, median score {np.median(sc):.3f}, "
            f"scored >= 0.1 {np.mean(sc >= 0.1):.2f}, within {CORRECT:g}*diag {np.mean(ee < CORRECT):.2f}"
        )

    # ---- 4b. timing
    cap = cv2.VideoCapture(str(args.data / "video" / "posetrack_000001.mp4"))
    tframes = []
    while True:
        ok_read, frame = cap.read()
        if not ok_read:
            break
        tframes.append(frame)
    cap.release()
    tframes = [f if f.shape[:2] == (720, 1280) else cv2.resize(f, (1280, 720)) for f in tframes]
    for f in tframes[:3]:
        model(f)
    times = []
    for k in range(args.timing_runs):
        start = time.perf_counter()
        model(tframes[k % len(tframes)])
        times.append(time.perf_counter() - start)
    med = float(np.median(times))
    print(
        f"\n== 4b. Whole-frame PoseKit on 1280x720 (posetrack_000001.mp4), {torch.get_num_threads()} threads, "
        f"{args.timing_runs} runs =="
    )
    print(
        f"  median {med * 1000:.1f} ms/frame ({1 / med:.1f} frames/s); best {min(times) * 1000:.1f} ms; "
        f"p90 {np.percentile(times, 90) * 1000:.1f} ms"
    )

    print("\n== Summary ==")
    print(
        f"  keypoint threshold: every COCO crop >= {MIN_DRAWN} annotated joints drawn at: {every}; "
        f"most crops ({most}/{len(crop_ann)}) at t <= {rec:g}"
    )
    for (framing, r), (margin, thr) in best_rules.items():
        print(f"  presence {framing:<5} {r:<12} margin {margin:+.3f}  midpoint {thr:.3f}")
    print(f"\nrerun: {rerun}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
