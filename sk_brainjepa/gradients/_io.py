"""Gradient matrices as CSV files, in the layout of Brain-JEPA's gradient file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from sk_brainjepa._utils._io import atomic_write
from sk_brainjepa._utils._validation import check_gradient_matrix, check_real_dtype

LAYOUT = (
    "rows = ROIs, columns = gradient components, comma-separated numbers, no "
    "header and no index column"
)


def read_gradient_csv(path: str | os.PathLike) -> np.ndarray:
    """Read a gradient matrix such as Brain-JEPA's ``gradient_mapping_450.csv``.

    Parameters
    ----------
    path : str or path-like
        CSV file with one row per ROI and one column per gradient, numbers
        only, no header (the official file is read with
        ``pandas.read_csv(header=None)``).

    Returns
    -------
    gradients : ndarray of shape (n_rois, n_components)
        float64, so that no digit in the file is lost; cast to float32 where
        a model needs it (the official loader does).

    Raises
    ------
    ValueError
        If the file is empty, has a header or other non-numeric text, rows of
        different lengths, or NaN/infinite values.
    FileNotFoundError
        If ``path`` does not exist.

    See Also
    --------
    write_gradient_csv : The inverse.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sk_brainjepa.gradients import read_gradient_csv, write_gradient_csv
    >>> g = np.arange(6, dtype=np.float32).reshape(3, 2) / 7
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = write_gradient_csv(g, os.path.join(folder, "gradients.csv"))
    ...     read = read_gradient_csv(path)
    >>> read.shape, read.dtype
    ((3, 2), dtype('float64'))
    >>> bool(np.array_equal(read.astype(np.float32), g))
    True
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No gradient file at {str(path)!r}.")
    if path.stat().st_size == 0:
        raise ValueError(
            f"The gradient file {str(path)!r} is empty; expected {LAYOUT}."
        )
    try:
        gradients = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise ValueError(
            f"Could not read {str(path)!r} as a gradient matrix ({LAYOUT}): "
            f"{str(exc).rstrip('.')}. A header line or an index column is not allowed."
        ) from exc
    if gradients.size == 0:
        raise ValueError(
            f"The gradient file {str(path)!r} has no data; expected {LAYOUT}."
        )
    if not np.all(np.isfinite(gradients)):
        n_bad = int(gradients.size - np.count_nonzero(np.isfinite(gradients)))
        raise ValueError(
            f"The gradient file {str(path)!r} contains {n_bad} NaN or infinite "
            "value(s); expected finite numbers."
        )
    return gradients


def write_gradient_csv(gradients, path: str | os.PathLike) -> Path:
    """Write a gradient matrix as a header-less CSV, atomically.

    The file is first written to a temporary file in the target folder and
    then moved into place with ``os.replace``, so a crash never leaves a
    half-written file at ``path``.

    Parameters
    ----------
    gradients : array-like of shape (n_rois, n_components)
        Finite numbers, one row per ROI.
    path : str or path-like
        Destination; an existing file is replaced.

    Returns
    -------
    path : pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        If ``gradients`` is not a finite, numeric, non-empty 2-D array.

    Notes
    -----
    float32 input is written with 9 significant digits and everything else
    with 17, enough for :func:`read_gradient_csv` to give back exactly the same
    float32 or float64 values.

    See Also
    --------
    read_gradient_csv : The inverse.
    """
    arr = np.asarray(gradients)
    check_real_dtype(arr.dtype, "gradients")
    check_gradient_matrix(arr)
    # Shortest digit counts that round-trip every float32 / float64 value.
    fmt = "%.9g" if arr.dtype == np.float32 else "%.17g"

    return atomic_write(
        path, lambda fh: np.savetxt(fh, arr, fmt=fmt, delimiter=","), binary=False
    )
