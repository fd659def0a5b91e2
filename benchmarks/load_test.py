"""Load test of the web app: N concurrent gradio_client image requests against one running app, on loopback.

    python benchmarks/load_test.py                       # starts the app in this process (random weights)
    python benchmarks/load_test.py --url http://127.0.0.1:7860/ --model PoseKit   # an app already running

Without ``--url`` the app is served in-process on 127.0.0.1 with random-initialised weights in the real formats
(``tests/generators/weights.py``; ``POSEKIT_WEIGHTS_DIR`` is used instead when set), as the tests do: the
figures measure the queue and the serving path at the app's concurrency (one inference at a time, the rest
queued), not the accuracy of the models. Bounded: ``--requests`` (default 20, at most 64) requests at once,
each with ``--timeout`` seconds; only loopback URLs are accepted. Prints every latency, the median and the
worst, and fails (exit status 1) if any request failed.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
IMAGE = ROOT / "assets" / "images" / "coco_000000000785.jpg"
MAX_REQUESTS = 64


def _loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _serve_in_process(model_dir: Path) -> tuple[object, str]:
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    if not os.environ.get("POSEKIT_WEIGHTS_DIR"):
        from generators.weights import write_weights

        os.environ["POSEKIT_WEIGHTS_DIR"] = str(write_weights(model_dir, rtmw3d=("l",)))
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("POSEKIT_OFFLINE", "1")
    from posekit.ui import create_demo

    demo = create_demo()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    return demo, demo.local_url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running app on loopback (default: serve one in this process)")
    parser.add_argument("--requests", type=int, default=20, help=f"concurrent requests, 1..{MAX_REQUESTS}")
    parser.add_argument("--model", default="RTMW3D-L", help="RTMW3D-L, RTMW3D-X or PoseKit")
    parser.add_argument("--image", type=Path, default=IMAGE)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds each request may take")
    args = parser.parse_args()
    if not 1 <= args.requests <= MAX_REQUESTS:
        parser.error(f"--requests: expected 1..{MAX_REQUESTS}, got {args.requests}")
    if args.url and not _loopback(args.url):
        parser.error(f"--url: only loopback addresses are load-tested, got {args.url}")

    from gradio_client import Client, handle_file

    with tempfile.TemporaryDirectory(prefix="posekit-load-") as tmp:
        demo, url = (None, args.url) if args.url else _serve_in_process(Path(tmp) / "weights")
        try:
            client = Client(url, verbose=False, download_files=str(Path(tmp) / "downloads"))
            client.predict(handle_file(args.image), args.model, api_name="/image")  # warm-up: model load

            def one(i: int) -> tuple[int, float, str | None]:
                start = time.perf_counter()
                try:
                    job = client.submit(handle_file(args.image), args.model, api_name="/image")
                    job.result(timeout=args.timeout)
                    return i, time.perf_counter() - start, None
                except Exception as exc:  # report every failure, whatever its kind
                    return i, time.perf_counter() - start, f"{type(exc).__name__}: {exc}"

            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.requests) as pool:
                results = list(pool.map(one, range(args.requests)))
            wall = time.perf_counter() - started
        finally:
            if demo is not None:
                demo.close()

    latencies = [t for _, t, err in results if err is None]
    failures = [(i, err) for i, _, err in results if err is not None]
    print(f"{args.requests} concurrent /image requests, model {args.model}, image {args.image.name}, app {url}")
    print("latencies (s): " + ", ".join(f"{t:.2f}" for _, t, _ in sorted(results)))
    if latencies:
        print(f"median {statistics.median(latencies):.2f} s, worst {max(latencies):.2f} s, "
              f"all done in {wall:.2f} s ({len(latencies) / wall:.2f} requests/s)")  # fmt: skip
    print(f"failed: {len(failures)} of {args.requests}")
    for i, err in failures:
        print(f"  request {i}: {err}")
    print(f"rerun: python benchmarks/load_test.py --requests {args.requests} --model {args.model}"
          + (f" --url {args.url}" if args.url else ""))  # fmt: skip
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
