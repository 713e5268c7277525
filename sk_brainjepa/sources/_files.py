"""Subjects stored one per file: listing, reading and the lazy :class:`FileSource`.

``.npy`` files (alone or inside ``.npz`` archives) give their shape from
their header and are read a window at a time; ``.csv``/``.tsv`` tables are
parsed by :mod:`sk_brainjepa.sources._tables`. A folder is listed in sorted
order, BIDS ``sub-*`` folders included and BIDS tables about subjects
skipped.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sk_brainjepa._utils._validation import LAYOUTS, _check_finite, check_real_dtype
from sk_brainjepa.sources._base import TimeSeriesSource, _check_real_dtype
from sk_brainjepa.sources._bids import _is_bids_table, file_subject_ids
from sk_brainjepa.sources._fileview import _FileView, _npy_header, _npz_header
from sk_brainjepa.sources._tables import ReadingNotes, _read_table, check_table_options

logger = logging.getLogger(__name__)

TIMESERIES_EXTENSIONS = (".npy", ".npz", ".csv", ".tsv")
_LAYOUTS = LAYOUTS
_TABLE_SUFFIXES = (".csv", ".tsv")


def _list_folder(path: Path, pattern: str | None) -> list[Path]:
    if pattern is not None:
        files = list(path.glob(pattern))
    else:
        files = [p for p in path.iterdir() if p.suffix.lower() in TIMESERIES_EXTENSIONS]
        # A BIDS dataset keeps each subject's files in its sub-* folder.
        subject_folders = [
            p for p in path.iterdir() if p.is_dir() and p.name.startswith("sub-")
        ]
        for folder in subject_folders:
            files += [
                p
                for p in folder.rglob("*")
                if p.suffix.lower() in TIMESERIES_EXTENSIONS
            ]
        if subject_folders:
            logger.info(
                "%s holds %d BIDS sub-* folder(s); reading the files inside them.",
                path,
                len(subject_folders),
            )
    skipped = [p for p in files if _is_bids_table(p)]
    if skipped:
        logger.info(
            "Skipped %d BIDS table(s) about subjects, not time series: %s",
            len(skipped),
            [p.name for p in skipped[:5]],
        )
    return sorted(p for p in files if p.is_file() and not _is_bids_table(p))


def list_timeseries_files(source, pattern: str | None) -> list[Path]:
    """The time-series files of a folder (sorted, BIDS tables left out) or a list."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            files = _list_folder(path, pattern)
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
            if p.is_dir():
                raise IsADirectoryError(
                    f"{p} in the list of files is a folder; pass a folder alone, "
                    "or list its files."
                )
            if not p.is_file():
                raise FileNotFoundError(f"File {p} in source does not exist.")
    else:
        raise ValueError(
            "source must be a folder path or a list of file paths; got "
            f"{type(source).__name__}."
        )
    for p in files:
        if p.suffix.lower() not in TIMESERIES_EXTENSIONS:
            raise ValueError(
                f"File {p} has an unknown extension {p.suffix!r}; expected one of "
                f"{list(TIMESERIES_EXTENSIONS)}."
            )
    return files


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


def read_timeseries_file(
    path: Path,
    *,
    layout,
    npz_key,
    delimiter,
    header,
    index_col,
    encoding=None,
    notes=None,
) -> tuple[np.ndarray, tuple | None]:
    """One subject as (n_rois, n_timepoints), checked, and how its table was read.

    The second value is ``(header, index_columns, encoding)`` for a
    ``.csv``/``.tsv`` file (pass them back to read it again without guessing)
    and None for ``.npy``/``.npz``. ``notes`` collects what was inferred from
    a table (see :class:`ReadingNotes`); None logs it at once.
    """
    suffix = path.suffix.lower()
    table_format = None
    if suffix == ".csv" or suffix == ".tsv":
        arr, table_format = _read_table(
            path, delimiter, header, index_col, encoding, notes
        )
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
    check_real_dtype(arr.dtype, f"File {path}")
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
    _check_finite(arr, f"File {path}")
    return np.ascontiguousarray(arr), table_format


