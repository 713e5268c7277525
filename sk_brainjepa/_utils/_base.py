"""Project-wide estimator defaults (tags for 3-D input)."""

from __future__ import annotations

from sklearn.base import BaseEstimator


class _ThreeDInputMixin:
    """Tags of estimators whose samples are 2-D arrays, so ``X`` is 3-D.

    scikit-learn's generic checks feed 2-D tabular data, which these estimators
    reject on purpose; ``two_d_array=False`` tells ``check_estimator`` and
    ``parametrize_with_checks`` to skip the checks that need it, and
    ``tests/test_contract.py`` runs the equivalent checks on 3-D data.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags


class TimeSeriesEstimatorMixin(_ThreeDInputMixin):
    """Declare the 3-D ``(n_subjects, n_rois, n_timepoints)`` input contract.

    For the preprocessing transformers, the pretrainer, the embedder and the
    fine-tuners.
    """


class ConnectivityEstimatorMixin(_ThreeDInputMixin):
    """Declare the 3-D ``(n_subjects, n_rois, n_rois)`` input contract.

    For the estimators that learn from a stack of functional-connectivity
    matrices (the BrainNetCNN and BNT baselines).
    """


__all__ = ["BaseEstimator", "ConnectivityEstimatorMixin", "TimeSeriesEstimatorMixin"]
