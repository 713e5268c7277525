"""Covariates a harmonisation protects: one table, categorical and continuous columns.

:class:`~sk_brainjepa.preprocessing.ComBatHarmonizer` takes its covariates as a
DataFrame or a 2-D array; this module reads them into a table aligned with
the samples, decides once (in ``fit``) which columns are categorical and which
categories they have, and splits later tables the same way, so that a test
part cannot change the coding of a covariate.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

# Values named in a message at most.
_SHOWN = 10


class CovariateCoding(NamedTuple):
    """How a fitted harmoniser reads covariates.

    Attributes
    ----------
    columns : list
        Column names, in order (0, 1, ... for an array).
    categories : dict
        Categorical column -> its categories (a ``pandas.Index``), as seen in
        ``fit``.
    continuous : list
        The continuous columns, in order.
    """

    columns: list
    categories: dict
    continuous: list


def covariate_frame(covariates, n_samples: int, method: str) -> pd.DataFrame:
    """Covariates as a DataFrame with index ``0 .. n_samples - 1``.

    Parameters
    ----------
    covariates : DataFrame, Series or array-like of shape (n_samples, n_covariates)
        A 1-D array is one covariate.
    n_samples : int
        Rows of ``X``.
    method : str
        ``"ComBatHarmonizer.fit"`` or ``".transform"``, for the messages.

    Returns
    -------
    frame : pandas.DataFrame of shape (n_samples, n_covariates)
        Columns keep a DataFrame's names; an array's are 0, 1, ...
    """
    if isinstance(covariates, pd.Series):
        frame = covariates.to_frame()
    elif isinstance(covariates, pd.DataFrame):
        frame = covariates.copy()
    else:
        values = np.asarray(covariates)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2:
            raise ValueError(
                f"{method}: covariates must be a DataFrame or a 2-D array of "
                f"shape (n_samples, n_covariates); got shape {values.shape}."
            )
        frame = pd.DataFrame(values)
    if frame.shape[0] != n_samples or frame.shape[1] == 0:
        raise ValueError(
            f"{method}: covariates must have one row per sample of X, shape "
            f"({n_samples}, n_covariates); got shape {frame.shape}."
        )
    missing = frame.columns[frame.isna().any()].tolist()
    if missing:
        raise ValueError(
            f"{method}: covariates {missing} have missing values; ComBat needs "
            "every covariate of every sample."
        )
    frame.index = pd.RangeIndex(n_samples)
    return frame


def _is_categorical(column: pd.Series) -> bool:
    return is_bool_dtype(column) or not is_numeric_dtype(column)


def fit_coding(frame: pd.DataFrame, categorical) -> CovariateCoding:
    """Decide which columns are categorical and record their categories.

    Parameters
    ----------
    frame : pandas.DataFrame
        From :func:`covariate_frame`.
    categorical : list of column names or positions, or None
        None: booleans, strings, objects and categoricals are categorical,
        numbers continuous.

    Returns
    -------
    coding : CovariateCoding
    """
    columns = list(frame.columns)
    if categorical is None:
        chosen = [c for c in columns if _is_categorical(frame[c])]
    else:
        chosen = list(categorical)
        unknown = [c for c in chosen if c not in columns]
        if unknown:
            raise ValueError(
                f"categorical_covariates names {unknown}, which are not columns "
                f"of covariates {columns} (an array's columns are 0, 1, ...)."
            )
    continuous = [c for c in columns if c not in chosen]
    for c in continuous:
        if not is_numeric_dtype(frame[c]) or is_bool_dtype(frame[c]):
            raise ValueError(
                f"Covariate {c!r} holds {frame[c].dtype} values, which cannot be "
                "continuous; list it in categorical_covariates."
            )
    categories = {c: pd.Index(pd.unique(frame[c])).sort_values() for c in chosen}
    return CovariateCoding(columns, categories, continuous)


def split_covariates(
    frame: pd.DataFrame, coding: CovariateCoding, method: str
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Discrete and continuous covariates, coded as in ``fit``.

    Categorical columns become ``pandas.Categorical`` with the fitted
    categories, so that dummy coding is the same whichever categories a part
    happens to hold.

    Parameters
    ----------
    frame : pandas.DataFrame
        From :func:`covariate_frame`.
    coding : CovariateCoding
    method : str
        For the messages.

    Returns
    -------
    discrete, continuous : pandas.DataFrame or None
        None where there is no such column.

    Raises
    ------
    ValueError
        When the columns differ from the fitted ones, or a categorical
        covariate holds a category not seen in ``fit``.
    """
    if list(frame.columns) != coding.columns:
        raise ValueError(
            f"{method}: covariates have columns {list(frame.columns)}, but the "
            f"harmoniser was fitted with columns {coding.columns}."
        )
    discrete = {}
    for column, categories in coding.categories.items():
        unseen = pd.Index(pd.unique(frame[column])).difference(categories)
        if len(unseen):
            raise ValueError(
                f"{method}: covariate {column!r} has value(s) "
                f"{unseen[:_SHOWN].tolist()} not seen in fit (seen: "
                f"{categories[:_SHOWN].tolist()}); ComBat has no estimate for "
                "them."
            )
        discrete[column] = pd.Categorical(frame[column], categories=categories)
    discrete_frame = pd.DataFrame(discrete, index=frame.index) if discrete else None
    continuous = (
        frame[coding.continuous].astype(np.float64) if coding.continuous else None
    )
    return discrete_frame, continuous
