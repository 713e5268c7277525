"""Atomic file and folder writes: nothing a user saved is ever left half-written."""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np


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


def atomic_folder(folder, fill: Callable) -> Path:
    """Fill a new folder with ``fill(tmp)``, then put it at ``folder`` atomically.

    The files are written into a hidden temporary folder beside ``folder``,
    which is then renamed into place. An existing folder is moved aside first
    and deleted only after the rename succeeded; on any failure it is put
    back, so ``folder`` holds its old contents or all of the new ones, never a
    mixture, and nothing a user saved is lost.

    Parameters
    ----------
    folder : str or os.PathLike
        Its parent must exist; the caller decides whether replacing an
        existing folder is allowed.
    fill : callable
        Called with the temporary folder (a :class:`pathlib.Path`).

    Returns
    -------
    folder : pathlib.Path
    """
    folder = Path(folder)
    parent = folder.parent if str(folder.parent) else Path(".")
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=parent))
    aside = None
    try:
        fill(tmp)
        # mkdtemp makes a private folder; what is written here is meant to be read.
        os.chmod(tmp, 0o755)
        if folder.is_dir():
            aside = Path(
                tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".old", dir=parent)
            )
            os.replace(folder, aside / folder.name)
        os.replace(tmp, folder)
    except BaseException:
        if aside is not None and not folder.exists():
            os.replace(aside / folder.name, folder)
        shutil.rmtree(tmp, ignore_errors=True)
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
    return folder


def json_safe(value, *, other: Callable | None = None):
    """``value`` with what strict JSON cannot hold replaced.

    Dict keys become text, tuples lists, numpy scalars Python numbers, and
    NaN or infinite floats None (strict JSON has no such numbers).

    Parameters
    ----------
    value : object
    other : callable or None, default=None
        Applied to values of any other type (e.g. ``str``); None leaves them,
        so that ``json.dumps`` refuses what it cannot write.

    Returns
    -------
    value : object
    """
    if isinstance(value, dict):
        return {str(k): json_safe(v, other=other) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, other=other) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)) or other is None:
        return value
    return other(value)
