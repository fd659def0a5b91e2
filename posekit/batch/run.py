"""``run_batch``: many inputs through ``posekit.pipelines.run_file`` on a Ray cluster (local or remote), resumably.

Plan (driver): expand the inputs, skip those with a valid done marker, drop what a cut-off run left behind
(:func:`posekit.batch.state.reconcile`), group the rest into *units* (up to ``images_per_call`` images, or one
video/take/capture), longest kinds first so they do not end up as the tail of the run.

Execute (Ray Data): ``from_items(units)`` -> ``map_batches(PoseWorker, batch_size=1)`` on an actor pool of
``workers`` actors, each holding its models for its whole life (``num_gpus`` per actor on a GPU cluster, a
fraction of a GPU allowed). The driver streams the results with ``iter_batches`` and writes the keypoint parts,
the done markers and, at the end, ``errors.parquet``; nothing is materialised.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from posekit.batch.inputs import WorkItem, discover
from posekit.batch.state import State, reconcile, settings_hash
from posekit.batch.worker import PoseWorker, unit_rows

IMAGES_PER_CALL = 16
"""Images per actor call: enough to make Ray's per-task overhead negligible, few enough to balance the pool."""
GPUS_PER_WORKER = 0.5
"""Default GPU share of an actor: two actors per GPU, so one decodes and draws while the other runs the model."""
ACTOR_START_TIMEOUT_S = 600
"""Seconds Ray Data may take to start the worker actors (cluster nodes may need to be provisioned first)."""
SEQUENCE_KINDS = ("video", "capture", "remote", "take")
"""Kinds run one per call, in this order before the images: long items first keep the end of the run short."""


@dataclass
class BatchSummary:
    """What a batch run did (or, with ``dry_run``, would do).

    Attributes:
        out_dir: the output folder.
        total: inputs found (and inputs that named nothing, counted in ``failed``).
        done: inputs processed in this run.
        skipped: inputs already complete from an earlier run.
        failed: inputs that failed (listed in ``errors`` and ``OUT/errors.parquet``).
        frames: frames processed in this run (an image counts 1).
        wall_s: wall time of the run, Ray start-up included.
        workers: actors used (0 when nothing ran).
        errors: rows of the errors table.
        to_run / to_skip: the inputs to process and to skip (sources), filled in by every run.
        keypoint_rows: rows written to the keypoints table in this run.
    """

    out_dir: Path
    total: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    frames: int = 0
    wall_s: float = 0.0
    workers: int = 0
    dry_run: bool = False
    errors: list[dict[str, str]] = field(default_factory=list)
    to_run: list[str] = field(default_factory=list)
    to_skip: list[str] = field(default_factory=list)
    keypoint_rows: int = 0

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0

    def line(self) -> str:
        if self.dry_run:
            return (f"posekit batch (dry run): {self.total} inputs: {len(self.to_run)} to run, {self.skipped} to "
                    f"skip, {self.failed} not readable")  # fmt: skip
        return (f"posekit batch: {self.total} inputs: {self.done} done, {self.skipped} skipped, {self.failed} "
                f"failed; {self.frames} frames in {self.wall_s:.1f} s ({self.frames_per_s:.1f} frames/s) on "
                f"{self.workers} worker{'s' if self.workers != 1 else ''}; results in {self.out_dir}")  # fmt: skip


def run_batch(
    inputs: list[str | os.PathLike] | str | os.PathLike,
    out_dir: str | os.PathLike,
    settings: Any = None,
    address: str | None = None,
    workers: int | None = None,
    num_gpus_per_worker: float | None = None,
    dry_run: bool = False,
    progress: bool = True,
    images_per_call: int = IMAGES_PER_CALL,
) -> BatchSummary:
    """Process ``inputs`` into ``out_dir`` on Ray; see the module docstring and the README's "Batch" section.

    Args:
        inputs: files, folders (recursive), globs, CSV/JSONL manifests with a ``path`` column (URLs allowed).
        out_dir: results: per input ``<rel>/<stem>.json`` (+ overlay, + zip) mirroring the inputs' layout,
            ``keypoints/kind=*/part-*.parquet``, ``errors.parquet``, ``.posekit-batch/<id>.done``.
        settings: ``posekit.pipelines.Settings`` (default: ``Settings()``).
        address: a Ray cluster (``"auto"``, ``"ray://host:10001"``, ``"host:6379"``); None starts a local Ray
            unless one is already running in this process.
        workers: actors; default: one per ``num_gpus_per_worker`` share of the cluster's GPUs, else one per CPU.
        num_gpus_per_worker: GPU share of an actor (fractions allowed); default 0.5 where the cluster has GPUs.
        dry_run: only plan: fill ``to_run``/``to_skip``; starts no Ray and writes nothing.
        progress: Ray Data's progress bars and the summary line on stderr.
        images_per_call: images per actor call.
    """
    start = time.perf_counter()
    if settings is None:
        from posekit.pipelines import Settings

        settings = Settings()
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    out = Path(out_dir).expanduser().resolve()
    items, errors = discover(list(inputs), exclude=[out])
    state = State(out)
    key = settings_hash(settings)
    plan = state.plan(items, key)
    summary = BatchSummary(out, total=len(items) + len(errors), skipped=len(plan.skipped), dry_run=dry_run)
    summary.to_run = [item.source for item in plan.run]
    summary.to_skip = [item.source for item, _ in plan.skipped]
    if dry_run:
        summary.failed = len(errors)
        summary.errors = errors
        summary.wall_s = time.perf_counter() - start
        return summary

    out.mkdir(parents=True, exist_ok=True)
    reconcile(state, plan)
    if plan.run:
        done = _execute(plan.run, out, settings, key, state, errors, address, workers, num_gpus_per_worker,
                        progress, images_per_call)  # fmt: skip
        summary.done, summary.frames, summary.keypoint_rows, summary.workers = done
    from posekit.batch.tables import write_errors

    write_errors(out / "errors.parquet", errors)
    summary.failed = len(errors)
    summary.errors = errors
    summary.wall_s = time.perf_counter() - start
    if progress:
        print(summary.line(), file=sys.stderr, flush=True)
    return summary


