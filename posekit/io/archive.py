"""Reading ZIP uploads safely: bounded members and sizes, no path escapes, nothing extracted to disk.

Every check runs on the central directory before any member is inflated (member count, names that escape,
names listed twice, encrypted members), and the inflated bytes of each member are counted as they stream,
since the sizes a ZIP declares can lie.
"""

from __future__ import annotations

import os
import posixpath
import zipfile
from collections import Counter
from pathlib import Path
from typing import BinaryIO

from posekit.limits import DEFAULT_LIMITS, LimitError, Limits, error_reason


class ArchiveError(ValueError):
    """A ZIP that is not readable or breaks a rule; the message names the archive and the member."""


def _safe_name(name: str) -> bool:
    if not name or name.startswith(("/", "\\")) or "\\" in name or ":" in name.split("/")[0]:
        return False
    normal = posixpath.normpath(name)
    return not (normal == ".." or normal.startswith("../"))


class SafeZip:
    """A read-only view of a ZIP archive that enforces :class:`~posekit.limits.Limits`.

    Args:
        path: the archive.
        limits: bounds on members, inflated size and compression ratio.

    Raises:
        ArchiveError: not a ZIP, or a member name escapes the archive (absolute, ``..``, drive letters).
        LimitError: too many members, or declared sizes over the bounds.
    """

    def __init__(self, path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS) -> None:
        self.path = Path(path)
        self.limits = limits
        limits.check_file(self.path)
        try:
            self._zip = zipfile.ZipFile(self.path)
        except Exception as exc:  # BadZipFile, OSError, and what a crafted directory raises (ValueError...)
            raise ArchiveError(
                f"{self.path.name}: expected a ZIP archive, could not read it ({error_reason(exc)})"
            ) from None
        infos = self._zip.infolist()
        if len(infos) > limits.max_archive_members:
            self._zip.close()
            raise LimitError(
                f"{self.path.name}: {len(infos):,} archive members is over the limit of {limits.max_archive_members:,}"
            )
        bad = [i.filename for i in infos if not _safe_name(i.filename)]
        if bad:
            self._zip.close()
            raise ArchiveError(f"{self.path.name}: refusing member names that leave the archive: {bad[:3]}")
        twice = sorted(name for name, count in Counter(i.filename for i in infos).items() if count > 1)
        if twice:
            self._zip.close()
            raise ArchiveError(
                f"{self.path.name}: expected each member name once, found {len(twice)} repeated: {twice[:3]} "
                "(an archive that says two things at once is refused)"
            )
        locked = [i.filename for i in infos if i.flag_bits & 0x1]
        if locked:
            self._zip.close()
            raise ArchiveError(
                f"{self.path.name}: expected an archive without passwords, {len(locked)} members are encrypted: "
                f"{locked[:3]}"
            )
        if infos and min(i.header_offset for i in infos) != 0:
            self._zip.close()
            raise ArchiveError(
                f"{self.path.name}: expected a ZIP archive, got other data before its first member "
                "(a self-extracting or polyglot file)"
            )
        self._infos = {i.filename: i for i in infos if not i.is_dir()}
        self._inflated = 0

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    def names(self) -> list[str]:
        """Member file names (folders omitted), in archive order."""
        return list(self._infos)

    def __contains__(self, name: str) -> bool:
        return name in self._infos

    def size(self, name: str) -> int:
        """Declared uncompressed size of a member."""
        return self._info(name).file_size

    def _info(self, name: str) -> zipfile.ZipInfo:
        try:
            return self._infos[name]
        except KeyError:
            raise ArchiveError(f"{self.path.name}: expected a member {name!r}, it is missing") from None

    def open(self, name: str) -> BinaryIO:
        """A seekable read-only stream over one member, for decoders that read incrementally (videos).

        The member's declared size is charged to the inflate budget up front and checked against the
        compression-ratio bound; Python's ``zipfile`` never yields more than the declared size and checks the
        CRC at the end, so a lying header ends in an error, not in more bytes.
        """
        info = self._info(name)
        budget = self.limits.max_inflated_bytes - self._inflated
        if info.file_size > budget:
            raise LimitError(f"{self.path.name}:{name}: inflates past the limit of {budget:,} bytes")
        if info.file_size > max(int(info.compress_size * self.limits.max_compression_ratio), 32 * 1024**2):
            raise LimitError(
                f"{self.path.name}:{name}: compression ratio over {self.limits.max_compression_ratio:g} (a zip bomb?)"
            )
        try:
            stream = self._zip.open(info)
        except Exception as exc:  # BadZipFile, unsupported compression, a lying local header...
            raise ArchiveError(f"{self.path.name}:{name}: corrupt member ({error_reason(exc)})") from None
        self._inflated += info.file_size
        return stream

    def read(self, name: str, max_bytes: int | None = None) -> bytes:
        """Inflate one member, stopping as soon as it exceeds ``max_bytes``, the archive's remaining
        inflate budget, or the compression-ratio bound."""
        info = self._info(name)
        budget = self.limits.max_inflated_bytes - self._inflated
        cap = budget if max_bytes is None else min(budget, max_bytes)
        # Small members may compress extremely well (an empty depth map); only large inflation is a bomb.
        ratio_cap = max(int(info.compress_size * self.limits.max_compression_ratio), 32 * 1024**2)
        # A declared size can only understate (zipfile stops at it), so one over a cap is refused unread.
        if info.file_size > cap:
            raise LimitError(
                f"{self.path.name}:{name}: inflates past the limit of {cap:,} bytes (its header declares "
                f"{info.file_size:,})"
            )
        if info.file_size > ratio_cap:
            raise LimitError(
                f"{self.path.name}:{name}: compression ratio over {self.limits.max_compression_ratio:g} (a zip bomb?)"
            )
        chunks, total = [], 0
        with self._open_raw(name, info) as f:
            while chunk := self._chunk(f, name):
                total += len(chunk)
                if total > cap:
                    raise LimitError(f"{self.path.name}:{name}: inflates past the limit of {cap:,} bytes")
                if total > ratio_cap:
                    raise LimitError(
                        f"{self.path.name}:{name}: compression ratio over "
                        f"{self.limits.max_compression_ratio:g} (a zip bomb?)"
                    )
                chunks.append(chunk)
        self._inflated += total
        return b"".join(chunks)

    def _open_raw(self, name: str, info: zipfile.ZipInfo) -> BinaryIO:
        try:
            return self._zip.open(info)
        except Exception as exc:  # BadZipFile, unsupported compression, a lying local header...
            raise ArchiveError(f"{self.path.name}:{name}: corrupt member ({error_reason(exc)})") from None

    def _chunk(self, f: BinaryIO, name: str) -> bytes:
        try:
            return f.read(1 << 20)
        except Exception as exc:  # BadZipFile (CRC), zlib.error, EOFError: corrupt or truncated data
            raise ArchiveError(f"{self.path.name}:{name}: corrupt member ({error_reason(exc)})") from None
