"""Opening video uploads safely: the demuxer is chosen from the file's own first bytes, never from its name.

FFmpeg guesses a container from a file's name and content, and some of its demuxers open other files: an HLS
playlist or a concat list naming a path on the server, image-sequence patterns, ``file:``/``http:`` URLs.
An upload must never make the server open a file it names, so every video posekit reads is opened here from
a Python file object with an explicit demuxer (MP4/MOV, Matroska/WebM or AVI, recognised by signature), an
empty protocol whitelist and nested opens refused. Anything else is a :class:`VideoError` that says what came.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from posekit.limits import error_reason


class VideoError(ValueError):
    """A file that cannot be read or written as a video; the message says what was expected and what came."""


def import_av() -> Any:
    try:
        import av
    except ImportError as exc:  # av is an optional dependency (the "video" extra)
        raise VideoError(
            "reading and writing videos needs PyAV: pip install 'posekit[video]' (or pip install av)"
        ) from exc
    return av


def ffmpeg_message(exc: Exception) -> str:
    """FFmpeg's own words for an ``av.error.FFmpegError``, without the errno noise or the file name."""
    return error_reason(exc)


VIDEO_CONTAINERS = "an MP4/MOV, WebM/MKV or AVI video"
"""What :func:`sniff_video_format` accepts, for messages."""

_ISO_BMFF_BOXES = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


def sniff_video_format(head: bytes) -> str | None:
    """FFmpeg's demuxer for a file starting with ``head`` (its first 16 bytes or more), from the signature alone:
    ``"mov"`` (ISO-BMFF: MP4, MOV, M4V), ``"matroska"`` (MKV, WebM) or ``"avi"``; None for anything else.

    Uploads are opened with this demuxer forced, so FFmpeg never probes: its playlist (HLS ``.m3u8``), concat
    (``ffconcat``), image-sequence (``%d`` patterns), ``tee`` and URL-following demuxers cannot run on upload
    content, whatever the file is called.
    """
    if len(head) >= 8 and head[4:8] in _ISO_BMFF_BOXES:
        return "mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if len(head) >= 12 and head.startswith(b"RIFF") and head[8:12] in (b"AVI ", b"AVIX"):
        return "avi"
    return None


_SIGNATURES = (
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF8", "a GIF image"),
    (b"RIFF", "a RIFF file that is not an AVI"),
    (b"BM", "a BMP image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip file"),
    (b"G", "an MPEG transport stream (.ts) or other data; convert it to MP4"),
)
_RIFF_KINDS = {b"WEBP": "a WebP image", b"WAVE": "a WAV audio file", b"AVI ": "an AVI video"}
_TEXT_KINDS = (
    ("#EXTM3U", "an HLS playlist"),
    ("#EXT", "an HLS playlist"),
    ("ffconcat", "an FFmpeg concat list"),
    ("file ", "an FFmpeg concat list"),
    ("<?xml", "an XML document (a DASH manifest?)"),
    ("<mpd", "a DASH manifest"),
    ("[playlist]", "a playlist"),
)


def describe_content(head: bytes) -> str:
    """What a file starting with ``head`` looks like, for messages: "an empty file (0 bytes)", "a text file
    starting '#EXTM3U' (an HLS playlist)", "a JPEG image", "binary data starting 00 01 02 ...".

    Never quotes more than a short, path-free start of the file."""
    if not head:
        return "an empty file (0 bytes)"
    if head.startswith(b"RIFF") and head[8:12] in _RIFF_KINDS:
        return _RIFF_KINDS[head[8:12]]
    for magic, what in _SIGNATURES:
        if head.startswith(magic) and not (magic == b"G" and (len(head) < 189 or head[188:189] != b"G")):
            return what
    text = head[:256].removeprefix(b"\xef\xbb\xbf")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "a UTF-16 text file"
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        decoded = None
    if decoded is not None and all(c.isprintable() or c in "\r\n\t" for c in decoded.rstrip("\x00")):
        first = decoded.lstrip().split("\n", 1)[0].strip()
        kind = next((what for prefix, what in _TEXT_KINDS if first.lower().startswith(prefix.lower())), None)
        if "://" in first or first.startswith(("/", "\\")) or (len(first) > 2 and first[1:3] == ":\\"):
            return "a text file naming a path or URL" + (f" ({kind})" if kind else "")
        quoted = first[:16].replace("/", "").replace("\\", "")
        return f"a text file starting {quoted!r}" + (f" ({kind})" if kind else "")
    return "binary data starting " + head[:8].hex(" ")


def _refuse_nested_open(url: str, flags: int, options: dict) -> Any:
    """PyAV's ``io_open``: a demuxer asking for another file or URL (a playlist's segment, a MOV data
    reference) gets an error; an upload is one self-contained file."""
    raise PermissionError("posekit: a video may not refer to other files or URLs")


def open_video_stream(file: Any, name: str, av: Any) -> Any:
    """Open a video from a binary file object (seekable), its demuxer chosen from its own signature.

    No protocol handler ever sees a name (FFmpeg reads through the file object only), the demuxer is forced
    (no probing), nested opens are refused and the protocol whitelist is empty.

    Raises:
        VideoError: not an MP4/MOV, WebM/MKV or AVI by its signature (the message says what it looks like),
            or FFmpeg cannot read it.
    """
    try:
        head = file.read(512)
        file.seek(0)
    except Exception as exc:  # zip members and other streams: corrupt data surfaces here
        raise VideoError(f"{name}: expected {VIDEO_CONTAINERS}, could not read it ({error_reason(exc)})") from None
    fmt = sniff_video_format(head)
    if fmt is None:
        got = describe_content(head)
        got += " (a still image, not a video)" if got.endswith(" image") else ""
        raise VideoError(f"{name}: expected a video file ({VIDEO_CONTAINERS}), got {got}")
    try:
        return av.open(
            file,
            mode="r",
            format=fmt,
            io_open=_refuse_nested_open,
            container_options={"protocol_whitelist": "none", "enable_drefs": "0"} if fmt == "mov" else
            {"protocol_whitelist": "none"},
        )  # fmt: skip
    except av.error.FFmpegError as exc:
        raise VideoError(
            f"{name}: expected a video file ({VIDEO_CONTAINERS}), but FFmpeg cannot read it ({ffmpeg_message(exc)})"
        ) from None
    except Exception as exc:  # a nested open refused, or the stream failed under FFmpeg
        raise VideoError(
            f"{name}: expected a self-contained video file, could not read it ({error_reason(exc)})"
        ) from None


class _Input:
    """An opened upload: the container and the file object it reads (closed together)."""

    def __init__(self, container: Any, file: Any) -> None:
        self.container, self.file = container, file

    def close(self) -> None:
        try:
            self.container.close()
        finally:
            self.file.close()


def open_input(path: Path, av: Any) -> _Input:
    try:
        file = open(path, "rb")  # noqa: SIM115 - closed by _Input.close
    except OSError as exc:
        raise VideoError(f"{path.name}: expected a readable video file ({exc.strerror})") from None
    try:
        container = open_video_stream(file, path.name, av)
        if not container.streams.video:
            container.close()
            raise VideoError(f"{path.name}: expected a video, but the file holds no video stream")
    except BaseException:
        file.close()
        raise
    return _Input(container, file)
