"""Pretraining curves: loss, learning rate and the collapse statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sk_brainjepa.plotting._common import check_axes, import_pyplot

HISTORY_KEYS = ("epoch", "loss", "lr", "spread", "sample_spread")
# Optional keys, drawn when a record has them (newer training loops; any subset).
LOSS_TERMS = (
    "prediction_loss",
    "variance_loss",
    "covariance_loss",
    "sigreg_loss",
    "reconstruction_loss",
    "consistency_loss",
    "consistency_variance_loss",
    "consistency_covariance_loss",
    "context_loss",
)
# (key, y label, title) of the optional panels, in the order they are drawn.
EXTRA_PANELS = (
    ("position_share", "position share", "token-position share"),
    ("rankme", "RankMe", "effective rank"),
    ("monitor_score", "probe score", "online probe"),
)
BASE_PANELS = ("loss", "learning rate", "spread")


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


def _has_values(frame: pd.DataFrame, key: str) -> bool:
    """Whether ``key`` is recorded with at least one finite value."""
    if key not in frame.columns:
        return False
    return bool(np.isfinite(frame[key].to_numpy(dtype=float)).any())


def _plot_finite(ax, epochs, values, **kwargs):
    """Plot only the finite points, so epochs without a value are skipped.

    A NaN means "not computed this epoch" (e.g. a probe run every few epochs):
    dropping it joins the computed epochs instead of leaving isolated markers.
    """
    values = np.asarray(values, dtype=float)
    keep = np.isfinite(values)
    return ax.plot(epochs[keep], values[keep], marker=".", **kwargs)


def history_panels(history) -> list[str]:
    """The y labels of the panels :func:`plot_history` draws for ``history``.

    Use its length to size the ``ax`` argument of :func:`plot_history`.

    Parameters
    ----------
    history : BrainJEPAPretrainer, list of dict or pandas.DataFrame
        As for :func:`plot_history`.

    Returns
    -------
    panels : list of str
        ``["loss", "learning rate", "spread"]``, then ``"position share"``,
        ``"RankMe"`` and ``"probe score"`` for those of ``position_share``,
        ``rankme`` and ``monitor_score`` that have a finite value.
    """
    frame, _ = _history_frame(history)
    return _panels(frame)


def _panels(frame: pd.DataFrame) -> list[str]:
    extra = [label for key, label, _ in EXTRA_PANELS if _has_values(frame, key)]
    return [*BASE_PANELS, *extra]


def plot_history(history, ax=None):
    """Plot pretraining curves from ``BrainJEPAPretrainer.history_``.

    Three panels against the epoch, always: the training loss (and the
    per-term losses ``prediction_loss``, ``variance_loss``,
    ``covariance_loss``, ``sigreg_loss``, ``reconstruction_loss``,
    ``consistency_loss``, ``consistency_variance_loss``,
    ``consistency_covariance_loss``, ``context_loss`` that were
    recorded); the learning rate at the end of each epoch; and the collapse
    statistics, ``spread`` (of the normalised target features across tokens),
    ``sample_spread`` (across the samples of a batch) and, when recorded,
    ``online_sample_spread`` and ``target_sample_spread`` (the same for each
    encoder on the fixed diagnostic windows). When an
    estimator is given, its ``collapse_threshold`` is drawn as a dashed line on
    that panel.

    Then one panel for each of these optional records that has a finite value,
    in this order: ``position_share`` (share of target-feature energy
    explained by token position, in [0, 1]), ``rankme`` (effective rank of the
    pooled features, >= 1; a dotted line marks rank 1, full collapse) and
    ``monitor_score`` (score of the online linear probe). A record may be
    absent or NaN on some epochs: the optional curves skip those epochs and
    join the others. Histories with only the five required keys plot as the
    three panels alone.

    Parameters
    ----------
    history : BrainJEPAPretrainer, list of dict or pandas.DataFrame
        A fitted (or loaded) pretrainer, its ``history_``, or a DataFrame of
        the same records (keys ``epoch``, ``loss``, ``lr``, ``spread``,
        ``sample_spread``, and any of the optional keys above).
    ax : sequence of matplotlib Axes or None, default=None
        Where to draw the panels: exactly one Axes per panel, that is 3 plus
        one per optional panel present (3 to 6; ``history_panels(history)``
        lists them). None makes a new figure: one row of three panels, or two
        rows when there are more.

    Returns
    -------
    axes : ndarray of matplotlib Axes
        One per panel, in the order above.

    Raises
    ------
    ValueError
        If ``ax`` does not hold one Axes per panel.

    Examples
    --------
    >>> from sk_brainjepa.plotting import plot_history
    >>> records = [{"epoch": e, "loss": 1.0 / e, "lr": 1e-3, "spread": 0.5,
    ...             "sample_spread": 0.3} for e in (1, 2, 3)]
    >>> axes = plot_history(records)
    >>> [a.get_ylabel() for a in axes]
    ['loss', 'learning rate', 'spread']
    >>> records[2]["rankme"] = 4.2  # recorded on the last epoch only
    >>> [a.get_ylabel() for a in plot_history(records)]
    ['loss', 'learning rate', 'spread', 'RankMe']
    """
    frame, threshold = _history_frame(history)
    panels = _panels(frame)
    if ax is None:
        plt = import_pyplot()
        # Three panels keep the original one-row layout; more go on two rows.
        nrows = 1 if len(panels) <= 3 else 2
        fig, grid = plt.subplots(
            nrows, 3, figsize=(12.0, 3.2 * nrows), layout="constrained"
        )
        grid = np.asarray(grid, dtype=object).ravel()
        for unused in grid[len(panels) :]:
            fig.delaxes(unused)
        axes = grid[: len(panels)]
    else:
        axes = np.asarray(ax, dtype=object).ravel()
        if len(axes) != len(panels):
            raise ValueError(
                f"ax must be a sequence of {len(panels)} Axes ({', '.join(panels)}), "
                f"one per panel this history has; got {len(axes)}."
            )
        for i, a in enumerate(axes):
            check_axes(a, f"ax[{i}]")
    epochs = frame["epoch"].to_numpy()
    loss_ax, lr_ax, spread_ax = axes[:3]
    loss_ax.plot(epochs, frame["loss"].to_numpy(dtype=float), marker=".")
    loss_ax.set_ylabel("loss")
    terms = [key for key in LOSS_TERMS if _has_values(frame, key)]
    if terms:
        loss_ax.lines[0].set_label("loss")
        for key in terms:
            _plot_finite(loss_ax, epochs, frame[key], linewidth=1, label=key)
        loss_ax.legend(fontsize="small")
    lr_ax.plot(epochs, frame["lr"].to_numpy(dtype=float), marker=".")
    lr_ax.set_ylabel("learning rate")
    lr_ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    for key in ("spread", "sample_spread"):
        # NaN sample_spread (batches of one sample) leaves a gap, as it should.
        spread_ax.plot(epochs, frame[key].to_numpy(dtype=float), marker=".", label=key)
    for key in ("online_sample_spread", "target_sample_spread"):
        if _has_values(frame, key):
            _plot_finite(spread_ax, epochs, frame[key], label=key)
    if threshold is not None:
        spread_ax.axhline(
            threshold, color="0.4", linestyle="--", linewidth=1, label="threshold"
        )
    spread_ax.set_ylabel("spread")
    spread_ax.legend(fontsize="small")
    titles = ["training loss", "learning rate", "collapse check"]
    extra = [(k, label, t) for k, label, t in EXTRA_PANELS if label in panels]
    for a, (key, label, title) in zip(axes[3:], extra, strict=True):
        _plot_finite(a, epochs, frame[key], label=key)
        # Same epoch range as the loss panel, even where the first or last
        # epochs have no value (a probe that runs every few epochs).
        a.set_xlim(loss_ax.get_xlim())
        a.set_ylabel(label)
        titles.append(title)
        if key == "position_share":
            a.set_ylim(-0.02, 1.02)
        elif key == "rankme":
            a.axhline(
                1.0, color="0.4", linestyle=":", linewidth=1, label="rank 1 (collapsed)"
            )
    from matplotlib.ticker import MaxNLocator

    for a, title in zip(axes, titles, strict=True):
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
        a.set_xlabel("epoch")
        a.set_title(title)
    return np.asarray(axes, dtype=object)
