"""Atomic file writes: nothing a user saved is ever left half-written."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path, write: Callable, *, binary: bool) -> Path:
    """Write a file through a temporary sibling and move it into place.

    ``write(fh)`` fills an open file; the temporary file is flushed, synced and
    renamed over ``path`` with :func:`os.replace`, which is atomic on POSIX and
    Windows. An interrupted or failing write leaves any previous file intact and
    no temporary behind.

    Parameters
    ----------
    path : str or os.PathLike
    write : callable
        Called with the open file object.
    binary : bool
        Open the file in binary (True) or text mode.

    Returns
    -------
    path : pathlib.Path
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ValueError(f"Cannot save to {path}: folder {folder} does not exist.")
    # Keep the mode of a file being replaced; mkstemp would make it private (0600).
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(
            fd, "wb" if binary else "w", **({} if binary else {"newline": "\n"})
        ) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
