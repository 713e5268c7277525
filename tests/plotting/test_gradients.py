"""Scatter plots of gradients (plot_gradients)."""

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sk_brainjepa.plotting import (  # noqa: E402
    plot_gradients,
)


def test_plot_gradients_2d_by_network(rng):
    g = rng.normal(size=(12, 4))
    labels = np.repeat(["a", "b", "c"], 4)
    ax = plot_gradients(g, network_labels=labels)
    assert len(ax.collections) == 3
    assert sum(len(c.get_offsets()) for c in ax.collections) == 12
    np.testing.assert_allclose(ax.collections[1].get_offsets(), g[4:8, :2])
    assert ax.get_xlabel() == "gradient 1" and ax.get_ylabel() == "gradient 2"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "c"]


def test_plot_gradients_3d_and_picked_components(rng):
    g = rng.normal(size=(10, 4))
    ax = plot_gradients(g, components=3)
    assert ax.name == "3d" and len(ax.collections) == 1
    assert ax.get_zlabel() == "gradient 3"
    ax = plot_gradients(g, components=(3, 1))
    np.testing.assert_allclose(ax.collections[0].get_offsets(), g[:, [3, 1]])
    assert ax.get_xlabel() == "gradient 4"


def test_plot_gradients_accepts_a_fitted_positioner(rng):
    class Fitted:
        gradients_ = rng.normal(size=(6, 3))

    ax = plot_gradients(Fitted())
    assert len(ax.collections[0].get_offsets()) == 6


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"components": (0, 0)}, ValueError, "distinct"),
        ({"components": (0, 5)}, ValueError, r"must be in \[0, 4\)"),
        ({"components": 4}, ValueError, "2, 3 or a tuple"),
        ({"network_labels": ["a"] * 9}, ValueError, "one label per ROI"),
        ({"network_labels": ["a"] * 9 + [None]}, ValueError, "missing values"),
    ],
)
def test_plot_gradients_bad_input(rng, kwargs, error, match):
    with pytest.raises(error, match=match):
        plot_gradients(rng.normal(size=(10, 4)), **kwargs)


def test_plot_gradients_bad_gradients_and_axes(rng):
    with pytest.raises(ValueError, match=r"shape \(n_rois, n_components\)"):
        plot_gradients(np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        plot_gradients(np.full((4, 2), np.nan))
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match="3-D axes"):
        plot_gradients(rng.normal(size=(5, 3)), components=3, ax=ax)
