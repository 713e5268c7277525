"""Pretraining curves: loss, learning rate and the collapse statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sk_brainjepa.plotting._common import check_axes, import_pyplot

HISTORY_KEYS = ("epoch", "loss", "lr", "spread", "sample_spread")


def _history_frame(history) -> tuple[pd.DataFrame, float | None]:
    """The records as a DataFrame, and the estimator's collapse threshold if any."""
    threshold = None
    if hasattr(history, "history_"):
        threshold = getattr(history, "collapse_threshold", None)
        history = history.history_
    elif hasattr(history, "get_params") and not isinstance(history, pd.DataFrame):
        raise ValueError(f"The {type(history).__name__} has no history_: fit it first.")
    if isinstance(history, pd.DataFrame):
        frame = history
    elif isinstance(history, (list, tuple)) and all(
        isinstance(r, dict) for r in history
    ):
        frame = pd.DataFrame(list(history))
    else:
        raise TypeError(
            "history must be a fitted BrainJEPAPretrainer, its history_ (a list of "
            f"dicts) or a DataFrame of the same records; got {type(history).__name__}."
        )
    if len(frame) == 0:
        raise ValueError("history is empty: there is no epoch to plot.")
    missing = [k for k in HISTORY_KEYS if k not in frame.columns]
    if missing:
        raise ValueError(
            f"history records lack the keys {missing}; expected the keys of "
            f"BrainJEPAPretrainer.history_: {list(HISTORY_KEYS)}."
        )
    return frame, threshold


def plot_history(history, ax=None):
    """Plot pretraining curves from ``BrainJEPAPretrainer.history_``.

    Three panels against the epoch: the training loss; the learning rate at
    the end of each epoch; and the two collapse statistics, ``spread`` (of the
    normalised target features across tokens) and ``sample_spread`` (across
    the samples of a batch). When an estimator is given, its
    ``collapse_threshold`` is drawn as a dashed line on the last panel.

    Parameters
    ----------
    history : BrainJEPAPretrainer, list of dict or pandas.DataFrame
        A fitted (or loaded) pretrainer, its ``history_``, or a DataFrame of
        the same records (keys ``epoch``, ``loss``, ``lr``, ``spread``,
        ``sample_spread``).
    ax : sequence of 3 matplotlib Axes or None, default=None
        Where to draw the three panels. None makes a new figure of three
        panels side by side.

    Returns
    -------
    axes : ndarray of 3 matplotlib Axes

    Examples
    --------
    >>> from sk_brainjepa.plotting import plot_history
    >>> records = [{"epoch": e, "loss": 1.0 / e, "lr": 1e-3, "spread": 0.5,
    ...             "sample_spread": 0.3} for e in (1, 2, 3)]
    >>> axes = plot_history(records)
    >>> [a.get_ylabel() for a in axes]
    ['loss', 'learning rate', 'spread']
    """
    frame, threshold = _history_frame(history)
    if ax is None:
        plt = import_pyplot()
        _, axes = plt.subplots(1, 3, figsize=(12.0, 3.2), layout="constrained")
    else:
        axes = np.asarray(ax, dtype=object).ravel()
        if len(axes) != 3:
            raise ValueError(
                f"ax must be a sequence of 3 Axes (loss, learning rate, spread); got "
                f"{len(axes)}."
            )
        for i, a in enumerate(axes):
            check_axes(a, f"ax[{i}]")
    epochs = frame["epoch"].to_numpy()
    loss_ax, lr_ax, spread_ax = axes
    loss_ax.plot(epochs, frame["loss"].to_numpy(dtype=float), marker=".")
    loss_ax.set_ylabel("loss")
    lr_ax.plot(epochs, frame["lr"].to_numpy(dtype=float), marker=".")
    lr_ax.set_ylabel("learning rate")
    lr_ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    for key in ("spread", "sample_spread"):
        # NaN sample_spread (batches of one sample) leaves a gap, as it should.
        spread_ax.plot(epochs, frame[key].to_numpy(dtype=float), marker=".", label=key)
    if threshold is not None:
        spread_ax.axhline(
            threshold, color="0.4", linestyle="--", linewidth=1, label="threshold"
        )
    spread_ax.set_ylabel("spread")
    spread_ax.legend(fontsize="small")
    titles = ("training loss", "learning rate", "collapse check")
    from matplotlib.ticker import MaxNLocator

    for a, title in zip(axes, titles, strict=True):
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.set_xlabel("epoch")
        a.set_title(title)
    return np.asarray(axes, dtype=object)
