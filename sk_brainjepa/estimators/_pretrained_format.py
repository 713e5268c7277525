"""The pretrained-model folder on disk: its files, written atomically, read safely.

A folder holds::

    model.safetensors          every module's tensors, "<module>.<state-dict key>",
                               and the gradient matrix, "positions.gradients"
    config.json                format tag and version, configs, TR, atlas, ROI
                               names, parameters, history (see _pretrained.py)
    gradients.csv              the ROI positions, header-less (official layout)
    preprocessing.safetensors  fitted scaling statistics (only when there are some)
    README.md                  the model card

No file is ever unpickled: tensors are read with ``safetensors`` and
everything else is JSON or text. A folder is written beside its destination
under a hidden temporary name and renamed into place, so an interrupted save
leaves either the previous folder, untouched, or the new one, complete.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from sk_brainjepa._utils._io import atomic_folder, json_safe

__all__ = [
    "CONFIG_FILE",
    "FORMAT",
    "FORMAT_VERSION",
    "GRADIENTS_FILE",
    "MODEL_FILE",
    "PREPROCESSING_FILE",
    "CARD_FILE",
    "FolderContents",
    "is_pretrained_folder",
    "read_folder",
    "write_folder",
]

logger = logging.getLogger(__name__)

FORMAT = "sk_brainjepa.pretrained"
# Raised when a reader can no longer read what a writer writes.
FORMAT_VERSION = 1
MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
GRADIENTS_FILE = "gradients.csv"
PREPROCESSING_FILE = "preprocessing.safetensors"
CARD_FILE = "README.md"
# The pseudo-module of model.safetensors that holds the gradient matrix.
POSITIONS = "positions"


@dataclass
class FolderContents:
    """Everything a pretrained folder holds, in memory.

    Attributes
    ----------
    config : dict
        What ``config.json`` holds (plain JSON values; NaN allowed, written as null).
    states : dict of str to dict of str to Tensor
        Module name (``"encoder"``, ``"target_encoder"``, ``"predictor"``,
        ``"reconstruction_head"``) -> its state dict.
    gradients : ndarray of shape (n_rois, m)
        float32; written to ``gradients.csv`` unless ``gradient_file`` is given.
    gradient_file : Path or None
        A gradient CSV copied byte for byte as ``gradients.csv`` (the official
        ``gradient_mapping_450.csv``).
    preprocessing_arrays : dict of str to ndarray
        Fitted scaling statistics for ``preprocessing.safetensors``.
    card : str
        The ``README.md`` text.
    """

    config: dict
    states: dict
    gradients: np.ndarray
    gradient_file: Path | None = None
    preprocessing_arrays: dict = field(default_factory=dict)
    card: str = ""


def is_pretrained_folder(path) -> bool:
    """Whether ``path`` is a folder with a ``config.json`` of this format."""
    config = Path(path) / CONFIG_FILE
    if not config.is_file():
        return False
    try:
        return json.loads(config.read_text(encoding="utf-8")).get("format") == FORMAT
    except (ValueError, OSError, AttributeError):
        return False


# ------------------------------------------------------------------- JSON
def _json_text(config: dict) -> str:
    return json.dumps(json_safe(config), indent=2, allow_nan=False) + "\n"


# ------------------------------------------------------------------ write
def _flat_tensors(states: dict) -> dict[str, torch.Tensor]:
    """``"<module>.<key>"`` -> a contiguous CPU tensor that owns its memory."""
    flat = {}
    for module, state in states.items():
        for key, value in state.items():
            # safetensors refuses tensors that share memory: each gets its own copy.
            flat[f"{module}.{key}"] = value.detach().cpu().contiguous().clone()
    return flat


def _fill(tmp: Path, contents: FolderContents) -> None:
    """Write every file of ``contents`` into the (new, empty) folder ``tmp``."""
    from safetensors.numpy import save_file as save_numpy
    from safetensors.torch import save_file as save_torch

    from sk_brainjepa.gradients import write_gradient_csv

    meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION)}
    gradients = np.ascontiguousarray(contents.gradients, dtype=np.float32)
    states = {**contents.states, POSITIONS: {"gradients": torch.from_numpy(gradients)}}
    save_torch(_flat_tensors(states), str(tmp / MODEL_FILE), metadata=meta)
    if contents.gradient_file is not None:
        shutil.copyfile(contents.gradient_file, tmp / GRADIENTS_FILE)
    else:
        write_gradient_csv(gradients, tmp / GRADIENTS_FILE)
    if contents.preprocessing_arrays:
        save_numpy(
            {
                k: np.ascontiguousarray(v)
                for k, v in contents.preprocessing_arrays.items()
            },
            str(tmp / PREPROCESSING_FILE),
            metadata=meta,
        )
    (tmp / CONFIG_FILE).write_text(_json_text(contents.config), encoding="utf-8")
    (tmp / CARD_FILE).write_text(contents.card, encoding="utf-8")
    for path in tmp.iterdir():  # durable before the rename makes them visible
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())


def check_destination(folder, overwrite: bool) -> Path:
    """``folder``, checked before any work: absent, empty, or ``overwrite=True``.

    Raises
    ------
    ValueError
        When ``folder`` is a file, its parent does not exist, or it is a
        non-empty folder and ``overwrite`` is False.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"Cannot save to {folder}: it is a file, not a folder.")
    parent = folder.parent if str(folder.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"Cannot save to {folder}: folder {parent} does not exist.")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise ValueError(
            f"{folder} exists and is not empty; pass overwrite=True to replace it "
            "(it is replaced only once the new folder is complete)."
        )
    return folder


