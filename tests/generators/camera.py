"""A fake webcam for Chromium (``--use-file-for-fake-video-capture``) from a real clip, and a probe that measures
in the page how long a camera frame takes to come back as its overlay.

:func:`fake_camera_y4m` writes a raw YUV4MPEG2 file (Chromium loops it): the frames of a real clip (held a few
frames each, so the scene moves at about the clip's own rate), with figure 0 of :mod:`generators.videos`
walking across it and back (so the oracle models of :mod:`generators.fake_models` find and track one person) and the
frame's number drawn as a strip of black and white blocks along the bottom (:data:`CODE_BITS` bits and a
parity bit).

:data:`PROBE_JS` (run with ``page.evaluate``) reads that number twice: in the webcam's ``<video>`` element as
each camera frame is shown (``requestVideoFrameCallback``), and in each overlay image the server sends back.
The difference is the capture-to-overlay latency a visitor sees, measured in the browser; the time each frame
is encoded for upload (the webcam component's ``canvas.toDataURL``) is noted too. Results collect in
``window.posekitProbe``.

Test files and benchmarks import these as ``from generators.camera import fake_camera_y4m``.
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np

from generators.videos import FIGURE_COLORS_BGR, template_keypoints
from posekit.skeletons import POSEKIT_COCO17_2

CODE_BITS = 10
BLOCK = (24, 16)  # width, height of a block, in pixels of the camera frame
CODE_ORIGIN = (8, 8)  # left, bottom margin


def _code_blocks(size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    w, h = size
    x0, y1 = CODE_ORIGIN[0], h - CODE_ORIGIN[1]
    return [(x0 + i * BLOCK[0], y1 - BLOCK[1], x0 + (i + 1) * BLOCK[0], y1) for i in range(CODE_BITS + 1)]


def draw_code(image: np.ndarray, number: int) -> np.ndarray:
    """Draw ``number`` (mod 2**CODE_BITS) and its parity as blocks along the bottom of ``image`` (in place)."""
    bits = [(number >> i) & 1 for i in range(CODE_BITS)]
    bits.append(sum(bits) % 2)
    for bit, (x1, y1, x2, y2) in zip(bits, _code_blocks((image.shape[1], image.shape[0]))):
        image[y1:y2, x1:x2] = 255 if bit else 0
    return image


def fake_camera_y4m(
    path: str | Path,
    source: str | Path,
    size: tuple[int, int] = (640, 360),
    num_frames: int = 90,
    fps: int = 30,
    figure: bool = True,
    walk: float = 0.25,
) -> Path:
    """Write a looping fake camera from ``source`` (any video PyAV reads); returns ``path``.

    Args:
        size: ``(width, height)`` of the camera (even numbers: 4:2:0).
        num_frames: frames before Chromium loops back to the first.
        fps: the camera's rate.
        figure: draw figure 0 (red, with a white stick figure) walking across the clip and back.
        walk: the fraction of the free width it walks (0.25 at 120 frames and 30 frames/s: ~55 px/s, so a
            server slowed to a frame a second by a busy machine still sees boxes that overlap from frame to
            frame and keeps the id).
    """
    with av.open(str(source)) as container:
        real = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    if not real:
        raise ValueError(f"{source}: no frames")
    w, h = size
    hold = max(1, num_frames // (2 * len(real)))  # the clip plays forward then back: no jump at the loop
    order = list(range(len(real))) + list(range(len(real) - 1, -1, -1))
    fh = round(0.6 * h)
    fw = round(0.4 * fh)
    path = Path(path)
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(num_frames):
            image = cv2.resize(real[order[(i // hold) % len(order)]], size, interpolation=cv2.INTER_AREA)
            if figure:  # walks right for half the loop, then back: no jump when the camera loops
                phase = 1 - abs(1 - 2 * i / num_frames)
                x = 20 + walk * (w - fw - 40) * phase
                box = (x, 0.12 * h, x + fw, 0.12 * h + fh)
                x1, y1, x2, y2 = np.round(box).astype(int)
                cv2.rectangle(image, (x1, y1), (x2 - 1, y2 - 1), FIGURE_COLORS_BGR[0], -1)
                kp = np.round(template_keypoints(box)).astype(int)
                for a, b in POSEKIT_COCO17_2.edges:
                    cv2.line(image, tuple(kp[a]), tuple(kp[b]), (255, 255, 255), max(1, fw // 20), cv2.LINE_AA)
            draw_code(image, i)
            out.write(b"FRAME\n" + cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


_BLOCKS_JS = ",".join(f"[{(x1 + x2) / 2},{(y1 + y2) / 2}]" for x1, y1, x2, y2 in _code_blocks((640, 360)))

PROBE_JS = """
(args) => {
  const [W, H, BITS, LOOP] = args;
  const centres = [BLOCKS];
  const P = window.posekitProbe = {seen: {}, sent: {}, last: -1, latencies: [], sendLatencies: [], shown: [],
                                   hashes: [], codes: [], camera: 0, stale: 0};
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const read = (source, w, h) => {
    canvas.width = w; canvas.height = h; ctx.drawImage(source, 0, 0, w, h);
    let value = 0, parity = 0;
    for (let b = 0; b <= BITS; b++) {
      const [cx, cy] = centres[b];
      const data = ctx.getImageData(Math.round(cx * w / W) - 3, Math.round(cy * h / H) - 3, 6, 6).data;
      let sum = 0;
      for (let i = 0; i < data.length; i += 4) sum += data[i] + data[i + 1] + data[i + 2];
      const bit = sum / (data.length / 4 * 3) > 128 ? 1 : 0;
      if (b < BITS) { value |= bit << b; parity ^= bit; } else if (bit !== parity) return -1;
    }
    return value;
  };
  const hash = () => {
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let h = 0;
    for (let i = 0; i < data.length; i += 97) h = (h * 31 + data[i]) >>> 0;
    return h;
  };
  // The webcam component encodes each frame it sends with canvas.toDataURL: note when each number leaves.
  const toDataURL = HTMLCanvasElement.prototype.toDataURL;
  HTMLCanvasElement.prototype.toDataURL = function (...rest) {
    const url = toDataURL.apply(this, rest);
    if (this !== canvas && this.width) {
      const code = read(this, this.width, this.height);
      if (code >= 0) P.sent[code] = performance.now();
    }
    return url;
  };
  const video = document.querySelector('#live-camera video');
  const onFrame = () => {
    if (video.videoWidth) {
      P.camera++;
      const code = read(video, video.videoWidth, video.videoHeight);
      if (code >= 0 && code !== P.last) { P.seen[code] = performance.now(); P.last = code; }
    }
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
  document.addEventListener('load', (event) => {
    const box = document.querySelector('#live-overlay');
    if (!box || !box.contains(event.target) || event.target.tagName !== 'IMG') return;
    const now = performance.now();
    const img = event.target;
    const code = read(img, img.naturalWidth, img.naturalHeight);
    P.shown.push(now); P.hashes.push(hash()); P.codes.push(code);
    // Numbers come back every loop of the camera (LOOP ms): a match older than half a loop is a frame whose
    // showing the page did not report (a busy page skips video frame callbacks), not a latency.
    if (code >= 0 && P.seen[code] !== undefined) {
      if (now - P.seen[code] < LOOP / 2) P.latencies.push(now - P.seen[code]); else P.stale++;
    }
    if (code >= 0 && P.sent[code] !== undefined && now - P.sent[code] < LOOP / 2) {
      P.sendLatencies.push(now - P.sent[code]);
      delete P.sent[code];
    }
  }, true);
  return true;
}
""".replace("BLOCKS", _BLOCKS_JS)
PROBE_ARGS = [640, 360, CODE_BITS, 4000]
"""``page.evaluate(PROBE_JS, PROBE_ARGS)``: the block centres are given for a 640x360 camera and scaled to the
size of each image read; the last is the camera's loop in ms (120 frames at 30 frames/s, the tests' camera).
``posekitProbe.latencies``: camera frame shown -> its overlay shown; ``sendLatencies``: frame encoded for the
upload -> its overlay shown."""
