"""Finding weights: a local weights folder, the Hugging Face Hub (with its cache), or a pinned URL.

Order of search for a file:

1. ``$POSEKIT_WEIGHTS_DIR`` (a plain folder holding the upstream file names), if set;
2. the Hugging Face Hub through ``huggingface_hub`` and its cache (``cache_dir``, ``HF_HOME``,
   ``HF_HUB_CACHE``; ``HF_HUB_OFFLINE=1`` uses the cache only), or, for files that are not on the Hub,
   a pinned URL downloaded once into ``$POSEKIT_CACHE`` (default ``~/.cache/posekit``).

When nothing can be found, :class:`WeightsNotFoundError` says what was looked for and where.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

from posekit.io.atomic import publish

WEIGHTS_DIR_ENV = "POSEKIT_WEIGHTS_DIR"
CACHE_ENV = "POSEKIT_CACHE"


class WeightsNotFoundError(FileNotFoundError):
    """No copy of a weights file could be found or fetched; the message lists what was tried."""


def weights_dir() -> Path | None:
    """The local weights folder from ``$POSEKIT_WEIGHTS_DIR``, or None when unset."""
    value = os.environ.get(WEIGHTS_DIR_ENV)
    return Path(value).expanduser() if value else None


def offline() -> bool:
    """True when the user asked for no network (``HF_HUB_OFFLINE`` or ``POSEKIT_OFFLINE``)."""
    flags = ("HF_HUB_OFFLINE", "POSEKIT_OFFLINE")
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes", "on") for v in flags)


def cache_root() -> Path:
    """Where pinned-URL downloads are cached: ``$POSEKIT_CACHE`` or ``~/.cache/posekit``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "posekit").expanduser()


def find_local(names: list[str], folder: Path | None = None) -> Path | None:
    """The first of ``names`` (files or folders) present in ``folder`` (default: ``$POSEKIT_WEIGHTS_DIR``)."""
    folder = folder if folder is not None else weights_dir()
    if folder is None:
        return None
    for name in names:
        candidate = folder / name
        if candidate.exists():
            return candidate
    return None


def hf_file(repo_id: str, filename: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """One file of a Hub repo: from ``$POSEKIT_WEIGHTS_DIR`` if there, else ``hf_hub_download`` (cached).

    Raises:
        WeightsNotFoundError: not in the weights folder, and neither in the cache nor downloadable.
    """
    local = find_local([filename])
    if local is not None:
        return local
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(repo_id, filename, cache_dir=cache_dir, local_files_only=offline()))
    except Exception as exc:  # huggingface_hub raises many kinds: offline, 404, connection, auth
        folder = weights_dir()
        raise WeightsNotFoundError(
            f"cannot get {filename!r} from the Hugging Face repo {repo_id!r} "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). Looked in "
            f"{WEIGHTS_DIR_ENV}={str(folder) if folder else '(unset)'}, the hub cache"
            f"{f' {cache_dir}' if cache_dir else ''}{' (offline mode)' if offline() else ', and the network'}. "
            f"Download the file and put it in a folder named by {WEIGHTS_DIR_ENV}."
        ) from exc


def url_file(url: str, relative_path: str, sha256: str | None = None) -> Path:
    """A file from a pinned URL, downloaded once into ``cache_root() / relative_path``.

    The download goes to a temporary file and is moved into place only when complete (and, with
    ``sha256``, verified), so an interrupted download never leaves a half-written cache entry.
    """
    target = cache_root() / relative_path
    if target.is_file():
        return target
    if offline():
        raise WeightsNotFoundError(
            f"{relative_path!r} is not cached at {target} and offline mode is on; "
            f"fetch {url} once with the network, or point {WEIGHTS_DIR_ENV} at a local copy"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            shutil.copyfileobj(response, out)
        if sha256 is not None:
            digest = hashlib.sha256(Path(tmp).read_bytes()).hexdigest()
            if digest != sha256:
                raise WeightsNotFoundError(f"{url}: expected sha256 {sha256}, downloaded {digest}")
        publish(tmp, target)
    except WeightsNotFoundError:
        raise
    except Exception as exc:
        raise WeightsNotFoundError(
            f"cannot download {url} ({type(exc).__name__}: {exc}); "
            f"put the file in a folder named by {WEIGHTS_DIR_ENV} instead"
        ) from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
