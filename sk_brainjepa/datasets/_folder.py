"""Load a cohort of ROI time series from a folder (or a list) of per-subject files."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from sk_brainjepa._utils._validation import LAYOUTS, check_timeseries

logger = logging.getLogger(__name__)

_EXTENSIONS = (".npy", ".npz", ".csv", ".tsv")
_LAYOUTS = LAYOUTS
_DEFAULT_SEPARATORS = {".csv": ",", ".tsv": "\t"}


class Cohort(NamedTuple):
    """What :func:`load_timeseries` returns; unpacks like a 3-tuple.

    Attributes
    ----------
    X : ndarray of shape (n_subjects, n_rois, n_timepoints) or list of ndarray
        One 3-D array when every subject has the same number of frames,
        otherwise a list of arrays of shape (n_rois, n_timepoints_i).
    subject_ids : list of str
        One id per subject (the file name without its extension), in the order
        of ``X``.
    phenotypes : pandas.DataFrame or None
        The phenotype table with one row per subject, indexed by
        ``subject_ids`` in the same order, or None when no table was given.
    """

    X: np.ndarray | list
    subject_ids: list
    phenotypes: pd.DataFrame | None


def _list_files(source, pattern: str | None) -> list[Path]:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            if pattern is None:
                files = [p for p in path.iterdir() if p.suffix.lower() in _EXTENSIONS]
            else:
                files = list(path.glob(pattern))
            files = sorted(p for p in files if p.is_file())
        elif path.is_file():
            if pattern is not None:
                raise ValueError("pattern can only be used when source is a folder.")
            files = [path]
        else:
            raise FileNotFoundError(f"source folder or file {path} does not exist.")
    elif isinstance(source, Sequence):
        if pattern is not None:
            raise ValueError(
                "pattern can only be used when source is a folder; got a list of "
                "files. Filter the list yourself instead."
            )
        if len(source) == 0:
            raise ValueError("source is an empty list; expected at least one file.")
        files = [Path(p) for p in source]
        for p in files:
            if not p.is_file():
                raise FileNotFoundError(f"File {p} in source does not exist.")
    else:
        raise ValueError(
            "source must be a folder path or a list of file paths; got "
            f"{type(source).__name__}."
        )
    for p in files:
        if p.suffix.lower() not in _EXTENSIONS:
            raise ValueError(
                f"File {p} has an unknown extension {p.suffix!r}; expected one of "
                f"{list(_EXTENSIONS)}."
            )
    return files


def _first_row(path: Path, sep: str) -> pd.Series:
    return pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str).iloc[0]


def _is_header(first: pd.Series, index_col: int | None) -> bool:
    """'infer' rule: the first row is a header if a data cell in it is not a number."""
    cells = first if index_col is None else first.drop(first.index[index_col])
    cells = cells.dropna()
    return bool(pd.to_numeric(cells, errors="coerce").isna().any())


def _read_table(
    path: Path, delimiter: str | None, header, index_col: int | None
) -> np.ndarray:
    suffix = path.suffix.lower()
    sep = delimiter if delimiter is not None else _DEFAULT_SEPARATORS[suffix]
    try:
        first = _first_row(path, sep)
        has_header = _is_header(first, index_col) if header == "infer" else header
        if has_header and index_col is None and pd.isna(first.iloc[0]):
            # An empty top-left cell is what DataFrame.to_csv writes above its
            # index: that column holds row labels, not data.
            index_col = 0
        df = pd.read_csv(
            path, sep=sep, header=0 if has_header else None, index_col=index_col
        )
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise ValueError(f"File {path} could not be parsed as a table: {exc}") from exc
    try:
        return df.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"File {path} contains non-numeric values ({exc}). If its first row "
            "holds names, pass header=True; if a column holds labels (e.g. ROI "
            "names or times), pass index_col."
        ) from exc


def _read_npz(path: Path, npz_key: str | None) -> np.ndarray:
    with np.load(path, allow_pickle=False) as archive:
        keys = list(archive.files)
        if npz_key is not None:
            if npz_key not in keys:
                raise ValueError(
                    f"File {path} has no array named npz_key={npz_key!r}; it holds "
                    f"{keys}."
                )
            return archive[npz_key]
        if len(keys) != 1:
            raise ValueError(
                f"File {path} holds {len(keys)} arrays {keys}; pass npz_key to say "
                "which one is the time series."
            )
        return archive[keys[0]]


def _read_subject(path: Path, *, layout, npz_key, delimiter, header, index_col):
    suffix = path.suffix.lower()
    if suffix == ".csv" or suffix == ".tsv":
        arr = _read_table(path, delimiter, header, index_col)
    else:
        try:
            if suffix == ".npy":
                arr = np.load(path, allow_pickle=False)
            else:
                arr = _read_npz(path, npz_key)
        except ValueError as exc:
            if "allow_pickle" not in str(exc):
                raise
            # Object arrays need pickle, which can run arbitrary code on load.
            raise ValueError(
                f"File {path} could not be loaded safely: it stores Python objects "
                "(pickle), which are refused. Save plain numeric arrays instead."
            ) from exc
    if (
        arr.dtype == object
        or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool)
        or np.iscomplexobj(arr)
    ):
        raise ValueError(f"File {path} must hold real numbers; got dtype {arr.dtype}.")
    if arr.ndim != 2:
        raise ValueError(
            f"File {path} holds an array of shape {arr.shape}; expected a 2-D "
            f"{layout.replace('_x_', ' x ')} array (one subject per file)."
        )
    if 0 in arr.shape:
        raise ValueError(f"File {path} holds an empty array of shape {arr.shape}.")
    if arr.dtype != np.float32:
        arr = arr.astype(np.float64)
    if layout == "time_x_rois":
        arr = arr.T
    n_bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
    if n_bad:
        raise ValueError(
            f"File {path} contains {n_bad} NaN or infinite value(s); expected "
            "finite values. Impute or drop the affected ROIs/frames first."
        )
    return np.ascontiguousarray(arr)


def _read_phenotypes(phenotypes, subject_id_column: str | None) -> pd.DataFrame:
    if isinstance(phenotypes, pd.DataFrame):
        table = phenotypes.copy()
        if subject_id_column is not None:
            if subject_id_column not in table.columns:
                raise ValueError(
                    f"subject_id_column={subject_id_column!r} is not a column of "
                    f"phenotypes; columns are {list(table.columns)}."
                )
            table = table.set_index(subject_id_column)
    elif isinstance(phenotypes, (str, os.PathLike)):
        path = Path(phenotypes)
        if not path.is_file():
            raise FileNotFoundError(f"phenotypes file {path} does not exist.")
        sep = "\t" if path.suffix.lower() == ".tsv" else ","
        columns = pd.read_csv(path, sep=sep, nrows=0).columns
        id_column = columns[0] if subject_id_column is None else subject_id_column
        if id_column not in columns:
            raise ValueError(
                f"subject_id_column={subject_id_column!r} is not a column of {path}; "
                f"columns are {list(columns)}."
            )
        # Read ids as text so that "001" stays "001" rather than becoming 1.
        table = pd.read_csv(path, sep=sep, dtype={id_column: str})
        table = table.set_index(id_column)
    else:
        raise ValueError(
            "phenotypes must be a path to a .csv/.tsv file or a pandas DataFrame; "
            f"got {type(phenotypes).__name__}."
        )
    table.index = table.index.map(str)
    duplicated = table.index[table.index.duplicated()].unique().tolist()
    if duplicated:
        raise ValueError(
            f"phenotypes has several rows for subject id(s) {duplicated[:10]}."
        )
    return table


def _align_phenotypes(table: pd.DataFrame, subject_ids: list[str]) -> pd.DataFrame:
    missing = [s for s in subject_ids if s not in table.index]
    if missing:
        raise ValueError(
            f"phenotypes has no row for {len(missing)} of {len(subject_ids)} "
            f"subject(s): {missing[:20]}{' ...' if len(missing) > 20 else ''}. "
            "Subject ids are the file names without extension; the table's ids "
            f"start with {table.index[:5].tolist()}."
        )
    n_extra = len(table) - len(subject_ids)
    if n_extra:
        logger.info("Dropped %d phenotype row(s) without a time-series file.", n_extra)
    return table.loc[subject_ids]


def load_timeseries(
    source,
    *,
    layout: str = "rois_x_time",
    phenotypes=None,
    subject_id_column: str | None = None,
    pattern: str | None = None,
    npz_key: str | None = None,
    delimiter: str | None = None,
    header="infer",
    index_col: int | None = None,
) -> Cohort:
    """Load one ROI time-series file per subject, plus an optional phenotype table.

    Parameters
    ----------
    source : str, path-like or list of path-like
        A folder, in which case every ``.npy``, ``.npz``, ``.csv`` and ``.tsv``
        file in it (not in sub-folders) is one subject, in sorted file-name
        order; or a list of files, kept in the given order. A phenotype file
        passed as ``phenotypes`` is skipped if it sits in the folder.
    layout : {"rois_x_time", "time_x_rois"}, default="rois_x_time"
        How the files store each subject: one row per ROI (``"rois_x_time"``)
        or one row per frame (``"time_x_rois"``, common for CSV exports with
        ROI names as column headers). Arrays are transposed to
        (n_rois, n_timepoints) as needed; the layout cannot be guessed
        reliably, so it must be stated.
    phenotypes : str, path-like, pandas.DataFrame or None, default=None
        Phenotype table (``.tsv`` files are tab-separated, anything else is read
        as comma-separated). Its rows are matched to the subject ids.
    subject_id_column : str or None, default=None
        Column of ``phenotypes`` holding the subject ids. If None, the ids are
        the DataFrame's index, or the first column of a phenotype file. Ids
        are compared as strings.
    pattern : str or None, default=None
        Glob pattern selecting files inside the ``source`` folder, e.g.
        ``"sub-*_bold.tsv"`` or ``"**/*.npy"`` (recursive). Every selected file
        must have one of the supported extensions.
    npz_key : str or None, default=None
        Name of the array to read from ``.npz`` files. If None, each ``.npz``
        must hold exactly one array.
    delimiter : str or None, default=None
        Field separator of ``.csv``/``.tsv`` files. If None, ``","`` for
        ``.csv`` and a tab for ``.tsv``.
    header : "infer" or bool, default="infer"
        Whether ``.csv``/``.tsv`` files start with a header row. ``"infer"``
        treats the first row as a header when any of its (non-index) cells is
        not a number, e.g. ROI names; a purely numeric first row is data. When
        a header's first cell is empty, as ``DataFrame.to_csv`` writes above
        the index, the first column is taken as row labels (``index_col=0``).
    index_col : int or None, default=None
        Position of a ``.csv``/``.tsv`` column holding row labels (e.g. ROI
        names or frame times), which is dropped from the data.

    Returns
    -------
    cohort : Cohort
        A named tuple ``(X, subject_ids, phenotypes)``:

        - ``X`` : ndarray of shape (n_subjects, n_rois, n_timepoints) when all
          subjects have the same number of frames, otherwise a list of arrays
          of shape (n_rois, n_timepoints_i). float32 if every file stores
          float32, float64 otherwise.
        - ``subject_ids`` : list of str, the file names without extension.
        - ``phenotypes`` : pandas.DataFrame aligned to ``subject_ids`` (same
          order; rows of other subjects dropped) or None.

    Raises
    ------
    FileNotFoundError
        If ``source`` (or a listed file, or the phenotype file) does not exist,
        or the folder holds no matching file.
    ValueError
        On an unknown extension, an array that is not 2-D, non-numeric or
        NaN/infinite values, ROI counts that differ between files, two files
        with the same id, an ``.npz`` with several arrays and no ``npz_key``,
        or subjects without a phenotype row. Messages name the file or ids.

    See Also
    --------
    make_brain_dynamics : Simulated cohort in the same format.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from sk_brainjepa.datasets import load_timeseries
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for i in range(3):
    ...     np.save(folder / f"sub-{i:02d}.npy", np.ones((10, 50)) * i)
    >>> X, ids, pheno = load_timeseries(folder)
    >>> X.shape, ids
    ((3, 10, 50), ['sub-00', 'sub-01', 'sub-02'])
    """
    if layout not in _LAYOUTS:
        raise ValueError(f"layout must be one of {list(_LAYOUTS)}; got {layout!r}.")
    if not (header == "infer" or isinstance(header, bool)):
        raise ValueError(f"header must be 'infer', True or False; got {header!r}.")
    files = _list_files(source, pattern)
    if isinstance(phenotypes, (str, os.PathLike)):
        pheno_path = Path(phenotypes).resolve()
        files = [p for p in files if p.resolve() != pheno_path]
    if not files:
        what = (
            f"matching pattern {pattern!r}"
            if pattern
            else (f"with an extension in {list(_EXTENSIONS)}")
        )
        raise FileNotFoundError(f"No time-series files {what} in {source}.")

    subject_ids = [p.name[: -len(p.suffix)] for p in files]
    seen: dict[str, Path] = {}
    for subject, path in zip(subject_ids, files, strict=True):
        if subject in seen:
            raise ValueError(
                f"Files {seen[subject]} and {path} give the same subject id "
                f"{subject!r}; keep one file per subject."
            )
        seen[subject] = path

    subjects = []
    for path in files:
        arr = _read_subject(
            path,
            layout=layout,
            npz_key=npz_key,
            delimiter=delimiter,
            header=header,
            index_col=index_col,
        )
        if subjects and arr.shape[0] != subjects[0].shape[0]:
            raise ValueError(
                f"File {path} has {arr.shape[0]} ROIs but {files[0]} has "
                f"{subjects[0].shape[0]} (layout={layout!r}). All subjects need "
                "the same ROIs; check the layout."
            )
        subjects.append(arr)

    dtype = np.result_type(*subjects)
    subjects = [s.astype(dtype, copy=False) for s in subjects]
    if len({s.shape for s in subjects}) == 1:
        X = check_timeseries(np.stack(subjects))
    else:
        X = check_timeseries(subjects)
    logger.debug("Loaded %d subject(s) from %s.", len(subjects), source)

    table = None
    if phenotypes is not None:
        table = _align_phenotypes(
            _read_phenotypes(phenotypes, subject_id_column), subject_ids
        )
    return Cohort(X, subject_ids, table)