def make_units(items: list[WorkItem], images_per_call: int) -> list[dict[str, Any]]:
    """Rows of the input dataset: sequences one per unit (longest kinds first), then images in groups."""
    units = []
    for kind in SEQUENCE_KINDS:
        units.extend(unit_rows([item]) for item in items if item.kind == kind)
    images = [item for item in items if item.kind not in SEQUENCE_KINDS]
    step = max(1, images_per_call)
    units.extend(unit_rows(images[i : i + step]) for i in range(0, len(images), step))
    return units


def _execute(
    items: list[WorkItem],
    out: Path,
    settings: Any,
    key: str,
    state: State,
    errors: list[dict[str, str]],
    address: str | None,
    workers: int | None,
    num_gpus_per_worker: float | None,
    progress: bool,
    images_per_call: int,
) -> tuple[int, int, int, int]:
    import ray

    from posekit.batch.tables import KeypointWriter, from_ipc

    started = _start_ray(ray, address, progress)
    try:
        size, cpus, gpus, threads = plan_resources(ray.cluster_resources(), settings, workers, num_gpus_per_worker)
        units = make_units(items, images_per_call)
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = progress
        if hasattr(ctx, "wait_for_min_actors_s"):  # a pool that cannot start (e.g. posekit missing on the nodes)
            ctx.wait_for_min_actors_s = ACTOR_START_TIMEOUT_S  # fails the run instead of waiting forever
        ds = _from_items(ray, units).map_batches(
            PoseWorker,
            fn_constructor_kwargs={"settings": settings, "out_dir": str(out), "threads": threads},
            batch_size=1,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=size),
            num_cpus=cpus,
            num_gpus=gpus,
        )
        done = frames = 0
        writer = KeypointWriter(out, lambda records: [state.write(r) for r in records])
        try:
            for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
                for row in batch.to_pylist():
                    if row["status"] != "done":
                        errors.append({"input": row["source"], "error_type": row["error_type"],
                                       "message": row["message"]})  # fmt: skip
                        continue
                    done += 1
                    frames += int(row["frames"])
                    record = {"id": row["id"], "source": row["source"], "kind": row["kind"], "settings": key,
                              "size": int(row["size"]), "mtime": float(row["mtime"]), "frames": int(row["frames"]),
                              "seconds": round(float(row["seconds"]), 3), "outputs": _json_list(row["outputs"]),
                              "warnings": row["message"], "finished": time.time()}  # fmt: skip
                    writer.add(row["kind"], from_ipc(row["keypoints"]), record)
                writer.flush_old()
        finally:
            writer.close()  # commit what finished, even when interrupted
        return done, frames, writer.rows_written, size
    finally:
        if started:
            ray.shutdown()


def plan_resources(
    cluster: dict[str, float], settings: Any, workers: int | None, num_gpus_per_worker: float | None
) -> tuple[int, float, float, int | None]:
    """``(actors, CPUs per actor, GPUs per actor, torch threads per actor or None)`` for a cluster's resources.

    With GPUs (and a device that is not ``cpu``): ``num_gpus_per_worker`` (default 0.5) per actor, one CPU each for
    decoding, as many actors as the GPUs hold. Without: one actor per CPU by default, each with one torch thread;
    fewer ``workers`` share the CPUs out, torch's threads set to match, so actors never oversubscribe the cores.
    One thread per actor is the throughput choice: a multi-thread torch team waits at every layer for its
    slowest thread, and on a busy machine (2 cores, load 15) a 2-thread loop ran 15x slower than a 1-thread one.
    """
    cpus = max(1, int(cluster.get("CPU", 1)))
    gpus = float(cluster.get("GPU", 0) or 0)
    device = str(getattr(settings, "device", "auto"))
    if gpus > 0 and device != "cpu":
        share = float(num_gpus_per_worker or GPUS_PER_WORKER)
        size = workers or max(1, int(gpus / share + 1e-9))
        return size, 1.0, share, None
    size = workers or cpus
    per = max(1, cpus // size)
    return size, float(per), 0.0, per


def _start_ray(ray: Any, address: str | None, progress: bool) -> bool:
    """Connect to ``address``, reuse this process's Ray, or start a local one; True when this call started it."""
    if ray.is_initialized():
        return False
    level = logging.WARNING if progress else logging.ERROR
    if address:
        ray.init(address=address, logging_level=level, log_to_driver=progress)
    else:
        ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, logging_level=level, log_to_driver=progress)
    if not progress:
        logging.getLogger("ray.data").setLevel(logging.WARNING)
    return True


def _from_items(ray: Any, units: list[dict[str, Any]]) -> Any:
    """One block per unit (up to 20,000) so the actors balance; the argument's name changed in Ray 2.10."""
    blocks = max(1, min(len(units), 20_000))
    try:
        return ray.data.from_items(units, override_num_blocks=blocks)
    except TypeError:
        return ray.data.from_items(units, parallelism=blocks)


def _json_list(text: str) -> list[str]:
    import json

    value = json.loads(text or "[]")
    return value if isinstance(value, list) else []
