"""Checkpoint files: written atomically, read without unpickling arbitrary objects."""

from __future__ import annotations

from pathlib import Path

import torch

from sk_brainjepa._utils._io import atomic_write


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
    return atomic_write(path, lambda fh: torch.save(payload, fh), binary=True)


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
