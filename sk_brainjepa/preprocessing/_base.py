"""Plumbing shared by the preprocessing transformers: layout, ROI checks, names.

Every transformer here takes ROI time series; the helpers below read them in
the transformer's ``layout``, check the ROI count against the one seen in
``fit`` (naming transposed data), give the ``fit`` of the transformers that
learn nothing else, and give the feature names that let a ``Pipeline`` of
these steps report ``get_feature_names_out``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from sk_brainjepa._utils._base import check_output_container, refuse_table_output
from sk_brainjepa._utils._validation import (
    apply_layout,
    check_n_rois,
    check_timeseries,
    n_rois_of,
)


def read_timeseries(X, layout: str, **kwargs):
    """Validated time series, each subject as (n_rois, n_timepoints).

    Parameters
    ----------
    X : array-like of shape (n_subjects, A, B) or list of 2-D array-like
        Subjects in ``layout``.
    layout : {"rois_x_time", "time_x_rois"}
        How each subject's 2-D array is ordered.
    **kwargs
        Passed to :func:`~sk_brainjepa._utils._validation.check_timeseries`.

    Returns
    -------
    X_checked : ndarray of shape (n_subjects, n_rois, n_timepoints) or list of ndarray
    """
    return check_timeseries(apply_layout(X, layout), **kwargs)


def frame_counts(X) -> list[int]:
    """Frames of each subject of validated (n_rois, n_timepoints) time series."""
    if isinstance(X, np.ndarray):
        return [X.shape[2]] * X.shape[0]
    return [x.shape[1] for x in X]


def check_fitted_rois(estimator, X) -> None:
    """Raise when validated ``X`` has another ROI count than ``estimator.n_rois_``.

    The frame counts go along so that data given in the other layout (its
    frames then number the fitted ROIs) is named as transposed.
    """
    check_n_rois(
        n_rois_of(X),
        estimator.n_rois_,
        type(estimator).__name__,
        n_timepoints=frame_counts(X),
    )


def read_fitted(estimator, X, **kwargs):
    """Validated time series for ``transform``: in ``layout``, with the fitted ROIs.

    :func:`read_timeseries` in ``estimator.layout`` (``kwargs`` passed on),
    then :func:`check_fitted_rois`.
    """
    X = read_timeseries(X, estimator.layout, **kwargs)
    check_fitted_rois(estimator, X)
    return X


def per_subject(X, compute: Callable[[np.ndarray, int], np.ndarray]) -> np.ndarray:
    """``compute(x, index)`` of every subject, stacked, in the input's dtype.

    Each subject of validated time series ``X`` is passed as a float64
    (n_rois, n_timepoints) array with its index (for messages); the stacked
    results are cast back to the dtype of ``X``, so float32 stays float32.
    """
    dtype = X.dtype if isinstance(X, np.ndarray) else X[0].dtype
    out = np.stack([compute(x.astype(np.float64), i) for i, x in enumerate(X)])
    return out.astype(dtype, copy=False)


def edge_names(rois) -> list[str]:
    """``"{a}_{b}"`` for every ROI pair ``a < b``, row by row.

    The order of :func:`~sk_brainjepa.preprocessing.sym_matrix_to_vec`.
    """
    rows, cols = np.triu_indices(len(rois), k=1)
    return [f"{rois[i]}_{rois[j]}" for i, j in zip(rows, cols, strict=True)]


class FitROICountMixin:
    """``fit`` for transformers that learn nothing but the ROI count.

    ``fit`` validates the parameters (``_parameter_constraints``), reads
    ``X`` with ``_fit_input`` and records ``n_rois_`` and ``n_features_in_``,
    which ``transform`` then checks.
    """

    def _fit_input(self, X):
        """``X`` read in ``layout``; subclasses add their parameter checks."""
        return read_timeseries(X, self.layout)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the parameters and record the ROI count; there is nothing to learn.

        Parameters
        ----------
        X : array-like of shape (n_subjects, n_rois, n_timepoints) or list of arrays
            Time series in ``layout``; a list may hold subjects of different
            lengths.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        X = self._fit_input(X)
        self.n_rois_ = n_rois_of(X)
        self.n_features_in_ = self.n_rois_
        return self


def roi_names(estimator, input_features=None) -> np.ndarray:
    """Names of the ROIs of a fitted time-series estimator.

    ROIs are the features of time-series input (``n_features_in_ =
    n_rois_``), so ``input_features``, when given, names them; otherwise they
    are named by index, ``"0"`` to ``str(n_rois_ - 1)``. Index names (rather
    than scikit-learn's generated ``"x0"``) keep a feature name such as
    ``fc_0_1`` the same whether the feature step stands alone or follows a
    scaler in a ``Pipeline``.

    Parameters
    ----------
    estimator : fitted estimator with ``n_rois_`` and ``n_features_in_``
    input_features : array-like of str of shape (n_rois,) or None

    Returns
    -------
    names : ndarray of object of shape (n_rois,)

    Raises
    ------
    ValueError
        If ``input_features`` does not hold one name per ROI.
    """
    check_is_fitted(estimator, "n_rois_")
    names = _check_feature_names_in(estimator, input_features, generate_names=False)
    if names is None:
        return np.asarray([str(i) for i in range(estimator.n_rois_)], dtype=object)
    return np.asarray(names, dtype=object)


class TimeSeriesOutputMixin:
    """Feature names and ``set_output`` for transformers that return time series.

    Their output has the ROIs of their input, one 2-D array per subject, so
    ``get_feature_names_out`` returns the ROI names unchanged: a ``Pipeline``
    of a scaler and a feature step then reports the feature step's names.

    scikit-learn's output containers (pandas, polars) are 2-D tables and
    cannot hold 3-D or ragged time series: ``set_output(transform="pandas")``
    (also through ``Pipeline.set_output``) raises a ``ValueError`` naming the
    transformer, instead of returning arrays silently. These transformers
    never wrap their output (``auto_wrap_output_keys=None`` below), so a
    global ``set_config(transform_output="pandas")``, which configures every
    estimator at once, leaves their time series as arrays and the feature
    step at the end of a pipeline still returns a DataFrame; so does
    ``pipe[-1].set_output(transform="pandas")``.
    """

    def __init_subclass__(cls, **kwargs):
        # Every subclass, whatever its own class statement says, keeps its
        # output as is (see the class docstring).
        kwargs.setdefault("auto_wrap_output_keys", None)
        super().__init_subclass__(**kwargs)

    def get_feature_names_out(self, input_features=None):
        """ROI names of the output time series, the same as the input's.

        Parameters
        ----------
        input_features : array-like of str of shape (n_rois,) or None
            ROI names; None names ROIs by index (``"0"``, ``"1"``, ...).

        Returns
        -------
        feature_names_out : ndarray of object of shape (n_rois,)
        """
        return roi_names(self, input_features)

    def set_output(self, *, transform=None):
        """Accept the array container; refuse a table, which time series do not fit.

        Parameters
        ----------
        transform : {"default", None}
            "default" and None keep the output as it is. "pandas" and
            "polars" raise a ``ValueError``: no table holds 3-D time series.

        Returns
        -------
        self : estimator instance

        Raises
        ------
        ValueError
            For ``transform="pandas"`` or ``"polars"``, naming the estimator.
        """
        check_output_container(transform)
        refuse_table_output(
            self,
            transform,
            "time series of shape (n_subjects, n_rois, n_timepoints)",
            "in a Pipeline, set the output of the step that returns features "
            f"instead, e.g. pipe[-1].set_output(transform={transform!r}).",
        )
        return self


class ConnectivityOutputMixin:
    """``set_output`` for transformers whose ``output`` is vectors or matrices.

    ``output="vector"`` gives one row of edges per subject, a table: the
    output follows ``set_output`` as any scikit-learn transformer's.
    ``output="matrix"`` gives 3-D (n_subjects, n_rois, n_rois) matrices,
    which no table holds: ``set_output(transform="pandas")`` raises, and so
    does ``transform`` when ``output`` was set to "matrix" after a table was
    asked for. A global ``set_config(transform_output="pandas")`` leaves
    matrices as arrays (their ``get_feature_names_out`` does not exist).
    """

    _MATRIX_HINT = "use output='vector' for one row of edges per subject."

    def set_output(self, *, transform=None):
        """Set the output container of ``output="vector"``; refuse a table of matrices.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"} or None, default=None
            As for scikit-learn's transformers; "pandas" and "polars" only
            with ``output="vector"``.

        Returns
        -------
        self : estimator instance

        Raises
        ------
        ValueError
            For a table with ``output="matrix"``, naming the estimator.
        """
        check_output_container(transform)
        if self.output == "vector":
            return super().set_output(transform=transform)
        refuse_table_output(
            self,
            transform,
            "matrices of shape (n_subjects, n_rois, n_rois) with output='matrix'",
            self._MATRIX_HINT,
        )
        return self

    def _check_table_output(self) -> None:
        """In ``transform``: a table asked for while ``output`` is "matrix"."""
        if self.output != "vector":
            asked = getattr(self, "_sklearn_output_config", {}).get("transform")
            refuse_table_output(
                self,
                asked,
                "matrices of shape (n_subjects, n_rois, n_rois) with output='matrix'",
                self._MATRIX_HINT,
            )


class PerSubjectWindowScaling:
    """Base of the window transforms that scale a subject by its own statistics.

    The form a per-subject scaler's ``to_window_transform(over=...)`` returns
    (:class:`~sk_brainjepa.sources.ScaledSource` applies it as windows are
    read). A subclass calls :meth:`_set_span` in ``__init__`` and defines
    ``_scale(x)`` for a (n_rois, n_timepoints) array or a batch of them, and
    ``_estimator()``, the in-memory scaler that computes the same numbers.

    Attributes
    ----------
    over : {"run", "window"}
        Whether the statistics are taken over the subject's whole run (then
        the window is cut) or over the window the model sees.
    needs_full_run : bool
        True when ``over="run"``.
    """

    def _set_span(self, over: str) -> None:
        if over not in ("run", "window"):
            raise ValueError(f"over must be 'run' or 'window'; got {over!r}.")
        self.over = over
        self.needs_full_run = over == "run"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Scale ``x`` of shape (n_rois, n_timepoints) or a batch (B, n_rois, T)."""
        if x.ndim not in (2, 3):
            raise ValueError(
                f"{self!r} expects a (n_rois, n_timepoints) array or a batch "
                f"of them; got shape {x.shape}."
            )
        return self._scale(x)

    def to_estimator(self):
        """The in-memory scaler that computes the same numbers.

        What ``save_pretrained`` records for this transform (the folder
        stores estimators, not callables).

        Returns
        -------
        scaler : estimator
            Unfitted (it learns only the ROI count).

        Raises
        ------
        ValueError
            For ``over="window"``, which no in-memory step reproduces.
        """
        if self.over != "run":
            raise ValueError(
                f"{self!r} scales each window by its own statistics, which no "
                "in-memory step reproduces; only over='run' can be recorded."
            )
        return self._estimator()
