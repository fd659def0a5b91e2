"""Writing files atomically: a result appears whole at its final name, or not at all.

Every writer of posekit goes through :func:`atomic_path` (or :func:`atomic_write` for a file object): the data
goes to a temporary name in the target folder and is renamed into place once complete. The temporary file is
created private (``mkstemp``'s 0600); the published file gets the mode a plain ``open()`` would have given it
under the user's umask (0644 under umask 022), so results are readable by whoever could read a normal file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def _umask() -> int:
    """The process umask. Linux shows it in /proc; elsewhere it can only be read by setting it, briefly (which
    races with threads creating files meanwhile, hence /proc first)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def publish(tmp: str | os.PathLike, path: str | os.PathLike, directory: bool = False) -> Path:
    """Give ``tmp`` the umask's default mode and rename it to ``path`` (replacing a file there)."""
    os.chmod(tmp, (0o777 if directory else 0o666) & ~_umask())
    if directory and Path(path).is_dir():
        shutil.rmtree(path)
    os.replace(tmp, path)
    return Path(path)


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed to ``path`` if the block succeeds, else removed.

    Args:
        suffix: the temporary name's ending, for writers that pick a format from it (``".mp4"``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".part{suffix}")
    os.close(fd)
    try:
        yield Path(tmp)
        publish(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; it becomes ``path`` only if the block succeeds."""
    with atomic_path(path) as tmp, open(tmp, mode) as f:
        yield f


@contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary folder beside ``path`` to fill; renamed to ``path`` (replacing one there) on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part"))
    try:
        yield tmp
        publish(tmp, path, directory=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
