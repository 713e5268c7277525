"""Bar and radar figures of network attention (plot_network_attention)."""

import sys

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sk_brainjepa.plotting import (  # noqa: E402
    plot_network_attention,
)

from ._helpers import error_bar_halves  # noqa: E402

NETWORKS = ["Vis", "SomMot", "DorsAttn", "Default"]


@pytest.fixture
def attention():
    values = pd.Series([0.4, 0.3, 0.2, 0.1], index=NETWORKS, name="attention")
    values.index.name = "network"
    return values


def test_plot_network_attention_bar(attention):
    ax = plot_network_attention(attention)
    assert len(ax.patches) == 4
    assert [p.get_height() for p in ax.patches] == pytest.approx(attention.tolist())
    assert [t.get_text() for t in ax.get_xticklabels()] == NETWORKS
    assert ax.get_ylabel() == "attention share" and ax.get_xlabel() == "network"
    # The dashed reference line at uniform attention.
    assert ax.lines[-1].get_ydata()[0] == pytest.approx(0.25)


def test_plot_network_attention_per_subject_frame_gets_error_bars(attention):
    frame = pd.DataFrame([attention * 0.9, attention * 1.1])
    ax = plot_network_attention(frame)
    assert [p.get_height() for p in ax.patches] == pytest.approx(attention.tolist())
    half = error_bar_halves(ax)
    np.testing.assert_allclose(half, frame.std().to_numpy())


def test_plot_network_attention_radar(attention):
    ax = plot_network_attention(attention, kind="radar", label="controls")
    assert ax.name == "polar"
    (line,) = ax.lines
    assert len(line.get_xdata()) == 5  # four spokes, closed
    assert [t.get_text() for t in ax.get_xticklabels()] == NETWORKS
    ax2 = plot_network_attention(attention[::-1], kind="radar", ax=ax, label="x")
    assert ax2 is ax and len(ax.lines) == 2
    assert len(ax.collections) == 0  # no spread band for a single Series
    frame = pd.DataFrame([attention * 0.9, attention * 1.1])
    ax = plot_network_attention(frame, kind="radar")
    assert len(ax.collections) == 1  # mean +- std band


def test_plot_network_attention_bad_input(attention):
    with pytest.raises(ValueError, match="kind must be one of"):
        plot_network_attention(attention, kind="pie")
    with pytest.raises(TypeError, match="pandas Series"):
        plot_network_attention(attention.to_numpy())
    with pytest.raises(ValueError, match="empty Series"):
        plot_network_attention(attention.iloc[:0])
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match="needs polar axes"):
        plot_network_attention(attention, kind="radar", ax=ax)
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        plot_network_attention(attention, ax="left")


def test_missing_matplotlib_says_how_to_install(monkeypatch, attention):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install sk_brainjepa\[plot\]"):
        plot_network_attention(attention)
