"""Project-wide estimator defaults: tags for 3-D input, ``set_output`` containers."""

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


# The containers of scikit-learn's set_output, and those that are 2-D tables.
OUTPUT_CONTAINERS = ("default", "pandas", "polars")
TABLE_CONTAINERS = ("pandas", "polars")


def check_output_container(transform) -> None:
    """Raise unless ``transform`` is a ``set_output`` container or None."""
    if transform is not None and transform not in OUTPUT_CONTAINERS:
        raise ValueError(
            f"transform must be one of {list(OUTPUT_CONTAINERS)} or None; "
            f"got {transform!r}."
        )


def refuse_table_output(estimator, transform, output: str, hint: str) -> None:
    """Raise when ``set_output`` asks a table of an estimator whose output is 3-D.

    Parameters
    ----------
    estimator : estimator instance
        Named in the message.
    transform : str or None
        The container asked for; "default" and None pass.
    output : str
        What the estimator returns, e.g. ``"time series of shape (n_subjects,
        n_rois, n_timepoints)"``.
    hint : str
        How to get a table instead.

    Raises
    ------
    ValueError
        For ``transform="pandas"`` or ``"polars"``.
    """
    if transform in TABLE_CONTAINERS:
        raise ValueError(
            f"{type(estimator).__name__} returns 3-D {output}, which no {transform} "
            f"table holds, so set_output(transform={transform!r}) cannot apply; "
            f"{hint}"
        )
