"""The ``gradients`` parameter of the estimators, turned into ROI positions.

Every estimator that takes ``gradients`` (the pretrainer, the embedder, the
fine-tuners, for the official checkpoint) reads it here, and the resulting
array is validated in one place, :func:`check_gradient_values`: 2-D, finite,
float32 in C order, and, when the data's ROI count is known, one row per ROI.

No torch here: the gradients layer only needs numpy, scikit-learn, the
time-series sources and the preprocessing (functional connectivity) below it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from sk_brainjepa._utils._validation import check_n_rois
from sk_brainjepa.gradients._io import read_gradient_csv
from sk_brainjepa.gradients._positioner import GradientPositioner
from sk_brainjepa.preprocessing import FunctionalConnectivity, group_fc
from sk_brainjepa.sources import TimeSeriesSource

# Fewest ROIs the default positioner fits gradients for: it keeps n_rois - 2
# components, and a diffusion map needs one beyond the trivial first.
MIN_ROIS = 3


def default_positioner(n_rois: int, random_state) -> GradientPositioner:
    """The paper's positioner (30 components, 90% sparsity), shrunk for few ROIs.

    Row-wise sparsification keeps ``int(n_rois * (1 - sparsity))`` entries per
    row; with few ROIs 0.9 would keep none, so at least 5 (or ``n_rois - 1``)
    are kept.

    Raises
    ------
    ValueError
        For fewer than ``MIN_ROIS`` ROIs, naming the ``gradients`` parameter.
    """
    if n_rois < MIN_ROIS:
        raise ValueError(
            f"gradients=None fits connectivity gradients on X, which needs at least "
            f"{MIN_ROIS} ROIs; X has {n_rois}. To position {n_rois} ROIs, pass "
            f"gradients: an array of shape ({n_rois}, m) such as np.eye({n_rois}), "
            f"or a gradient CSV of {n_rois} rows."
        )
    n_keep = max(int(n_rois * 0.1), min(5, n_rois - 1))
    # The +0.5 keeps int(n_rois * (1 - sparsity)) == n_keep despite rounding.
    sparsity = min(0.9, 1.0 - (n_keep + 0.5) / n_rois)
    return GradientPositioner(
        n_components=min(30, n_rois - 2), sparsity=sparsity, random_state=random_state
    )


def check_gradient_values(
    values, *, n_rois=None, n_timepoints=None, layout=None
) -> np.ndarray:
    """Gradients as a validated (n_rois, m) float32 array in C order.

    Parameters
    ----------
    values : array-like
    n_rois : int or None, default=None
        ROI count of the data the gradients position; None skips that check
        (the official checkpoint's gradients define the ROI count).
    n_timepoints : int or array-like of int, optional
        The data's frame counts: a transposed ``X`` is named as such.
    layout : {"rois_x_time", "time_x_rois"} or None, default=None
        The layout ``X`` was read with, named in the ROI-count message.

    Returns
    -------
    gradients : ndarray of shape (n_rois, n_components), float32

    Raises
    ------
    ValueError
        When ``values`` is not 2-D, has another ROI count than ``n_rois``, or
        holds NaN or infinite values.
    """
    # C order: a Fortran-ordered copy (as eigensolvers return) would make the
    # projection round differently than the same values reloaded from a file.
    values = np.ascontiguousarray(values, dtype=np.float32)
    if values.ndim != 2:
        wanted = "" if n_rois is None else f" = ({n_rois}, m) to match X"
        raise ValueError(
            f"gradients must have shape (n_rois, n_components){wanted}; got "
            f"shape {values.shape}."
        )
    if n_rois is not None:
        # X is checked against the gradients' ROI count: a transposed X is named.
        check_n_rois(
            n_rois,
            values.shape[0],
            f"the gradients (shape {values.shape})",
            n_timepoints=n_timepoints,
            layout=layout,
        )
    if not np.all(np.isfinite(values)):
        raise ValueError("gradients contain NaN or infinite values.")
    return values


def gradient_array(
    gradients, *, n_rois=None, n_timepoints=None, layout=None
) -> np.ndarray:
    """Given gradients (an array or a gradient CSV path), read and validated.

    Parameters
    ----------
    gradients : array-like, str or os.PathLike
        An array of shape (n_rois, m), or the path of a gradient CSV in the
        official layout (see :func:`read_gradient_csv`).
    n_rois, n_timepoints, layout : optional
        See :func:`check_gradient_values`.

    Returns
    -------
    gradients : ndarray of shape (n_rois, n_components), float32
    """
    if isinstance(gradients, (str, os.PathLike)):
        values = read_gradient_csv(Path(gradients))
    else:
        values = np.asarray(gradients, dtype=np.float64)
    return check_gradient_values(
        values, n_rois=n_rois, n_timepoints=n_timepoints, layout=layout
    )


def resolve_gradients(gradients, X, n_rois: int, random_state) -> np.ndarray:
    """Turn the ``gradients`` parameter into a (n_rois, m) float32 array.

    Parameters
    ----------
    gradients : None, array-like, str, os.PathLike or GradientPositioner
        None fits a ``GradientPositioner`` (30 components, or ``n_rois - 2``
        when there are fewer ROIs) on the FC of ``X``; a positioner that is not
        fitted yet is cloned and fitted the same way; a path is read as a
        gradient CSV in the official layout.
    X : list, ndarray or TimeSeriesSource
        Validated training time series (see
        :func:`sk_brainjepa.sources.as_source`).
    n_rois : int
    random_state : int, RandomState or None

    Returns
    -------
    gradients : ndarray of shape (n_rois, n_components), float32
    """
    lengths = getattr(X, "lengths", None)
    # How X was read, for the message when the gradients' ROI count differs.
    layout = getattr(X, "layout", None)
    if gradients is not None and not isinstance(gradients, GradientPositioner):
        return gradient_array(
            gradients, n_rois=n_rois, n_timepoints=lengths, layout=layout
        )
    positioner = gradients
    try:
        if positioner is None:
            raise NotFittedError
        check_is_fitted(positioner)
        values = positioner.gradients_
    except NotFittedError:
        if positioner is None:
            positioner = default_positioner(n_rois, random_state)
        values = clone(positioner).fit(training_fc(X, positioner)).gradients_
    return check_gradient_values(
        values, n_rois=n_rois, n_timepoints=lengths, layout=layout
    )


def training_fc(X, positioner: GradientPositioner) -> np.ndarray:
    """The FC the positioner is fitted on.

    Per-subject matrices, or their group average computed one subject at a
    time for data read lazily from disk.
    """
    if not isinstance(X, TimeSeriesSource):
        return FunctionalConnectivity().fit_transform(X)
    if X.in_memory:
        return FunctionalConnectivity().fit_transform(X.data)
    # The positioner averages a stack the same way (Fisher z for correlation
    # kernels, plain mean for precomputed ones), so the group matrix is what
    # it would have computed, without the (n_subjects, R, R) stack in memory.
    average = "mean" if positioner.kernel == "precomputed" else "fisher"
    return group_fc(X, average=average)