class FileSource(TimeSeriesSource):
    """Subjects stored one per file (``.npy``, ``.npz``, ``.csv`` or ``.tsv``).

    Shapes come from the ``.npy`` headers (also inside ``.npz`` archives)
    without reading any data; from ``.npy`` files each read takes just the
    bytes of the frames asked for. ``.npz`` files are loaded whole per
    read; ``.csv``/``.tsv`` files are parsed once up front to learn their
    shapes and again per read, so convert large cohorts to ``.npy``.

    Parameters
    ----------
    files : list of path-like
        One file per subject, in subject order.
    layout, npz_key, delimiter, header, index_col
        As in :func:`~sk_brainjepa.datasets.load_timeseries`.
    """

    def __init__(
        self,
        files,
        *,
        layout: str = "rois_x_time",
        npz_key: str | None = None,
        delimiter: str | None = None,
        header="infer",
        index_col="infer",
    ):
        if layout not in _LAYOUTS:
            raise ValueError(f"layout must be one of {list(_LAYOUTS)}; got {layout!r}.")
        check_table_options(header, index_col)
        self.files = [Path(p) for p in files]
        if not self.files:
            raise ValueError("files is empty; expected at least one file.")
        self.layout = layout
        self._table_options = {
            "layout": layout,
            "npz_key": npz_key,
            "delimiter": delimiter,
            "header": header,
            "index_col": index_col,
        }
        self._views = []  # where each .npy file's array lies, for partial reads
        # How each table was read (header, index columns, encoding), found once
        # here so that the reads of its windows neither guess nor log again.
        self._table_formats = {}
        notes = ReadingNotes()
        shapes = [self._stored_shape(p, notes) for p in self.files]
        notes.log()
        n_rois = shapes[0][0]
        for path, shape in zip(self.files, shapes, strict=True):
            if shape[0] != n_rois:
                raise ValueError(
                    f"File {path} has {shape[0]} ROIs but {self.files[0]} has "
                    f"{n_rois} (layout={layout!r}). All subjects need the same ROIs; "
                    "check the layout."
                )
        self.n_rois = int(n_rois)
        self.lengths = np.array([s[1] for s in shapes], dtype=np.int64)
        self.in_memory = False

    @property
    def subject_ids(self) -> list[str]:
        """One id per file, as ``load_timeseries`` names subjects.

        ``sub-<label>`` for files with a BIDS ``sub-`` entity (plus the
        entities that tell a subject's files apart, ``sub-01_ses-1``, when it
        has several), else the file name without extension. Raises
        ValueError, naming both files, when two files give the same id.
        """
        return file_subject_ids(self.files)

    def subject_name(self, index: int) -> str:
        return f"subject {index} (file {self.files[index]})"

    def _stored_shape(self, path: Path, notes: ReadingNotes) -> tuple[int, int]:
        """(n_rois, n_timepoints) of one file, checked, after the layout.

        Also records, in ``self._views``, where a ``.npy`` file's data lie, and
        in ``self._table_formats`` how a table was read; what was inferred
        from a table goes to ``notes``.
        """
        suffix = path.suffix.lower()
        if suffix in _TABLE_SUFFIXES:
            # No header to read: parse the table (one file in memory at a time).
            self._views.append(None)
            arr, table_format = read_timeseries_file(
                path, **self._table_options, notes=notes
            )
            self._table_formats[len(self._views) - 1] = table_format
            return arr.shape
        if suffix == ".npy":
            with open(path, "rb") as fh:
                shape, fortran, dtype = _npy_header(fh, str(path))
                header_end = fh.tell()
        else:
            shape, dtype = _npz_header(path, self._table_options["npz_key"])
        _check_real_dtype(dtype, f"File {path}")
        if len(shape) != 2:
            raise ValueError(
                f"File {path} holds an array of shape {shape}; expected a 2-D "
                f"{self.layout.replace('_x_', ' x ')} array (one subject per file)."
            )
        if 0 in shape:
            raise ValueError(f"File {path} holds an empty array of shape {shape}.")
        view = None
        if suffix == ".npy":
            view = _FileView.of_npy(path, header_end, shape, fortran, dtype)
            view = view.transposed() if self.layout == "time_x_rois" else view
        self._views.append(view)
        return shape[::-1] if self.layout == "time_x_rois" else tuple(shape)

    def _read(self, index: int, frames: slice) -> np.ndarray:
        path = self.files[index]
        suffix = path.suffix.lower()
        if suffix in _TABLE_SUFFIXES:
            header, index_col, encoding = self._table_formats[index]
            options = {**self._table_options, "header": header, "index_col": index_col}
            arr, _ = read_timeseries_file(path, **options, encoding=encoding)
            return arr[:, frames]
        if self._views[index] is not None:
            return self._views[index].read((slice(None), frames))
        arr = _read_npz(path, self._table_options["npz_key"])
        if self.layout == "time_x_rois":
            arr = arr.T
        return arr[:, frames]
