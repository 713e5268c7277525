"""What the plotting functions share: the lazy matplotlib import and axes checks."""

from __future__ import annotations

INSTALL_HINT = "pip install sk_brainjepa[plot]"


def import_pyplot():
    """``matplotlib.pyplot``, imported only when a plot is drawn.

    matplotlib is an optional extra: the rest of the package must import
    without it.

    Raises
    ------
    ImportError
        If matplotlib is not installed, saying how to install it.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"Plotting needs matplotlib, which is not installed: {INSTALL_HINT}"
        ) from exc
    return plt


def check_axes(ax, name: str = "ax"):
    """Raise a TypeError unless ``ax`` is None or a matplotlib Axes."""
    if ax is None:
        return
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(
            f"{name} must be a matplotlib Axes or None; got {type(ax).__name__}."
        )