def write_folder(folder, contents: FolderContents, *, overwrite: bool = False) -> Path:
    """Write a pretrained folder atomically.

    The files are written into a hidden temporary folder beside ``folder``,
    which is then renamed into place. An existing folder is moved aside first
    and deleted only after the rename succeeded; on any failure it is put
    back, so its contents are never lost.

    Parameters
    ----------
    folder : str or os.PathLike
    contents : FolderContents
    overwrite : bool, default=False
        Replace a non-empty existing folder.

    Returns
    -------
    folder : pathlib.Path
    """
    folder = check_destination(folder, overwrite)
    atomic_folder(folder, lambda tmp: _fill(tmp, contents))
    logger.info("wrote pretrained model folder %s", folder)
    return folder


# ------------------------------------------------------------------- read
@dataclass
class ReadFolder:
    """A pretrained folder as read: config, state dicts, gradients, statistics."""

    path: Path
    config: dict
    states: dict
    gradients: torch.Tensor  # (n_rois, m), float32
    preprocessing_arrays: dict


def _read_config(path: Path) -> dict:
    config_path = path / CONFIG_FILE
    if not config_path.is_file():
        raise ValueError(
            f"{path} is not a pretrained model folder: it has no {CONFIG_FILE} "
            "(folders are written by save_pretrained or convert_official_checkpoint)."
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{config_path} is not valid JSON: {exc}") from None
    tag = config.get("format") if isinstance(config, dict) else None
    if tag != FORMAT:
        raise ValueError(
            f"{config_path} is not a sk_brainjepa pretrained-model config (its "
            f"format tag is {tag!r}; expected {FORMAT!r})."
        )
    version = config.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"{path} was written in format version {version!r}; this sk_brainjepa "
            f"reads up to version {FORMAT_VERSION}. Upgrade sk_brainjepa."
        )
    return config


def _split_states(flat: dict, path: Path) -> dict:
    states: dict = {}
    for name, tensor in flat.items():
        module, sep, key = name.partition(".")
        if not sep:
            raise ValueError(f"{path / MODEL_FILE}: tensor {name!r} names no module.")
        states.setdefault(module, {})[key] = tensor
    return states


def read_folder(path) -> ReadFolder:
    """Read and check a pretrained folder (no unpickling anywhere).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    folder : ReadFolder

    Raises
    ------
    ValueError
        For a folder of another format or a newer format version, a missing
        file or module, or gradients that disagree with ``gradients.csv``.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file as load_numpy
    from safetensors.torch import load_file as load_torch

    from sk_brainjepa.gradients import read_gradient_csv

    path = Path(path)
    config = _read_config(path)
    try:
        states = _split_states(load_torch(str(path / MODEL_FILE), device="cpu"), path)
        arrays = {}
        if (path / PREPROCESSING_FILE).is_file():
            arrays = load_numpy(str(path / PREPROCESSING_FILE))
    except (SafetensorError, FileNotFoundError, OSError) as exc:
        raise ValueError(
            f"Could not read the tensors of {path}: {exc}. The folder is incomplete "
            "or damaged."
        ) from None
    missing = [m for m in config.get("modules", []) if m not in states]
    if missing or "target_encoder" not in states:
        raise ValueError(
            f"{path / MODEL_FILE} lacks the module(s) "
            f"{missing or ['target_encoder']} that {CONFIG_FILE} lists."
        )
    gradients = states.pop(POSITIONS, {}).get("gradients")
    if gradients is None:
        raise ValueError(f"{path / MODEL_FILE} lacks the gradient matrix.")
    csv = path / GRADIENTS_FILE
    if csv.is_file():
        # The CSV is what people and the official code read; the model uses the
        # tensor. A folder where they disagree was edited by hand.
        from_csv = read_gradient_csv(csv).astype(np.float32)
        if from_csv.shape != tuple(gradients.shape) or not np.array_equal(
            from_csv, gradients.numpy()
        ):
            raise ValueError(
                f"{csv} (shape {from_csv.shape}) differs from the gradients stored "
                f"in {MODEL_FILE} (shape {tuple(gradients.shape)}); the folder was "
                "changed after it was written."
            )
    return ReadFolder(path, config, states, gradients, arrays)
