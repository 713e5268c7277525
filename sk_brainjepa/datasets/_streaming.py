"""Stream ROI time series larger than memory: lazy sources, epoch plans, loaders.

The pieces, in the order a training loop uses them:

- :class:`TimeSeriesSource` (made by :func:`as_source`) is a lazy, picklable
  view of the subjects: a 3-D array or ``np.memmap``, a list of 2-D arrays, or
  per-subject files. It knows every subject's shape without reading data and
  returns one subject, or one window of it, as float32 on demand.
- :class:`EpochPlanner` decides, in the main process and from one numpy
  ``Generator``, the order of the subjects and the crop start of each window
  for an epoch (:class:`EpochPlan`), and gives each DistributedDataParallel
  rank its share of every global batch.
- :func:`make_loader` returns a ``torch.utils.data.DataLoader`` whose workers
  only read and scale the windows a plan names, so the batches do not depend
  on the number of workers.
- :class:`ROIScalerTransform` and :class:`SubjectRobustScaling` scale one
  window (or batch) at a time, so that nothing needs the whole cohort in
  memory; :func:`group_fc` averages connectivity one subject at a time.
"""

from __future__ import annotations

import logging
import mmap
import operator
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from sk_brainjepa._utils._validation import check_timeseries
from sk_brainjepa.datasets._folder import (
    _LAYOUTS,
    _list_files,
    _read_npz,
    _read_subject,
)

logger = logging.getLogger(__name__)

_TABLE_SUFFIXES = (".csv", ".tsv")


# ----------------------------------------------------------- memory mapping
def _is_mapped(arr: np.ndarray) -> bool:
    """Whether ``arr`` is, or views, a memory-mapped file."""
    obj = arr
    while isinstance(obj, np.ndarray):
        if isinstance(obj, np.memmap):
            return True
        obj = obj.base
    return isinstance(obj, mmap.mmap)


