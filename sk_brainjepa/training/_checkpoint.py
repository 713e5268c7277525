"""Checkpoint files: written atomically, read without unpickling arbitrary objects."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch


def save_checkpoint(payload: dict, path) -> Path:
    """Write ``payload`` with :func:`torch.save`, atomically.

    The file is first written next to its destination and then moved over it
    with :func:`os.replace`, so an interrupted save never leaves a truncated
    checkpoint where a good one was.

    Parameters
    ----------
    payload : dict
        Tensors, state dicts and plain Python values (str, int, float, bool,
        None, lists, dicts), i.e. what ``torch.load(weights_only=True)`` reads.
    path : str or os.PathLike

    Returns
    -------
    path : pathlib.Path
    """
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise ValueError(f"Cannot save to {path}: folder {path.parent} does not exist.")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load_checkpoint(path) -> dict:
    """Read a checkpoint safely (``weights_only=True``) onto the CPU.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    payload : dict
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"Checkpoint {path} does not exist or is not a file.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for unreadable files
        raise ValueError(
            f"Could not read checkpoint {path} safely (weights_only=True): {exc}"
        ) from exc
    if not isinstance(payload, dict):
        raise ValueError(
            f"Checkpoint {path} holds a {type(payload).__name__}; expected a dict."
        )
    return payload
