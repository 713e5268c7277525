"""Bar charts of linear-probe scores with error bars, for one or several models."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sk_brainjepa.plotting._common import check_axes, import_pyplot

# Columns of a linear_probe table that describe the split, not the scores.
NON_SCORE_COLUMNS = ("repeat", "n_train", "n_val", "n_test", "regularization")
DEFAULT_METRICS = {"classification": "balanced_accuracy", "regression": "pearson_r"}


def _score_columns(frame: pd.DataFrame) -> list[str]:
    numeric = frame.select_dtypes("number").columns
    return [c for c in numeric if c not in NON_SCORE_COLUMNS]


def _mean_std(frame: pd.DataFrame, metrics: list[str]) -> tuple[np.ndarray, ...]:
    """Means and standard deviations of ``metrics`` over the repeats.

    Uses the ``mean`` and ``std`` rows of a ``linear_probe`` table when present,
    else computes them from the rows.
    """
    if "mean" in frame.index and "std" in frame.index:
        return (
            frame.loc["mean", metrics].to_numpy(dtype=float),
            frame.loc["std", metrics].to_numpy(dtype=float),
        )
    repeats = frame[metrics].astype(float)
    return repeats.mean().to_numpy(), repeats.std().to_numpy()


def _n_repeats(frame: pd.DataFrame) -> int:
    return int(sum(label not in ("mean", "std") for label in frame.index))


def _default_metric(frames: dict[str, pd.DataFrame]) -> list[str]:
    first = next(iter(frames.values()))
    task = first.attrs.get("task")
    if task in DEFAULT_METRICS:
        return [DEFAULT_METRICS[task]]
    for candidate in DEFAULT_METRICS.values():
        if all(candidate in f.columns for f in frames.values()):
            return [candidate]
    return [_score_columns(first)[0]]


def plot_probe_results(frame, metric=None, ax=None):
    """Bars of probe scores (mean over repeats) with standard-deviation error bars.

    Parameters
    ----------
    frame : pandas.DataFrame or dict of str to pandas.DataFrame
        A table returned by :func:`sk_brainjepa.linear_probe` (one row per
        repeat, then rows ``mean`` and ``std``), or a dict of such tables by
        model name: each metric then gets a group of bars, one per model, with
        a legend.
    metric : str, list of str or None, default=None
        Score column(s) to draw. None draws the main score of the task
        recorded in ``frame.attrs["task"]``: ``balanced_accuracy`` for
        classification, ``pearson_r`` for regression.
    ax : matplotlib Axes or None, default=None
        Where to draw. None makes a new figure.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import pandas as pd
    >>> from sk_brainjepa.plotting import plot_probe_results
    >>> table = pd.DataFrame({"accuracy": [0.7, 0.8], "f1": [0.6, 0.7]})
    >>> ax = plot_probe_results(table, metric=["accuracy", "f1"])
    >>> len(ax.patches)
    2
    """
    if isinstance(frame, pd.DataFrame):
        frames, compare = {"": frame}, False
    elif isinstance(frame, dict) and frame:
        frames, compare = dict(frame), True
    else:
        raise TypeError(
            "frame must be a DataFrame from linear_probe or a non-empty dict of "
            f"name -> DataFrame; got {type(frame).__name__}"
            + (" (empty)" if isinstance(frame, dict) else "")
            + "."
        )
    for name, table in frames.items():
        if not isinstance(table, pd.DataFrame):
            raise TypeError(
                f"frame[{name!r}] must be a DataFrame; got {type(table).__name__}."
            )
        if not _score_columns(table) or _n_repeats(table) == 0:
            raise ValueError(
                f"frame{f'[{name!r}]' if compare else ''} holds no score rows; "
                "expected the table returned by linear_probe."
            )
    if metric is None:
        metrics = _default_metric(frames)
    else:
        metrics = [metric] if isinstance(metric, str) else list(metric)
        if not metrics:
            raise ValueError("metric must name at least one score column.")
    for name, table in frames.items():
        missing = [m for m in metrics if m not in _score_columns(table)]
        if missing:
            raise ValueError(
                f"metric {missing} not in the score columns of "
                f"frame{f'[{name!r}]' if compare else ''}: "
                f"{_score_columns(table)}."
            )
    check_axes(ax)
    plt = import_pyplot()
    if ax is None:
        width_in = max(4.0, 1.0 + len(metrics) * (0.6 + 0.5 * len(frames)))
        _, ax = plt.subplots(figsize=(width_in, 3.5), layout="constrained")

    positions = np.arange(len(metrics), dtype=float)
    bar_width = 0.8 / len(frames)
    for i, (name, table) in enumerate(frames.items()):
        means, stds = _mean_std(table, metrics)
        offset = (i - (len(frames) - 1) / 2) * bar_width
        ax.bar(
            positions + offset,
            means,
            width=bar_width,
            yerr=stds,
            capsize=3,
            label=name if compare else None,
        )
    ax.set_xticks(positions)
    ax.set_xticklabels(metrics)
    ax.set_xlabel("metric")
    repeats = sorted({_n_repeats(t) for t in frames.values()})
    ax.set_ylabel(f"test score (mean ± std, {'/'.join(map(str, repeats))} repeats)")
    if compare:
        ax.legend(title="model", fontsize="small")
    ax.set_title("linear probe")
    return ax