@dataclass(frozen=True)
class _FileView:
    """Where an array (or a view of one) lies in a file, to read parts of it.

    :meth:`read` reads just the bytes a window needs with a plain file read.
    Reading through the user's long-lived ``np.memmap`` instead would keep
    every page ever touched mapped, so this process's resident memory would
    grow with the data read. The description is a few numbers, so a source
    crosses to a DataLoader worker without a pickled copy of the data.
    """

    filename: str
    file_offset: int  # byte offset in the file of the mapped array
    nbytes: int  # size of the mapped array in bytes
    view_offset: int  # bytes from the mapped array's start to the view's first item
    shape: tuple
    strides: tuple
    dtype: np.dtype

    @classmethod
    def of(cls, arr: np.ndarray) -> _FileView | None:
        """Describe ``arr``, or None if it does not view a file it can re-map."""
        top = arr
        while isinstance(top, np.ndarray) and not isinstance(top.base, mmap.mmap):
            top = top.base
        if (
            not isinstance(top, np.memmap)
            or top.filename is None
            # Copy-on-write changes live only in the user's mapping.
            or top.mode == "c"
        ):
            return None
        view_offset = (
            arr.__array_interface__["data"][0] - top.__array_interface__["data"][0]
        )
        return cls(
            filename=str(top.filename),
            file_offset=int(top.offset),
            nbytes=int(top.nbytes),
            view_offset=int(view_offset),
            shape=tuple(arr.shape),
            strides=tuple(arr.strides),
            dtype=arr.dtype,
        )

    @classmethod
    def of_npy(cls, path: Path, header_end: int, shape, fortran: bool, dtype):
        """Describe the array of a ``.npy`` file from its header."""
        dtype = np.dtype(dtype)
        strides, step = [], dtype.itemsize
        for n in shape if fortran else shape[::-1]:
            strides.append(step)
            step *= n
        strides = strides if fortran else strides[::-1]
        return cls(
            filename=str(path),
            file_offset=int(header_end),
            nbytes=int(np.prod(shape)) * dtype.itemsize,
            view_offset=0,
            shape=tuple(shape),
            strides=tuple(strides),
            dtype=dtype,
        )

    def transposed(self) -> _FileView:
        """The same data with the axes reversed (as ``arr.T``)."""
        return _FileView(
            self.filename,
            self.file_offset,
            self.nbytes,
            self.view_offset,
            self.shape[::-1],
            self.strides[::-1],
            self.dtype,
        )

    def read(self, key) -> np.ndarray:
        """``view[key]`` for basic indexing, read from the file into a new buffer.

        The bytes from the sub-view's first to its last item are read in one
        call (for a window of a row-major run, about the subject's rows).
        """
        if not isinstance(key, tuple) or len(key) != len(self.shape):
            raise TypeError(f"key must index every axis of the view; got {key!r}.")
        # The sub-view's layout: integers drop an axis, slices keep a range.
        first, shape, strides = self.view_offset, [], []
        for k, n, stride in zip(key, self.shape, self.strides, strict=True):
            if isinstance(k, slice):
                start, stop, step = k.indices(n)
                first += start * stride
                shape.append(len(range(start, stop, step)))
                strides.append(stride * step)
            else:
                first += operator.index(k) * stride
        if 0 in shape:
            return np.empty(shape, dtype=self.dtype)
        extents = list(zip(shape, strides, strict=True))
        lo = first + sum(min(0, (n - 1) * st) for n, st in extents)
        hi = first + sum(max(0, (n - 1) * st) for n, st in extents)
        buffer = np.empty(hi - lo + self.dtype.itemsize, dtype=np.uint8)
        with open(self.filename, "rb", buffering=0) as fh:
            fh.seek(self.file_offset + lo)
            view, done = memoryview(buffer), 0
            while done < len(buffer):
                got = fh.readinto(view[done:])
                if not got:
                    raise ValueError(
                        f"{self.filename} ends before the data its header or shape "
                        f"announces ({self.file_offset + lo + done} bytes read of "
                        f"{self.file_offset + hi + self.dtype.itemsize})."
                    )
                done += got
        return np.ndarray(
            tuple(shape),
            dtype=self.dtype,
            buffer=buffer,
            offset=first - lo,
            strides=tuple(strides),
        )

    def open(self) -> np.ndarray:
        """Map the file again (read-only) and rebuild the view on it."""
        flat = np.memmap(
            self.filename,
            dtype=np.uint8,
            mode="r",
            offset=self.file_offset,
            shape=(self.nbytes,),
        )
        return np.ndarray(
            self.shape,
            dtype=self.dtype,
            buffer=flat,
            offset=self.view_offset,
            strides=self.strides,
        )


# ------------------------------------------------------------------ sources
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


def _npy_header(fh, where: str) -> tuple[tuple, bool, np.dtype]:
    """Shape, Fortran order and dtype from an open ``.npy`` stream, data unread."""
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(fh)
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(fh)
        raise ValueError(f"unsupported .npy format version {version}")
    except ValueError as exc:
        raise ValueError(f"File {where} is not a readable .npy array: {exc}") from exc


