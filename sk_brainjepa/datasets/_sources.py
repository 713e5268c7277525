"""Lazy sources: a cohort's shapes up front, its subjects read one at a time.

:class:`TimeSeriesSource` (made by :func:`as_source`) is a lazy, picklable
view of the subjects: a 3-D array or ``np.memmap``, a list of 2-D arrays
(:class:`ArraySource`), or per-subject files (:class:`FileSource`). It knows
every subject's shape without reading data and returns one subject, or one
window of it, as float32 on demand, so it can be handed to DataLoader
workers and cohorts larger than memory can be streamed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sk_brainjepa._utils._validation import apply_layout, check_layout, check_timeseries
from sk_brainjepa.datasets._fileview import (
    _FileView,
    _is_mapped,
    _npy_header,
    _npz_header,
)
from sk_brainjepa.datasets._folder import (
    _LAYOUTS,
    _check_table_options,
    _list_files,
    _Notes,
    _read_npz,
    _read_subject,
    _subject_ids,
)

_TABLE_SUFFIXES = (".csv", ".tsv")


def _check_real_dtype(dtype: np.dtype, where: str) -> None:
    if dtype.hasobject:
        raise ValueError(
            f"{where} stores Python objects (pickle), which are refused; save plain "
            "numeric arrays instead."
        )
    if not (
        np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.bool_)
    ) or np.issubdtype(dtype, np.complexfloating):
        raise ValueError(f"{where} must hold real numbers; got dtype {dtype}.")


class TimeSeriesSource:
    """Lazy view of a cohort: shapes up front, data one subject at a time.

    Build one with :func:`as_source`. Subjects are returned as float32 arrays
    of shape (n_rois, n_timepoints_i), read when asked for; whether their
    values are finite is checked then, on what was read. A source pickles
    without its data (memory-mapped arrays and files are opened again where
    it is unpickled), so it can be handed to DataLoader workers.

    Attributes
    ----------
    n_rois : int
    lengths : ndarray of shape (n_subjects,), int64
        Frames of each subject.
    in_memory : bool
        True when the data already sits in this process's memory (plain
        arrays, validated in full); False for memory-mapped arrays and files,
        which are read lazily.
    """

    n_rois: int
    lengths: np.ndarray
    in_memory: bool

    # -- to implement
    def _read(self, index: int, frames: slice) -> np.ndarray:
        """Frames ``frames`` of subject ``index`` as stored (maybe a view)."""
        raise NotImplementedError

    def subject_name(self, index: int) -> str:
        """How messages name subject ``index``."""
        raise NotImplementedError

    # -- shared
    @property
    def n_subjects(self) -> int:
        return len(self.lengths)

    def __len__(self) -> int:
        return len(self.lengths)

    def _check_index(self, index) -> int:
        if isinstance(index, (bool, np.bool_)) or not isinstance(
            index, (int, np.integer)
        ):
            raise TypeError(f"Subject index must be an integer; got {index!r}.")
        if not 0 <= index < len(self.lengths):
            raise IndexError(
                f"Subject index {index} is out of range for {len(self.lengths)} "
                "subject(s)."
            )
        return int(index)

    def window(self, index: int, start: int, length: int) -> np.ndarray:
        """Frames ``start`` to ``start + length`` of one subject.

        Parameters
        ----------
        index : int
            Subject.
        start, length : int
            First frame and number of frames.

        Returns
        -------
        window : ndarray of shape (n_rois, length), float32
            A new C-ordered array (never a view of the stored data).

        Raises
        ------
        ValueError
            If the window leaves the run, or holds NaN or infinite values
            (the message names the subject).
        """
        index = self._check_index(index)
        start, stop = int(start), int(start) + int(length)
        if not 0 <= start < stop <= self.lengths[index]:
            raise ValueError(
                f"Frames {start} to {stop} are outside {self.subject_name(index)}, "
                f"which has {self.lengths[index]} frames."
            )
        try:
            raw = self._read(index, slice(start, stop))
            out = np.array(raw, dtype=np.float32, order="C")
        except OSError as exc:
            raise ValueError(
                f"Could not read {self.subject_name(index)}: {exc}"
            ) from exc
        if out.shape != (self.n_rois, stop - start):
            raise ValueError(
                f"{self.subject_name(index)} gave an array of shape {out.shape}; "
                f"expected {(self.n_rois, stop - start)}. Did its file change after "
                "the source was made?"
            )
        finite = np.isfinite(out)
        if not finite.all():
            n_bad = int(out.size - np.count_nonzero(finite))
            raise ValueError(
                f"{self.subject_name(index)} contains {n_bad} NaN or infinite "
                f"value(s) in frames {start} to {stop}; expected finite values. Impute "
                "or drop the affected ROIs/frames first."
            )
        return out

    def __getitem__(self, index) -> np.ndarray:
        """The whole run of one subject, float32 of shape (n_rois, n_timepoints_i)."""
        index = self._check_index(index)
        return self.window(index, 0, self.lengths[index])

    def __iter__(self):
        for index in range(len(self.lengths)):
            yield self[index]

    def check_lengths(self, n_timepoints: int) -> None:
        """Raise a ValueError naming the first subject shorter than ``n_timepoints``."""
        short = np.flatnonzero(self.lengths < n_timepoints)
        if short.size:
            i = int(short[0])
            name = self.subject_name(i)
            raise ValueError(
                f"{name[:1].upper()}{name[1:]} has {self.lengths[i]} time "
                f"points, fewer than the model window n_timepoints={n_timepoints}"
                f"{f' ({short.size} subjects are)' if short.size > 1 else ''}. Pad or "
                f"resample first, e.g. TemporalResampler(n_timepoints={n_timepoints}, "
                "pad='edge'), or use a smaller n_timepoints."
            )

    def __repr__(self) -> str:
        kind = "in memory" if self.in_memory else "lazy"
        return (
            f"{type(self).__name__}({len(self)} subjects, {self.n_rois} ROIs, "
            f"{self.lengths.min()}-{self.lengths.max()} frames, {kind})"
        )


class ArraySource(TimeSeriesSource):
    """Subjects held in a 3-D array (or ``np.memmap``) or a list of 2-D arrays.

    The arrays are kept, never copied. Memory-mapped ones are read with plain
    file reads of the bytes a window needs, so pages read do not pile up in
    this process's memory, and they pickle as their file location.

    Parameters
    ----------
    X : ndarray of shape (n_subjects, n_rois, n_timepoints) or list of ndarray
        A list holds arrays of shape (n_rois, n_timepoints_i).
    name : str, default="X"
        Name used in messages (``X[3]``).
    in_memory : bool or None, default=None
        None decides from the data: True unless an array is memory-mapped.
        Values are checked for NaN only when read; validate plain arrays
        beforehand (:func:`as_source` does).
    """

    def __init__(self, X, *, name: str = "X", in_memory: bool | None = None):
        self.name = name
        if isinstance(X, np.ndarray):
            if X.ndim != 3:
                raise ValueError(
                    f"{name} must be a 3-D array of shape (n_subjects, n_rois, "
                    f"n_timepoints) or a list of 2-D arrays; got a {X.ndim}-D array "
                    f"of shape {X.shape}."
                )
            if 0 in X.shape:
                raise ValueError(f"{name} is empty: got shape {X.shape}.")
            _check_real_dtype(X.dtype, name)
            self._stack, self._subjects = X, None
            self.n_rois = int(X.shape[1])
            self.lengths = np.full(X.shape[0], X.shape[2], dtype=np.int64)
            self._views = [_FileView.of(X)] if _is_mapped(X) else [None]
            mapped = _is_mapped(X)
        elif isinstance(X, Sequence) and not isinstance(X, (str, bytes)):
            if len(X) == 0:
                raise ValueError(f"{name} is an empty list; expected 2-D arrays.")
            subjects = [x if isinstance(x, np.ndarray) else np.asarray(x) for x in X]
            for i, x in enumerate(subjects):
                where = f"{name}[{i}]"
                if x.ndim != 2:
                    raise ValueError(
                        f"{where} must be a 2-D array of shape (n_rois, n_timepoints); "
                        f"got shape {x.shape}."
                    )
                if 0 in x.shape:
                    raise ValueError(f"{where} is empty: got shape {x.shape}.")
                _check_real_dtype(x.dtype, where)
                if x.shape[0] != subjects[0].shape[0]:
                    raise ValueError(
                        f"{where} has {x.shape[0]} ROIs but {name}[0] has "
                        f"{subjects[0].shape[0]}; all subjects need the same ROIs."
                    )
            self._stack, self._subjects = None, subjects
            self.n_rois = int(subjects[0].shape[0])
            self.lengths = np.array([x.shape[1] for x in subjects], dtype=np.int64)
            self._views = [_FileView.of(x) if _is_mapped(x) else None for x in subjects]
            mapped = any(_is_mapped(x) for x in subjects)
        else:
            raise TypeError(
                f"{name} must be a 3-D ndarray or a list of 2-D arrays; got "
                f"{type(X).__name__}."
            )
        self.in_memory = (not mapped) if in_memory is None else bool(in_memory)

    def subject_name(self, index: int) -> str:
        return f"{self.name}[{index}]"

    def _read(self, index: int, frames: slice) -> np.ndarray:
        if self._subjects is None:
            view = self._views[0]
            if view is not None:
                return view.read((index, slice(None), frames))
            return self._stack[index, :, frames]
        view = self._views[index]
        if view is not None:
            return view.read((slice(None), frames))
        return self._subjects[index][:, frames]

    @property
    def data(self):
        """The wrapped 3-D array or list (re-mapped from file after unpickling)."""
        if self._subjects is None:
            return self._stack if self._stack is not None else self._views[0].open()
        return [
            x if x is not None else v.open()
            for x, v in zip(self._subjects, self._views, strict=True)
        ]

    def __getstate__(self):
        state = dict(self.__dict__)
        # Mapped arrays travel as their file location, not as a copy of the data.
        if self._subjects is None:
            if self._views[0] is not None:
                state["_stack"] = None
        else:
            state["_subjects"] = [
                None if v is not None else x
                for x, v in zip(self._subjects, self._views, strict=True)
            ]
        return state


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
        _check_table_options(header, index_col)
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
        notes = _Notes()
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
        return _subject_ids(self.files)

    def subject_name(self, index: int) -> str:
        return f"subject {index} (file {self.files[index]})"

    def _stored_shape(self, path: Path, notes: _Notes) -> tuple[int, int]:
        """(n_rois, n_timepoints) of one file, checked, after the layout.

        Also records, in ``self._views``, where a ``.npy`` file's data lie, and
        in ``self._table_formats`` how a table was read; what was inferred
        from a table goes to ``notes``.
        """
        suffix = path.suffix.lower()
        if suffix in _TABLE_SUFFIXES:
            # No header to read: parse the table (one file in memory at a time).
            self._views.append(None)
            arr, table_format = _read_subject(path, **self._table_options, notes=notes)
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
            return _read_subject(path, **options, encoding=encoding)[0][:, frames]
        if self._views[index] is not None:
            return self._views[index].read((slice(None), frames))
        arr = _read_npz(path, self._table_options["npz_key"])
        if self.layout == "time_x_rois":
            arr = arr.T
        return arr[:, frames]


def as_source(
    X,
    *,
    name: str = "X",
    layout: str = "rois_x_time",
    pattern: str | None = None,
    npz_key: str | None = None,
    delimiter: str | None = None,
    header="infer",
    index_col="infer",
) -> TimeSeriesSource:
    """A :class:`TimeSeriesSource` for any accepted form of time series.

    Parameters
    ----------
    X : array-like, np.memmap, list, path-like, list of path-like or TimeSeriesSource
        - a 3-D array (n_subjects, n_rois, n_timepoints), or a list of 2-D
          arrays (n_rois, n_timepoints_i): validated in full (as
          ``check_timeseries``) unless memory-mapped, and never copied when
          already float32/float64;
        - an ``np.memmap`` (or a view of one), or a list holding one: wrapped
          lazily, with shape and dtype checks only;
        - a folder, or a list of files, of per-subject ``.npy``/``.npz``/
          ``.csv``/``.tsv`` files (as :func:`load_timeseries` reads them);
        - a path to one 3-D ``.npy`` file: memory-mapped as a whole cohort.
    name : str, default="X"
        Name used in messages.
    layout : {"rois_x_time", "time_x_rois"}, default="rois_x_time"
        How each subject's 2-D array (in memory or in a file) is ordered;
        "time_x_rois" is what nilearn maskers return.
    pattern, npz_key, delimiter, header, index_col
        File options, as in :func:`~sk_brainjepa.datasets.load_timeseries`.

    Returns
    -------
    source : TimeSeriesSource
        ``source.in_memory`` tells whether the data is held in memory (plain
        arrays) or read lazily (memory-mapped arrays and files).

    Raises
    ------
    FileNotFoundError
        For a missing path or a folder without matching files.
    ValueError
        For data of the wrong shape or type; messages name the file or the
        subject.
    """
    if isinstance(X, TimeSeriesSource):
        return X
    check_layout(layout)
    file_options = {
        "layout": layout,
        "npz_key": npz_key,
        "delimiter": delimiter,
        "header": header,
        "index_col": index_col,
    }
    if isinstance(X, (str, os.PathLike)):
        path = Path(X)
        if path.is_file() and path.suffix.lower() == ".npy":
            with open(path, "rb") as fh:
                shape = _npy_header(fh, str(path))[0]
            if len(shape) == 3:
                if pattern is not None:
                    raise ValueError("pattern can only be used when X is a folder.")
                arr = np.load(path, mmap_mode="r", allow_pickle=False)
                if layout == "time_x_rois":
                    arr = arr.transpose(0, 2, 1)
                return ArraySource(arr, name=str(path))
        files = _list_files(path, pattern)
        if not files:
            what = (
                f"matching pattern {pattern!r}"
                if pattern
                else "with an extension in ['.npy', '.npz', '.csv', '.tsv']"
            )
            raise FileNotFoundError(f"No time-series files {what} in {path}.")
        return FileSource(files, **file_options)
    is_list = isinstance(X, Sequence) and not isinstance(X, (str, bytes))
    if is_list and X and all(isinstance(p, (str, os.PathLike)) for p in X):
        return FileSource(_list_files(list(X), pattern), **file_options)
    # In-memory subjects in (n_timepoints, n_rois) become transposed views.
    X = apply_layout(X, layout)
    if isinstance(X, np.ndarray) and _is_mapped(X):
        return ArraySource(X, name=name)
    if is_list and any(isinstance(x, np.ndarray) and _is_mapped(x) for x in X):
        return ArraySource(list(X), name=name)
    return ArraySource(check_timeseries(X, name=name), name=name, in_memory=True)
