"""Scatter of brain gradients, coloured by functional network."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from sk_brainjepa._utils._validation import check_gradient_matrix
from sk_brainjepa.plotting._common import check_axes, import_pyplot


def _gradient_matrix(gradients) -> np.ndarray:
    """(n_rois, n_components) float array from an array or a fitted estimator."""
    values = getattr(gradients, "gradients_", gradients)
    try:
        values = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            "gradients must be an array of shape (n_rois, n_components) or an "
            "estimator with a gradients_ attribute (a fitted GradientPositioner or "
            f"BrainJEPAPretrainer); got {type(gradients).__name__}."
        ) from exc
    check_gradient_matrix(values)
    return values


def _component_indices(components, n_components: int) -> tuple[int, ...]:
    if isinstance(components, numbers.Integral) and not isinstance(components, bool):
        if components not in (2, 3):
            raise ValueError(
                f"components must be 2, 3 or a tuple of 2 or 3 indices; got "
                f"{components!r}."
            )
        components = tuple(range(components))
    try:
        picked = tuple(int(c) for c in components)
    except (TypeError, ValueError):
        raise ValueError(
            f"components must be 2, 3 or a tuple of 2 or 3 indices; got {components!r}."
        ) from None
    if len(picked) not in (2, 3) or len(set(picked)) != len(picked):
        raise ValueError(
            f"components must hold 2 or 3 distinct indices; got {components!r}."
        )
    if min(picked) < 0 or max(picked) >= n_components:
        raise ValueError(
            f"components {picked} must be in [0, {n_components}): the gradients have "
            f"{n_components} components."
        )
    return picked


def plot_gradients(gradients, network_labels=None, components=(0, 1), ax=None):
    """Scatter the ROIs in gradient space, one colour per network.

    Parameters
    ----------
    gradients : ndarray of shape (n_rois, n_components) or fitted estimator
        Brain gradients, or a fitted ``GradientPositioner`` /
        ``BrainJEPAPretrainer`` (their ``gradients_``).
    network_labels : array-like of shape (n_rois,) or None, default=None
        Network of each ROI; each network gets its own colour and legend
        entry, in order of first appearance. None draws one colour.
    components : tuple of int or int, default=(0, 1)
        Zero-based components on the axes: 2 or 3 indices, or ``2``/``3`` for
        the first two/three. Three components draw a 3-D scatter.
    ax : matplotlib Axes or None, default=None
        Where to draw (a ``projection="3d"`` Axes for three components). None
        makes a new figure.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> from sk_brainjepa.plotting import plot_gradients
    >>> g = np.random.default_rng(0).normal(size=(10, 3))
    >>> ax = plot_gradients(g, network_labels=["a"] * 5 + ["b"] * 5)
    >>> len(ax.collections)
    2
    """
    values = _gradient_matrix(gradients)
    picked = _component_indices(components, values.shape[1])
    check_axes(ax)
    groups: list[tuple[str | None, np.ndarray]]
    if network_labels is None:
        groups = [(None, np.ones(len(values), dtype=bool))]
    else:
        labels = pd.Series(np.asarray(network_labels, dtype=object).ravel())
        if np.ndim(network_labels) != 1 or len(labels) != len(values):
            raise ValueError(
                f"network_labels must have one label per ROI ({len(values)}); got "
                f"shape {np.shape(network_labels)}."
            )
        if labels.isna().any():
            raise ValueError("network_labels contains missing values (None or NaN).")
        groups = [(str(net), (labels == net).to_numpy()) for net in labels.unique()]

    plt = import_pyplot()
    three_d = len(picked) == 3
    if ax is None:
        fig = plt.figure(figsize=(5.0, 4.5), layout=None if three_d else "constrained")
        ax = fig.add_subplot(projection="3d" if three_d else None)
    elif three_d and ax.name != "3d":
        raise ValueError(
            "Three components need 3-D axes: create them with "
            f"fig.add_subplot(projection='3d'); got axes of type {ax.name!r}."
        )
    for name, members in groups:
        coords = [values[members, c] for c in picked]
        ax.scatter(*coords, s=14, label=name)
    ax.set_xlabel(f"gradient {picked[0] + 1}")
    ax.set_ylabel(f"gradient {picked[1] + 1}")
    if three_d:
        ax.set_zlabel(f"gradient {picked[2] + 1}")
    if network_labels is not None:
        ax.legend(title="network", fontsize="small", markerscale=1.5)
    ax.set_title("brain gradients")
    return ax