def _npz_header(path: Path, npz_key: str | None) -> tuple[tuple, np.dtype]:
    """Shape and dtype of the time series inside an ``.npz``, read from its header."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"File {path} is not a readable .npz archive: {exc}") from exc
    with archive:
        keys = [n[: -len(".npy")] for n in archive.namelist() if n.endswith(".npy")]
        if npz_key is not None:
            if npz_key not in keys:
                raise ValueError(
                    f"File {path} has no array named npz_key={npz_key!r}; it holds "
                    f"{keys}."
                )
            key = npz_key
        elif len(keys) == 1:
            key = keys[0]
        else:
            raise ValueError(
                f"File {path} holds {len(keys)} arrays {keys}; pass npz_key to say "
                "which one is the time series."
            )
        with archive.open(key + ".npy") as fh:
            shape, _, dtype = _npy_header(fh, f"{path}[{key}]")
    return shape, dtype


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
        index_col: int | None = None,
    ):
        if layout not in _LAYOUTS:
            raise ValueError(f"layout must be one of {list(_LAYOUTS)}; got {layout!r}.")
        if not (header == "infer" or isinstance(header, bool)):
            raise ValueError(f"header must be 'infer', True or False; got {header!r}.")
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
        shapes = [self._stored_shape(p) for p in self.files]
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
        """File names without extension, as ``load_timeseries`` names subjects."""
        return [p.name[: -len(p.suffix)] for p in self.files]

    def subject_name(self, index: int) -> str:
        return f"subject {index} (file {self.files[index]})"

    def _stored_shape(self, path: Path) -> tuple[int, int]:
        """(n_rois, n_timepoints) of one file, checked, after the layout.

        Also records, in ``self._views``, where a ``.npy`` file's data lie.
        """
        suffix = path.suffix.lower()
        if suffix in _TABLE_SUFFIXES:
            # No header to read: parse the table (one file in memory at a time).
            self._views.append(None)
            return _read_subject(path, **self._table_options).shape
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
            return _read_subject(path, **self._table_options)[:, frames]
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
    index_col: int | None = None,
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
    layout, pattern, npz_key, delimiter, header, index_col
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
    if isinstance(X, np.ndarray) and _is_mapped(X):
        return ArraySource(X, name=name)
    if is_list and any(isinstance(x, np.ndarray) and _is_mapped(x) for x in X):
        return ArraySource(list(X), name=name)
    return ArraySource(check_timeseries(X, name=name), name=name, in_memory=True)


# --------------------------------------------------------------- transforms
class ROIScalerTransform:
    """Apply a fitted :class:`~sk_brainjepa.ROIRobustScaler` to windows or batches.

    Holds only the scaler's per-ROI statistics, so it pickles small and can run
    in DataLoader workers: streaming users fit the scaler on a sample of
    subjects (or in a pass over the source) and scale each window as it is
    read, instead of the whole cohort in memory.

    Parameters
    ----------
    scaler : ROIRobustScaler
        Fitted.

    Attributes
    ----------
    needs_full_run : bool
        True when the scaler has ``center_subjects=True``: the subject mean it
        removes is that of the whole run, so the transform must see the run
        before it is cropped (:class:`WindowDataset` does so).
    """

    def __init__(self, scaler):
        center = getattr(scaler, "center_", None)
        scale = getattr(scaler, "scale_", None)
        if center is None or scale is None:
            raise ValueError(
                "scaler must be a fitted ROIRobustScaler (with center_ and scale_); "
                f"got {scaler!r}."
            )
        # The scaler casts its statistics to the data's dtype; windows are float32.
        self.center = np.asarray(center, dtype=np.float32)[:, None]
        self.scale = np.asarray(scale, dtype=np.float32)[:, None]
        self.needs_full_run = bool(getattr(scaler, "center_subjects", False))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Scale ``x`` of shape (..., n_rois, n_timepoints), float32."""
        if x.ndim < 2 or x.shape[-2] != len(self.center):
            raise ValueError(
                f"ROIScalerTransform expects arrays of shape (..., {len(self.center)}, "
                f"n_timepoints), the ROIs the scaler was fitted on; got {x.shape}."
            )
        if self.needs_full_run:
            x = x - x.mean(axis=-1, keepdims=True)
        return (x - self.center) / self.scale

    def __repr__(self) -> str:
        return f"ROIScalerTransform(n_rois={len(self.center)})"


