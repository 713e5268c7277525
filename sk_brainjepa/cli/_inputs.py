"""What the commands read and write: data, gradient, FC, feature and phenotype files.

Every check runs before any work, and every problem with a user's file is a
:class:`CommandError`: one line, exit status 2.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype

FEATURE_SUFFIXES = (".csv", ".tsv", ".npz")
SCORE_SUFFIXES = (".csv", ".tsv")


class CommandError(Exception):
    """A user error: printed as one line, exit status 2, no traceback."""


def is_main_rank() -> bool:
    """Whether this process writes files and logs progress (rank 0 of torchrun)."""
    return os.environ.get("RANK", "0") == "0"


# ------------------------------------------------------------------ checks
def check_output(path: Path, suffixes=None) -> Path:
    """``--out``, checked before any work: a file name in a writable folder."""
    folder = path.parent
    if path.is_dir():
        raise CommandError(f"--out {path} is a folder; expected a file name.")
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise CommandError(
            f"--out {path}: expected a {', '.join(suffixes)} file; got suffix "
            f"{path.suffix!r}."
        )
    if not folder.is_dir():
        raise CommandError(f"output folder {folder} does not exist.")
    if not os.access(folder, os.W_OK):
        raise CommandError(f"output folder {folder} is not writable.")
    return path


def check_input_file(path: Path, what: str) -> Path:
    """A file the command reads: present, a file and not a folder."""
    if path.is_dir():
        raise CommandError(f"{what} {path} is a folder; expected a file.")
    if not path.is_file():
        raise CommandError(f"{what} {path} does not exist.")
    return path


def check_gradient_file(path) -> None:
    """Read a gradient CSV up front, so a bad one fails before any work."""
    from sk_brainjepa.gradients import read_gradient_csv

    check_input_file(Path(path), "gradient file")
    try:
        read_gradient_csv(path)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc


# ------------------------------------------------------------- time series
def open_source(paths, args):
    """The time series named on the command line, read with the data options."""
    from sk_brainjepa.preprocessing import SubjectRobustScaler
    from sk_brainjepa.sources import ScaledSource, as_source

    data = paths[0] if len(paths) == 1 else list(paths)
    for path in paths:
        if not Path(path).exists():
            raise CommandError(f"data path {path} does not exist.")
    header = {"infer": "infer", "yes": True, "no": False}[args.header]
    try:
        source = as_source(
            data,
            layout=args.layout,
            pattern=args.pattern,
            npz_key=args.npz_key,
            delimiter=args.delimiter,
            header=header,
            index_col=args.index_col,
        )
    except (FileNotFoundError, IsADirectoryError, ValueError) as exc:
        raise CommandError(str(exc)) from exc
    if args.scaling == "subject":
        source = ScaledSource(source, SubjectRobustScaler().to_window_transform())
    return source


def subject_ids(source) -> list[str]:
    """The source's subject ids, else 0, 1, 2, ... as text."""
    try:
        ids = getattr(source, "subject_ids", None)
    except ValueError as exc:  # two files with the same id
        raise CommandError(str(exc)) from exc
    return list(ids) if ids is not None else [str(i) for i in range(len(source))]


# ------------------------------------------------------------------ tables
def read_fc(path: Path) -> np.ndarray:
    """One (R, R) matrix or a (S, R, R) stack from .npy or .csv, as (S, R, R)."""
    from sk_brainjepa.sources import read_csv_table

    if path.is_dir():
        raise CommandError(
            f"FC file {path} is a folder; expected .npy/.csv files. For a folder "
            "of time series, add --timeseries."
        )
    check_input_file(path, "FC file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            fc = np.load(path, allow_pickle=False)
        elif suffix in (".csv", ".tsv"):
            fc = read_csv_table(
                path, header=None, sep="\t" if suffix == ".tsv" else ","
            ).to_numpy(dtype=float)
        else:
            raise CommandError(f"FC file {path}: expected .npy, .csv or .tsv.")
    except ValueError as exc:
        raise CommandError(f"FC file {path} could not be read: {exc}") from exc
    if fc.ndim == 2:
        fc = fc[np.newaxis]
    if fc.ndim != 3 or fc.shape[1] != fc.shape[2]:
        raise CommandError(
            f"FC file {path} holds shape {fc.shape}; expected (n_rois, n_rois) or "
            "(n_subjects, n_rois, n_rois). For time series, add --timeseries."
        )
    return fc


def read_features(path: Path) -> pd.DataFrame:
    """A features table as ``sk-brainjepa embed`` writes it, ids as text."""
    from sk_brainjepa.sources import read_csv_table

    check_input_file(path, "features file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv"):
            sep = "\t" if suffix == ".tsv" else ","
            head = read_csv_table(path, sep=sep, nrows=0)
            # Ids as text, so that "001" stays "001" rather than becoming 1.
            table = read_csv_table(
                path,
                head.attrs["encoding"],
                sep=sep,
                index_col=0,
                dtype={head.columns[0]: str} if len(head.columns) else None,
            )
            text = [c for c in table.columns if not is_numeric_dtype(table[c])]
            if text:
                raise ValueError(
                    f"column {text[0]!r} holds text, not numbers (e.g. "
                    f"{table[text[0]].dropna().iloc[0]!r})"
                )
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                if "features" not in data or "subject_ids" not in data:
                    raise CommandError(
                        f"{path} lacks the arrays 'features' and 'subject_ids' that "
                        "sk-brainjepa embed writes."
                    )
                table = pd.DataFrame(data["features"], index=data["subject_ids"])
        else:
            raise CommandError(f"features file {path}: expected .csv, .tsv or .npz.")
    except (ValueError, zipfile.BadZipFile) as exc:
        raise CommandError(
            f"features file {path} could not be read as the table 'sk-brainjepa "
            f"embed' writes (subject ids, then one column per feature): {exc}"
        ) from exc
    if table.shape[0] == 0 or table.shape[1] == 0:
        raise CommandError(
            f"features file {path} holds no features (shape {table.shape})."
        )
    table.index = table.index.astype(str)
    return table


def read_phenotypes(path: Path, id_column: str | None) -> pd.DataFrame:
    """The phenotype table, indexed by subject id."""
    from sk_brainjepa.sources import read_phenotype_table as read

    check_input_file(path, "phenotype table")
    try:
        return read(path, id_column)
    except ValueError as exc:
        message = str(exc)
        if id_column is not None and "subject_id_column" in message:
            message = message.replace("subject_id_column=", "--id-column ", 1)
        raise CommandError(message) from exc


def write_table(table: pd.DataFrame, out: Path) -> None:
    """Write ``table`` atomically as .csv, .tsv or .npz (features and ids)."""
    from sk_brainjepa._utils._io import atomic_write

    suffix = out.suffix.lower()
    if suffix in (".csv", ".tsv"):
        sep = "\t" if suffix == ".tsv" else ","
        atomic_write(out, lambda fh: table.to_csv(fh, sep=sep), binary=False)
    elif suffix == ".npz":
        atomic_write(
            out,
            lambda fh: np.savez(
                fh,
                features=table.to_numpy(),
                subject_ids=np.asarray(table.index, dtype=str),
            ),
            binary=True,
        )
    else:
        raise CommandError(f"--out {out}: expected a .csv, .tsv or .npz file.")
