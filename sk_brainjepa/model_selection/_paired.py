"""Paired comparison of two models over repeated splits (Nadeau-Bengio correction).

Scores of repeated random splits are not independent: the training parts
overlap, so the naive paired t-test's variance is too small and it declares
differences too often. Nadeau and Bengio (2003) correct the variance of the
mean difference by ``1 / J + n_test / n_train`` in place of ``1 / J``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["corrected_paired_ttest"]


def corrected_paired_ttest(differences, n_train, n_test) -> dict[str, float]:
    """The Nadeau-Bengio corrected resampled t-test of paired score differences.

    Parameters
    ----------
    differences : array-like of shape (n_repeats,)
        Per repeat, the score of a model minus that of the reference on the
        same split.
    n_train, n_test : float
        Training and test part sizes (their mean over repeats when they
        vary).

    Returns
    -------
    result : dict
        ``mean`` and ``sd`` (ddof 1) of the differences, the corrected
        standard error ``se``, the statistic ``t``, the two-sided ``p`` with
        ``n_repeats - 1`` degrees of freedom, and ``n_repeats``. ``t`` and
        ``p`` are NaN for fewer than two repeats; for differences that are
        all equal, ``t`` is 0 when they are 0 and infinite otherwise (``p``
        1 and 0).

    Examples
    --------
    >>> r = corrected_paired_ttest([0.05, 0.07, 0.02, 0.06, 0.04], 60, 20)
    >>> round(r["mean"], 3), round(r["t"], 2)
    (0.048, 3.42)
    """
    d = np.asarray(differences, dtype=float)
    if d.ndim != 1 or len(d) == 0:
        raise ValueError(
            f"differences must be a non-empty 1-D array; got shape {d.shape}."
        )
    if not np.all(np.isfinite(d)):
        raise ValueError("differences contain NaN or infinite values.")
    if n_train <= 0 or n_test <= 0:
        raise ValueError(
            f"n_train and n_test must be positive; got {n_train} and {n_test}."
        )
    n = len(d)
    mean = float(d.mean())
    if n < 2:
        nan = float("nan")
        return {"mean": mean, "sd": nan, "se": nan, "t": nan, "p": nan, "n_repeats": n}
    sd = float(d.std(ddof=1))
    # Differences equal up to rounding (e.g. 1/3 - 1/12 in floats) have no spread.
    if sd <= 1e-12 * max(1.0, float(np.abs(d).max())):
        sd = 0.0
    se = float(np.sqrt((1.0 / n + n_test / n_train) * sd**2))
    if se == 0.0:
        t = 0.0 if mean == 0.0 else np.copysign(np.inf, mean)
        p = 1.0 if mean == 0.0 else 0.0
    else:
        t = mean / se
        p = float(2.0 * stats.t.sf(abs(t), df=n - 1))
    return {"mean": mean, "sd": sd, "se": se, "t": float(t), "p": p, "n_repeats": n}
