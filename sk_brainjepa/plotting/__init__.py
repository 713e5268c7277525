"""Figures: network attention, gradients, training curves, probe scores, comparisons.

matplotlib is an optional extra (``pip install sk_brainjepa[plot]``); it is
imported only when a figure is drawn.
"""

from sk_brainjepa.plotting._attention import plot_network_attention
from sk_brainjepa.plotting._comparison import (
    plot_model_comparison,
    save_model_comparison_figure,
)
from sk_brainjepa.plotting._gradients import plot_gradients
from sk_brainjepa.plotting._history import history_panels, plot_history
from sk_brainjepa.plotting._probe import plot_probe_results

__all__ = [
    "history_panels",
    "plot_gradients",
    "plot_history",
    "plot_model_comparison",
    "plot_network_attention",
    "plot_probe_results",
    "save_model_comparison_figure",
]
