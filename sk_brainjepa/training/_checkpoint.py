"""Checkpoint files: written atomically, read without unpickling arbitrary objects."""

from __future__ import annotations

import pickle
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
    except pickle.UnpicklingError:
        # torch's own message advises weights_only=False, which would run any
        # code a malicious file carries: never repeat that advice.
        raise ValueError(
            f"Checkpoint {path} holds Python objects other than tensors and plain "
            "values; it was not written by sk_brainjepa (or by Brain-JEPA's "
            "training script) and is refused without being unpickled."
        ) from None
    except Exception as exc:  # torch raises several types for unreadable files
        raise ValueError(
            f"Could not read checkpoint {path}: it is not a PyTorch checkpoint "
            f"or it is damaged ({type(exc).__name__})."
        ) from None
    if not isinstance(payload, dict):
        raise ValueError(
            f"Checkpoint {path} holds a {type(payload).__name__}; expected a dict."
        )
    return payload


def require_keys(payload: dict, keys, path, what: str) -> None:
    """Raise one clear error when a checkpoint dict lacks entries it needs.

    Parameters
    ----------
    payload : dict
        What :func:`load_checkpoint` returned.
    keys : iterable of str
        The entries ``what`` reads.
    path : str or os.PathLike
        The file, named in the message.
    what : str
        Who reads it (e.g. ``"BrainJEPAPretrainer.load"``).
    """
    missing = [key for key in keys if key not in payload]
    if missing:
        raise ValueError(
            f"Checkpoint {path} lacks {', '.join(repr(k) for k in missing)}, which "
            f"{what} needs: it is incomplete or was written by other software."
        )
