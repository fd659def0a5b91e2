"""Does an image wait behind a long video? The app served locally, a long video request, then an image request.

    python benchmarks/bench_app_concurrency.py                    # this checkout
    python benchmarks/bench_app_concurrency.py --repo /work/main  # another checkout's posekit (before/after)

The app is served in-process on 127.0.0.1 with random-initialised weights in the real formats
(``tests/generators/weights.py``), as the tests do: the figures measure the queue and the workers, not the
models' accuracy. The video (a synthetic walking clip, ``--frames`` frames, ``--video-model``) is sent first;
once it is being processed, an image (``--image-model``) is sent and its latency measured, and whether the video
was still running when the image came back. Loopback only, two requests, each bounded by ``--timeout``.
Prints the figures and the command to rerun.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGE = ROOT / "assets" / "images" / "coco_000000000785.jpg"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=ROOT, help="checkout whose posekit serves the app")
    parser.add_argument("--frames", type=int, default=48, help="frames of the long video (8..600)")
    parser.add_argument("--size", default="96x64", help="the video's frame size, WxH")
    parser.add_argument("--video-model", default="RTMW3D-L")
    parser.add_argument("--image-model", default="PoseKit")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds each request may take")
    args = parser.parse_args()
    if not 8 <= args.frames <= 600:
        parser.error(f"--frames: expected 8..600, got {args.frames}")
    width, height = (int(v) for v in args.size.lower().split("x"))

    sys.path[:0] = [str(args.repo.resolve()), str(ROOT / "tests")]
    from generators.videos import walking_video
    from generators.weights import write_weights
    from gradio_client import Client, handle_file

    import posekit

    with tempfile.TemporaryDirectory(prefix="posekit-bench-") as tmp:
        tmp = Path(tmp)
        os.environ["POSEKIT_WEIGHTS_DIR"] = str(write_weights(tmp / "weights", rtmw3d=("l",), posekit=True))
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("POSEKIT_OFFLINE", "1")
        from posekit.ui import create_demo

        clip = walking_video(tmp / "long.mp4", num_frames=args.frames, size=(width, height), fps=8.0)
        demo = create_demo()
        demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
        try:
            client = Client(demo.local_url, verbose=False, download_files=str(tmp / "downloads"))
            for model in {args.image_model, args.video_model}:  # load the models before measuring
                client.predict(handle_file(IMAGE), model, api_name="/image")
            video_start = time.perf_counter()
            video = client.submit(handle_file(clip.path), args.video_model, 0.5, 0.3, False, "none", 0.5,
                                  min(args.frames / 8.0, 30.0), 1, api_name="/video")  # fmt: skip
            deadline = time.monotonic() + args.timeout
            while video.status().code.name not in ("PROCESSING", "PROGRESS", "FINISHED"):
                if time.monotonic() > deadline:
                    raise TimeoutError("the video never started")
                time.sleep(0.05)
            time.sleep(1.0)  # well into the video
            image_start = time.perf_counter()
            image = client.submit(handle_file(IMAGE), args.image_model, api_name="/image")
            image.result(timeout=args.timeout)
            image_s = time.perf_counter() - image_start
            during = not video.done()
            try:
                video.result(timeout=args.timeout)
                video_outcome = "done"
            except Exception as exc:  # a refusal (work budget) is a result too
                video_outcome = f"{type(exc).__name__}: {exc}"
            video_s = time.perf_counter() - video_start
        finally:
            demo.close()

    print(f"posekit from {Path(posekit.__file__).parent.parent}")
    print(f"video: {args.frames} frames {width}x{height}, {args.video_model}: {video_s:.1f} s ({video_outcome[:200]})")
    print(f"image behind it ({args.image_model}): {image_s:.2f} s; the video was "
          f"{'still running' if during else 'finished'} when the image came back")  # fmt: skip
    rerun = f"python benchmarks/bench_app_concurrency.py --frames {args.frames} --size {args.size}"
    rerun += f" --video-model {args.video_model} --image-model {args.image_model}"
    print("rerun: " + rerun + (f" --repo {args.repo}" if args.repo.resolve() != ROOT else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