class SubjectRobustScaling:
    """Scale each ROI by its own median and IQR within one subject's run.

    Equal to ``ROIRobustScaler().fit_transform(x[np.newaxis])[0]`` for each
    subject ``x`` (the per-subject scaling of the benchmarks): no other
    subject's statistics are used, so it needs no fitting.

    Parameters
    ----------
    quantile_range : tuple of float, default=(25.0, 75.0)
    min_scale : float, default=1e-12
        A ROI whose IQR is at or below this is constant: a ValueError is
        raised instead of dividing by zero.
    over : {"run", "window"}, default="run"
        Compute the statistics over the whole run (then crop), or over the
        window the model sees.
    """

    def __init__(self, quantile_range=(25.0, 75.0), *, min_scale=1e-12, over="run"):
        if over not in ("run", "window"):
            raise ValueError(f"over must be 'run' or 'window'; got {over!r}.")
        try:
            q_lo, q_hi = (float(q) for q in quantile_range)
        except (TypeError, ValueError):
            raise ValueError(
                "quantile_range must be a pair of floats (q_min, q_max); got "
                f"{quantile_range!r}."
            ) from None
        if not 0.0 <= q_lo < q_hi <= 100.0:
            raise ValueError(
                "quantile_range must satisfy 0 <= q_min < q_max <= 100; got "
                f"{quantile_range!r}."
            )
        self.quantile_range = (q_lo, q_hi)
        self.min_scale = float(min_scale)
        self.over = over
        self.needs_full_run = over == "run"

    def _scale_one(self, x: np.ndarray) -> np.ndarray:
        # Same reductions, on the same (frames, ROIs) layout, as ROIRobustScaler.fit.
        values = x.T
        center = np.median(values, axis=0)
        lo, hi = np.percentile(values, list(self.quantile_range), axis=0)
        scale = hi - lo
        constant = np.flatnonzero(scale <= self.min_scale)
        if constant.size:
            raise ValueError(
                f"{constant.size} ROI(s) are constant within the subject (zero "
                f"interquartile range), so they cannot be scaled: ROI index "
                f"{', '.join(map(str, constant[:10]))}."
            )
        center = center.astype(x.dtype)[:, None]
        scale = scale.astype(x.dtype)[:, None]
        return (x - center) / scale

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Scale ``x`` of shape (n_rois, n_timepoints) or a batch (B, n_rois, T)."""
        if x.ndim == 2:
            return self._scale_one(x)
        if x.ndim == 3:
            return np.stack([self._scale_one(s) for s in x])
        raise ValueError(
            f"SubjectRobustScaling expects a (n_rois, n_timepoints) array or a batch "
            f"of them; got shape {x.shape}."
        )

    def __repr__(self) -> str:
        return (
            f"SubjectRobustScaling(quantile_range={self.quantile_range}, "
            f"over={self.over!r})"
        )


class ScaledSource(TimeSeriesSource):
    """A source whose subjects are scaled as they are read.

    Wrap a cohort once and hand the result to ``fit``, ``transform``, the
    embedder or ``linear_probe``: every window the model sees (in training
    batches, in DataLoader workers, when embedding) is scaled on the fly, and
    the scaled cohort never exists in memory.

    Parameters
    ----------
    source : TimeSeriesSource or anything :func:`as_source` accepts
    transform : callable
        Maps a float32 array of shape (n_rois, n_frames) to one of the same
        shape, e.g. :class:`SubjectRobustScaling` or :class:`ROIScalerTransform`.
        One with ``needs_full_run = True`` sees the whole run, then the window
        is cut from the result. Must be picklable to run in workers.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(5.0, 2.0, (3, 4, 50))
    >>> scaled = ScaledSource(X, SubjectRobustScaling())
    >>> bool(abs(np.median(scaled[0], axis=1)).max() < 1e-6)
    True
    """

    def __init__(self, source, transform):
        if not callable(transform):
            raise TypeError(f"transform must be callable; got {transform!r}.")
        self.source = as_source(source)
        self.transform = transform
        self.n_rois = self.source.n_rois
        self.lengths = self.source.lengths
        self.in_memory = False  # scaled lazily, window by window

    @property
    def subject_ids(self):
        return getattr(self.source, "subject_ids", None)

    def subject_name(self, index: int) -> str:
        return self.source.subject_name(index)

    def window(self, index: int, start: int, length: int) -> np.ndarray:
        index = self._check_index(index)
        if not 0 <= int(start) < int(start) + int(length) <= self.lengths[index]:
            raise ValueError(
                f"Frames {start} to {int(start) + int(length)} are outside "
                f"{self.subject_name(index)}, which has {self.lengths[index]} frames."
            )
        if getattr(self.transform, "needs_full_run", False):
            raw, offset = self.source[index], int(start)
        else:
            raw, offset = self.source.window(index, start, length), 0
        try:
            out = self.transform(raw)
        except ValueError as exc:
            raise ValueError(
                f"{self.transform!r} failed on {self.subject_name(index)}: {exc}"
            ) from exc
        if out.shape != raw.shape:
            raise ValueError(
                f"transform returned shape {out.shape} for {self.subject_name(index)} "
                f"of shape {raw.shape}; it must keep the shape."
            )
        return np.ascontiguousarray(
            out[:, offset : offset + int(length)], dtype=np.float32
        )

    def __repr__(self) -> str:
        return f"ScaledSource({self.source!r}, {self.transform!r})"


# -------------------------------------------------------------------- plans
def _check_int(value, name: str, low: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {low}; got {value!r}.")
    if value < low:
        raise ValueError(f"{name} must be an integer >= {low}; got {value!r}.")
    return int(value)


def draw_epoch(
    rng: np.random.Generator, lengths, n_timepoints: int, *, shuffle: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Order of the subjects and crop start of each window for one epoch.

    The draws are those of the in-memory training loop: one permutation, then
    one ``rng.integers(0, length - n_timepoints + 1)`` per subject in that
    order (what :func:`crop_random_windows` draws batch after batch), so a
    plan reproduces that loop's windows exactly from the same generator state.

    Parameters
    ----------
    rng : numpy.random.Generator
        Advanced by the draws; every DistributedDataParallel rank uses a
        generator in the same state, so all draw the same global epoch.
    lengths : array-like of int, shape (n_subjects,)
        Frames of each subject.
    n_timepoints : int
        Window length.
    shuffle : bool, default=True
        False keeps the subject order (crops are still drawn).

    Returns
    -------
    subjects : ndarray of shape (n_subjects,), int64
    starts : ndarray of shape (n_subjects,), int64
        ``starts[k]`` is the first frame of the window of ``subjects[k]``.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator; got {type(rng)}.")
    lengths = np.asarray(lengths, dtype=np.int64)
    n_timepoints = _check_int(n_timepoints, "n_timepoints", 1)
    short = np.flatnonzero(lengths < n_timepoints)
    if short.size:
        raise ValueError(
            f"Subject {short[0]} has {lengths[short[0]]} frames, fewer than "
            f"n_timepoints={n_timepoints}."
        )
    n = len(lengths)
    subjects = rng.permutation(n) if shuffle else np.arange(n)
    starts = np.empty(n, dtype=np.int64)
    for k, i in enumerate(subjects):
        # One scalar draw per window, as crop_random_windows makes them.
        starts[k] = rng.integers(0, int(lengths[i]) - n_timepoints + 1)
    return subjects.astype(np.int64), starts


def shard_batches(
    subjects, starts, *, batch_size: int, rank: int = 0, world_size: int = 1
) -> tuple[np.ndarray, ...]:
    """Cut an epoch into global batches and give rank ``rank`` its part of each.

    Global batch ``k`` holds windows ``k * batch_size`` to ``(k + 1) *
    batch_size`` of the epoch, as one process would see them. Each rank takes
    a contiguous ``ceil(b / world_size)`` rows of a batch of ``b`` rows, in
    rank order, so the ranks' parts concatenate to the single-process batch.
    A batch whose size is not a multiple of ``world_size`` (the last one, or
    all of them when ``batch_size`` is not a multiple) is padded by repeating
    its own first rows (wrapping, as ``DistributedSampler`` pads an epoch), so
    every rank runs the same number of batches of the same size and the
    collectives match; only such batches differ from one process's.

    Parameters
    ----------
    subjects, starts : ndarray of shape (n_windows,)
        From :func:`draw_epoch`.
    batch_size : int
        Global batch size; make it a multiple of ``world_size`` for batches
        equal to one process's.
    rank : int, default=0
    world_size : int, default=1

    Returns
    -------
    batches : tuple of ndarray of shape (b_k, 2), int64
        Rows ``(subject, start)``; ``b_k = batch_size / world_size`` except
        maybe for the last batch.
    """
    batch_size = _check_int(batch_size, "batch_size", 1)
    world_size = _check_int(world_size, "world_size", 1)
    rank = _check_int(rank, "rank", 0)
    if rank >= world_size:
        raise ValueError(f"rank must be < world_size={world_size}; got {rank}.")
    pairs = np.stack(
        [np.asarray(subjects, dtype=np.int64), np.asarray(starts, dtype=np.int64)],
        axis=1,
    )
    if len(pairs) == 0:
        raise ValueError("An epoch needs at least one window; got none.")
    batches = []
    for lo in range(0, len(pairs), batch_size):
        chunk = pairs[lo : lo + batch_size]
        share = -(-len(chunk) // world_size)
        rows = np.arange(share * world_size) % len(chunk)
        batches.append(chunk[rows[rank * share : (rank + 1) * share]])
    return tuple(batches)


@dataclass(frozen=True)
class EpochPlan:
    """The windows of one epoch: the global draw and this rank's batches.

    Attributes
    ----------
    subjects, starts : ndarray of shape (n_subjects,), int64
        Global order of the epoch and crop starts (identical on every rank).
    batches : tuple of ndarray of shape (b_k, 2), int64
        This rank's batches, rows ``(subject, start)``.
    rank, world_size, batch_size : int
        ``batch_size`` is the global batch size.
    """

    subjects: np.ndarray
    starts: np.ndarray
    batches: tuple
    rank: int = 0
    world_size: int = 1
    batch_size: int = 1

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        return iter(self.batches)


class EpochPlanner:
    """Draw :class:`EpochPlan`\\ s for one rank of a (possibly distributed) run.

    Parameters
    ----------
    lengths : array-like of int, shape (n_subjects,)
        Frames of each subject (``source.lengths``).
    n_timepoints : int
        Model window.
    batch_size : int
        Global batch size (over all ranks); with a multiple of ``world_size``
        the ranks together see exactly one process's batches.
    rank : int, default=0
    world_size : int, default=1
    shuffle : bool, default=True

    Examples
    --------
    >>> import numpy as np
    >>> planner = EpochPlanner([100] * 10, 32, batch_size=4, rank=1, world_size=2)
    >>> plan = planner.plan(np.random.default_rng(0))
    >>> len(plan), planner.n_batches, plan.batches[0].shape
    (3, 3, (2, 2))
    """

    def __init__(
        self,
        lengths,
        n_timepoints: int,
        *,
        batch_size: int,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
    ):
        self.lengths = np.asarray(lengths, dtype=np.int64)
        if self.lengths.ndim != 1 or self.lengths.size == 0:
            raise ValueError(
                f"lengths must be a non-empty 1-D list of frame counts; got shape "
                f"{self.lengths.shape}."
            )
        self.n_timepoints = _check_int(n_timepoints, "n_timepoints", 1)
        self.batch_size = _check_int(batch_size, "batch_size", 1)
        self.world_size = _check_int(world_size, "world_size", 1)
        self.rank = _check_int(rank, "rank", 0)
        if self.rank >= self.world_size:
            raise ValueError(
                f"rank must be < world_size={self.world_size}; got {self.rank}."
            )
        self.shuffle = bool(shuffle)

    @property
    def n_batches(self) -> int:
        """Batches per epoch, the same on every rank."""
        return -(-len(self.lengths) // self.batch_size)

    @property
    def rank_batch_size(self) -> int:
        """Windows per batch on each rank (the last batch may have fewer)."""
        return -(-self.batch_size // self.world_size)

    def plan(self, rng: np.random.Generator) -> EpochPlan:
        """Draw the next epoch from ``rng`` (advancing it) and shard it."""
        subjects, starts = draw_epoch(
            rng, self.lengths, self.n_timepoints, shuffle=self.shuffle
        )
        batches = shard_batches(
            subjects,
            starts,
            batch_size=self.batch_size,
            rank=self.rank,
            world_size=self.world_size,
        )
        return EpochPlan(
            subjects, starts, batches, self.rank, self.world_size, self.batch_size
        )


# -------------------------------------------------------------------- torch
class WindowDataset(Dataset):
    """Windows of a source, addressed by ``(subject, start)``.

    Parameters
    ----------
    source : TimeSeriesSource
    n_timepoints : int
        Window length.
    transform : callable or None, default=None
        Applied to each float32 window of shape (n_rois, n_timepoints), e.g.
        :class:`ROIScalerTransform`. A transform with ``needs_full_run =
        True`` is applied to the whole run before cropping. Must be picklable
        to run in workers.
    """

    def __init__(self, source: TimeSeriesSource, n_timepoints: int, transform=None):
        if not isinstance(source, TimeSeriesSource):
            raise TypeError(
                f"source must be a TimeSeriesSource (see as_source); got "
                f"{type(source).__name__}."
            )
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be callable or None; got {transform!r}.")
        self.source = source
        self.n_timepoints = _check_int(n_timepoints, "n_timepoints", 1)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.source)

    def window(self, index: int, start: int) -> np.ndarray:
        """The (scaled) window as a float32 array of shape (n_rois, n_timepoints)."""
        n = self.n_timepoints
        if self.transform is None:
            return self.source.window(index, start, n)
        try:
            if getattr(self.transform, "needs_full_run", False):
                out = self.transform(self.source[index])[:, start : start + n]
            else:
                out = self.transform(self.source.window(index, start, n))
        except ValueError as exc:
            raise ValueError(
                f"{self.transform!r} failed on {self.source.subject_name(index)}: {exc}"
            ) from exc
        out = np.ascontiguousarray(out, dtype=np.float32)
        if out.shape != (self.source.n_rois, n):
            raise ValueError(
                f"transform returned shape {out.shape} for a window of shape "
                f"{(self.source.n_rois, n)}; it must keep the shape."
            )
        return out

    def __getitem__(self, key) -> torch.Tensor:
        index, start = key
        return torch.from_numpy(self.window(index, start))


class PlanBatchSampler(Sampler):
    """Batch sampler that yields the batches of the current :class:`EpochPlan`.

    It runs in the main process, so the windows do not depend on the number
    of workers. Call :meth:`set_plan` before iterating the loader for each
    epoch (as ``DistributedSampler.set_epoch``).
    """

    def __init__(self, plan: EpochPlan | None = None):
        super().__init__()
        self.plan = plan

    def set_plan(self, plan: EpochPlan) -> None:
        if not isinstance(plan, EpochPlan):
            raise TypeError(f"plan must be an EpochPlan; got {type(plan).__name__}.")
        self.plan = plan

    def _current(self) -> EpochPlan:
        if self.plan is None:
            raise RuntimeError(
                "No epoch plan set: call loader.batch_sampler.set_plan(plan) with "
                "plan = EpochPlanner(...).plan(rng) before iterating."
            )
        return self.plan

    def __iter__(self):
        for batch in self._current().batches:
            yield [(int(i), int(s)) for i, s in batch]

    def __len__(self) -> int:
        return len(self._current())


def make_loader(
    source,
    n_timepoints: int,
    *,
    transform=None,
    plan: EpochPlan | None = None,
    num_workers: int = 0,
    device=None,
    pin_memory: bool | None = None,
    persistent_workers: bool = False,
    prefetch_factor: int | None = None,
    multiprocessing_context=None,
) -> DataLoader:
    """A DataLoader of training windows following an epoch plan.

    Parameters
    ----------
    source : TimeSeriesSource or anything :func:`as_source` accepts
    n_timepoints : int
        Window length.
    transform : callable or None, default=None
        Per-window scaling, see :class:`WindowDataset`.
    plan : EpochPlan or None, default=None
        First epoch's plan; set each epoch's with
        ``loader.batch_sampler.set_plan(plan)``.
    num_workers : int, default=0
        Worker processes reading windows (0 reads in the main process).
        Workers draw nothing random: the windows and their order come from
        the plan, so batches are the same for any ``num_workers``.
    device : str, torch.device or None, default=None
        Where batches will go; decides the default of ``pin_memory``.
    pin_memory : bool or None, default=None
        None pins when ``device`` is a CUDA device.
    persistent_workers : bool, default=False
        Keep workers alive between epochs (only with ``num_workers > 0``).
    prefetch_factor : int or None, default=None
        Batches each worker loads ahead (torch's default of 2 when None).
    multiprocessing_context : str or None, default=None
        e.g. ``"spawn"``; sources pickle without their data.

    Returns
    -------
    loader : torch.utils.data.DataLoader
        Yields float32 tensors of shape (b, n_rois, n_timepoints).
    """
    source = as_source(source)
    num_workers = _check_int(num_workers, "num_workers", 0)
    if pin_memory is None:
        pin_memory = device is not None and torch.device(device).type == "cuda"
    extra = {}
    if num_workers > 0:
        extra = {
            "persistent_workers": bool(persistent_workers),
            "prefetch_factor": prefetch_factor,
            "multiprocessing_context": multiprocessing_context,
        }
    return DataLoader(
        WindowDataset(source, n_timepoints, transform),
        batch_sampler=PlanBatchSampler(plan),
        num_workers=num_workers,
        pin_memory=bool(pin_memory),
        # The loader draws its workers' base seed from this generator; without
        # it, every epoch would consume a draw of torch's global RNG and shift
        # whatever else uses it. Workers use no randomness, so a constant seed.
        generator=torch.Generator().manual_seed(0),
        **extra,
    )


# ------------------------------------------------------------- connectivity
def group_fc(source, *, average: str = "fisher") -> np.ndarray:
    """Group functional connectivity, one subject in memory at a time.

    Gives what :class:`~sk_brainjepa.GradientPositioner` computes from
    ``FunctionalConnectivity().fit_transform(X)`` for float32 ``X`` (which is
    what sources return), without holding the (n_subjects, n_rois, n_rois)
    stack: pass the result to ``positioner.fit``.

    Parameters
    ----------
    source : TimeSeriesSource or anything :func:`as_source` accepts
    average : {"fisher", "mean"}, default="fisher"
        Fisher z averaging (the positioner's, for correlation kernels), or the
        plain mean (its rule for ``kernel="precomputed"``).

    Returns
    -------
    fc : ndarray of shape (n_rois, n_rois)
        float64; a single subject's float32 matrix when there is one subject.
    """
    from sk_brainjepa.gradients._positioner import FISHER_CLIP
    from sk_brainjepa.preprocessing import FunctionalConnectivity

    if average not in ("fisher", "mean"):
        raise ValueError(f"average must be 'fisher' or 'mean'; got {average!r}.")
    source = as_source(source)
    measure = FunctionalConnectivity()
    total = np.zeros((source.n_rois, source.n_rois), dtype=np.float64)
    diagonal = np.zeros(source.n_rois, dtype=np.float32)
    plain_sum = np.zeros((source.n_rois, source.n_rois), dtype=np.float32)
    for index in range(len(source)):
        try:
            fc = measure.fit_transform(source[index][np.newaxis])[0]
        except ValueError as exc:
            raise ValueError(f"{source.subject_name(index)}: {exc}") from exc
        if len(source) == 1:
            return fc
        if average == "mean":
            # float32 running sum, as fc.mean(axis=0) reduces a float32 stack.
            plain_sum += fc
            continue
        total += np.arctanh(np.clip(fc, FISHER_CLIP - 1, 1 - FISHER_CLIP))
        diagonal += np.diagonal(fc)
    if average == "mean":
        return plain_sum / len(source)
    group = np.tanh(total / len(source))
    np.fill_diagonal(group, diagonal / len(source))
    return group
