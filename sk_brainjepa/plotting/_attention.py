"""Bar and radar charts of network attention."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sk_brainjepa.plotting._common import check_axes, import_pyplot

KINDS = ("bar", "radar")


def _mean_and_spread(attention) -> tuple[pd.Series, pd.Series | None]:
    """The values to draw and their standard deviation (None for a Series)."""
    if isinstance(attention, pd.DataFrame):
        if len(attention) == 0 or attention.shape[1] == 0:
            raise ValueError(
                f"attention is an empty DataFrame of shape {attention.shape}."
            )
        spread = attention.std(axis=0) if len(attention) > 1 else None
        return attention.mean(axis=0), spread
    if isinstance(attention, pd.Series):
        if len(attention) == 0:
            raise ValueError("attention is an empty Series; expected one per network.")
        return attention, None
    raise TypeError(
        "attention must be the pandas Series returned by network_attention (or its "
        f"per_subject DataFrame); got {type(attention).__name__}."
    )


def plot_network_attention(attention, kind="bar", ax=None, *, label=None):
    """Draw the attention each functional network receives.

    Parameters
    ----------
    attention : pandas.Series or pandas.DataFrame
        The Series returned by :func:`sk_brainjepa.network_attention` (one value
        per network), or its ``per_subject=True`` DataFrame, drawn as the mean
        over subjects with their standard deviation as error bars (bar chart)
        or a band (radar chart).
    kind : {"bar", "radar"}, default="bar"
        One bar per network, with a dashed line at uniform attention
        ``1 / n_networks``; or a closed polygon on polar axes, one spoke per
        network (the paper's presentation).
    ax : matplotlib Axes or None, default=None
        Where to draw; for ``"radar"`` it must be polar
        (``plt.subplot(projection="polar")``). None makes a new figure.
    label : str or None, default=None
        Legend label, to overlay several groups (e.g. patients and controls)
        on one radar chart.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import pandas as pd
    >>> from sk_brainjepa.plotting import plot_network_attention
    >>> att = pd.Series([0.5, 0.3, 0.2], index=["Vis", "DMN", "Limbic"])
    >>> ax = plot_network_attention(att, kind="bar")
    >>> len(ax.patches)
    3
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}.")
    check_axes(ax)
    values, spread = _mean_and_spread(attention)
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.isna().any():
        raise ValueError("attention must hold finite numbers, one per network.")
    plt = import_pyplot()
    names = [str(n) for n in values.index]
    heights = numeric.to_numpy(dtype=float)
    errors = None if spread is None else spread.to_numpy(dtype=float)

    if kind == "bar":
        if ax is None:
            _, ax = plt.subplots(
                figsize=(max(4.0, 0.6 * len(names) + 1.5), 3.5), layout="constrained"
            )
        ax.bar(np.arange(len(names)), heights, yerr=errors, capsize=3, label=label)
        ax.axhline(1.0 / len(names), color="0.4", linestyle="--", linewidth=1)
        ax.set_xticks(np.arange(len(names)))
        ax.set_xticklabels(names, rotation=45, ha="right")
        ax.set_xlabel("network")
        ax.set_ylabel("attention share")
    else:
        if ax is None:
            _, ax = plt.subplots(
                subplot_kw={"projection": "polar"},
                figsize=(4.5, 4.5),
                layout="constrained",
            )
        elif ax.name != "polar":
            raise ValueError(
                "kind='radar' needs polar axes: create them with "
                "plt.subplot(projection='polar'); got axes of type "
                f"{ax.name!r}."
            )
        angles = np.linspace(0.0, 2.0 * np.pi, len(names), endpoint=False)
        closed = np.append(angles, angles[0])  # close the polygon
        (line,) = ax.plot(closed, np.append(heights, heights[0]), label=label)
        ax.fill(
            closed, np.append(heights, heights[0]), alpha=0.2, color=line.get_color()
        )
        if errors is not None:
            low, high = heights - errors, heights + errors
            ax.fill_between(
                closed,
                np.append(low, low[0]),
                np.append(high, high[0]),
                alpha=0.15,
                color=line.get_color(),
            )
        ax.set_xticks(angles)
        ax.set_xticklabels(names)
        # Few radial ticks, placed between the first two spokes, stay legible.
        from matplotlib.ticker import MaxNLocator

        ax.yaxis.set_major_locator(MaxNLocator(4))
        ax.set_rlabel_position(np.degrees(np.pi / len(names)))
        ax.tick_params(axis="y", labelsize="small")
        ax.set_xlabel("attention share by network")
    ax.set_title("network attention")
    if label is not None:
        if kind == "radar":  # outside the circle, which it would otherwise cover
            ax.legend(loc="upper left", bbox_to_anchor=(1.05, 1.0), fontsize="small")
        else:
            ax.legend(fontsize="small")
    return ax
