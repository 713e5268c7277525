"""Project-wide estimator defaults (tags for 3-D time-series input)."""

from __future__ import annotations

from sklearn.base import BaseEstimator


class TimeSeriesEstimatorMixin:
    """Declare the 3-D ``(n_subjects, n_rois, n_timepoints)`` input contract.

    scikit-learn's generic checks feed 2-D tabular data, which these estimators
    reject on purpose; the tags tell ``check_estimator`` to skip them, and
    ``tests/test_contract.py`` runs the equivalent checks on 3-D data.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags


__all__ = ["BaseEstimator", "TimeSeriesEstimatorMixin"]
