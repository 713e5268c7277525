"""``as_source``: a :class:`TimeSeriesSource` for any accepted form of time series."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sk_brainjepa._utils._reading import check_not_iterator, log_read
from sk_brainjepa._utils._validation import apply_layout, check_layout, check_timeseries
from sk_brainjepa.sources._arrays import ArraySource
from sk_brainjepa.sources._base import TimeSeriesSource
from sk_brainjepa.sources._files import FileSource, list_timeseries_files
from sk_brainjepa.sources._fileview import _is_mapped, _npy_header


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
          ``.csv``/``.tsv`` files (as :func:`~sk_brainjepa.datasets.load_timeseries`
          reads them);
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
        arrays) or read lazily (memory-mapped arrays and files);
        ``source.layout`` is ``layout``.

    Raises
    ------
    TypeError
        For a generator or iterator (it could be read only once).
    FileNotFoundError
        For a missing path or a folder without matching files.
    ValueError
        For data of the wrong shape or type; messages name the file or the
        subject.

    Notes
    -----
    How the data was read is logged at INFO, e.g. ``read 12 subjects as
    (n_rois=150, n_timepoints=200) with layout='rois_x_time'``: nothing in the
    values tells which axis is time, so a cohort in the other orientation is
    read without error unless a ROI count is known (a fitted model, the
    gradients), and this line is what shows it.
    """
    if isinstance(X, TimeSeriesSource):
        return X
    check_layout(layout)
    check_not_iterator(X, name)
    source = _make_source(
        X,
        name,
        layout,
        pattern,
        file_options={
            "layout": layout,
            "npz_key": npz_key,
            "delimiter": delimiter,
            "header": header,
            "index_col": index_col,
        },
    )
    source.layout = layout
    if not source.in_memory:
        # In-memory arrays were logged by check_timeseries, which read them.
        log_read(len(source), source.n_rois, source.lengths, layout)
    return source


def _make_source(X, name: str, layout: str, pattern, file_options: dict):
    """The source of ``X`` (see :func:`as_source`), before its layout is recorded."""
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
        files = list_timeseries_files(path, pattern)
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
        return FileSource(list_timeseries_files(list(X), pattern), **file_options)
    # In-memory subjects in (n_timepoints, n_rois) become transposed views.
    X = apply_layout(X, layout)
    if isinstance(X, np.ndarray) and _is_mapped(X):
        return ArraySource(X, name=name)
    if is_list and any(isinstance(x, np.ndarray) and _is_mapped(x) for x in X):
        return ArraySource(list(X), name=name)
    checked = check_timeseries(X, name=name, layout=layout)
    return ArraySource(checked, name=name, in_memory=True)
