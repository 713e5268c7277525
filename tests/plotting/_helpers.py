"""Helpers shared by the plotting tests."""

import numpy as np


def error_bar_halves(ax):
    """Half-lengths of the vertical error bars of the first bar container."""
    (bars,) = [c for c in ax.containers if hasattr(c, "errorbar")]
    assert bars.errorbar is not None, "the bars have no error bars"
    segments = bars.errorbar.lines[2][0].get_segments()
    return np.array([(seg[1, 1] - seg[0, 1]) / 2 for seg in segments])
