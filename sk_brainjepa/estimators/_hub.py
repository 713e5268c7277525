"""Hugging Face Hub interop for pretrained folders (optional ``hub`` extra).

:func:`locate_pretrained` turns a ``checkpoint`` or ``folder`` argument into a
local path: an existing file or folder is used as it is; a string that does
not exist here and looks like a Hub repo id (``"org/name"``) is fetched with
``huggingface_hub.snapshot_download`` (which reuses its local cache and
honours ``HF_HUB_OFFLINE``). ``push_to_hub`` (in
:mod:`~sk_brainjepa.estimators._hub_upload`, above ``_pretrained``, which
uses this module) writes a folder with ``save_pretrained`` into a temporary
directory and uploads it. ``huggingface_hub`` is imported only when needed.
"""

from __future__ import annotations

import importlib
import logging
import re
from pathlib import Path

__all__ = ["HUB_EXTRA", "locate_pretrained", "looks_like_repo_id"]

logger = logging.getLogger(__name__)

HUB_EXTRA = 'pip install "sk_brainjepa[hub]"'
# Hub ids are "<owner>/<name>" with letters, digits, '-', '_' and '.'.
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")
# A missing "runs/model.pt" is a mistyped file, not a repo to download.
_FILE_SUFFIXES = (".pt", ".pth", ".tar", ".ckpt", ".bin", ".safetensors", ".json",
                  ".csv", ".npy", ".npz")  # fmt: skip


def looks_like_repo_id(value) -> bool:
    """Whether ``value`` is a string shaped like a Hub repo id (``"org/name"``)."""
    return (
        isinstance(value, str)
        and bool(_REPO_ID.match(value))
        and ".." not in value
        and not value.lower().endswith(_FILE_SUFFIXES)
    )


def _hub():
    """The ``huggingface_hub`` module, or an ImportError naming the extra."""
    try:
        return importlib.import_module("huggingface_hub")
    except ImportError:
        raise ImportError(
            "Reading from or pushing to the Hugging Face Hub needs huggingface_hub: "
            f"{HUB_EXTRA}."
        ) from None


def _hub_errors(hub) -> tuple:
    """The exceptions a failed download raises, across huggingface_hub versions."""
    try:
        module = importlib.import_module("huggingface_hub.errors")
    except ImportError:  # before 0.23 they lived in huggingface_hub.utils
        module = hub.utils
    names = ("HfHubHTTPError", "LocalEntryNotFoundError", "EntryNotFoundError",
             "OfflineModeIsEnabled", "HFValidationError")  # fmt: skip
    return (OSError, ValueError) + tuple(
        getattr(module, name) for name in names if hasattr(module, name)
    )


def locate_pretrained(name, *, revision=None, want: str = "any") -> Path:
    """A local path for a checkpoint file, a pretrained folder or a Hub repo id.

    Parameters
    ----------
    name : str or os.PathLike
        An existing file or folder, or a Hub repo id such as ``"org/name"``
        (only a ``str`` can be a repo id).
    revision : str or None, default=None
        Branch, tag or commit of a repo id (default: ``main``).
    want : {"any", "folder"}, default="any"
        ``"folder"`` refuses an existing file.

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    ValueError
        When ``name`` is neither an existing path nor a repo id that could be
        fetched (the Hub's own reason is in the message).
    ImportError
        When a repo id is given and ``huggingface_hub`` is not installed.
    """
    path = Path(name)
    if path.exists():
        if want == "folder" and not path.is_dir():
            raise ValueError(
                f"{path} is a file; expected a pretrained-model folder written by "
                "save_pretrained (a .pt file from save() loads with "
                "BrainJEPAPretrainer.load)."
            )
        return path
    if not looks_like_repo_id(name):
        raise ValueError(
            f"{name} does not exist (as a file or folder), and it is not a Hugging "
            "Face Hub repo id of the form 'org/name'."
        )
    hub = _hub()
    logger.info("fetching %s from the Hugging Face Hub (or its local cache)", name)
    try:
        local = hub.snapshot_download(repo_id=name, revision=revision)
    except _hub_errors(hub) as exc:
        raise ValueError(
            f"{name!r} is not a local file or folder, and fetching it as a Hugging "
            f"Face Hub repo failed ({type(exc).__name__}: {exc})."
        ) from exc
    return Path(local)
