"""Figures: each plot draws what it should, labels its axes, rejects bad input."""

import sys

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sk_brainjepa.plotting import (  # noqa: E402
    history_panels,
    plot_gradients,
    plot_history,
    plot_network_attention,
    plot_probe_results,
)

NETWORKS = ["Vis", "SomMot", "DorsAttn", "Default"]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def attention():
    values = pd.Series([0.4, 0.3, 0.2, 0.1], index=NETWORKS, name="attention")
    values.index.name = "network"
    return values


@pytest.fixture
def history():
    return [
        {
            "epoch": e,
            "loss": 1.0 / e,
            "spread": 0.5 + 0.01 * e,
            "sample_spread": 0.2 if e > 1 else float("nan"),
            "lr": 1e-3 * e,
            "momentum": 0.996,
            "seconds": 0.1,
        }
        for e in range(1, 6)
    ]


def probe_table(scores, task="classification"):
    """A table shaped like linear_probe's: repeat rows, then mean and std."""
    n = len(scores)
    rows = pd.DataFrame(
        {
            "repeat": range(n),
            "n_train": 12,
            "n_val": 4,
            "n_test": 4,
            "regularization": 1.0,
            "accuracy": scores,
            "balanced_accuracy": scores,
            "f1": np.asarray(scores) - 0.1,
        }
    )
    table = pd.concat([rows, rows.select_dtypes("number").agg(["mean", "std"])])
    table.attrs.update(task=task)
    return table


def error_bar_halves(ax):
    """Half-lengths of the vertical error bars of the first bar container."""
    (bars,) = [c for c in ax.containers if hasattr(c, "errorbar")]
    assert bars.errorbar is not None, "the bars have no error bars"
    segments = bars.errorbar.lines[2][0].get_segments()
    return np.array([(seg[1, 1] - seg[0, 1]) / 2 for seg in segments])


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


def test_plot_history_draws_three_panels(history):
    axes = plot_history(history)
    assert len(axes) == 3
    assert [a.get_ylabel() for a in axes] == ["loss", "learning rate", "spread"]
    assert all(a.get_xlabel() == "epoch" for a in axes)
    loss_line = axes[0].lines[0]
    np.testing.assert_allclose(loss_line.get_ydata(), [1 / e for e in range(1, 6)])
    assert len(axes[1].lines) == 1
    assert [line.get_label() for line in axes[2].lines] == ["spread", "sample_spread"]


def test_plot_history_from_an_estimator_draws_its_threshold(history):
    class Fitted:
        history_ = history
        collapse_threshold = 0.05

    fig, axes = plt.subplots(3, 1)
    out = plot_history(Fitted(), ax=axes)
    assert out[0] is axes[0]
    threshold = axes[2].lines[-1]
    assert threshold.get_label() == "threshold"
    assert threshold.get_ydata()[0] == pytest.approx(0.05)
    # A DataFrame of the records works as well.
    assert len(plot_history(pd.DataFrame(history))[0].lines[0].get_xdata()) == 5


def test_plot_history_bad_input(history):
    from sk_brainjepa import BrainJEPAPretrainer

    with pytest.raises(ValueError, match="fit it first"):
        plot_history(BrainJEPAPretrainer())
    with pytest.raises(ValueError, match="empty"):
        plot_history([])
    with pytest.raises(ValueError, match=r"lack the keys \['lr'\]"):
        plot_history([{k: v for k, v in r.items() if k != "lr"} for r in history])
    with pytest.raises(TypeError, match="history must be"):
        plot_history("history.csv")
    _, axes = plt.subplots(1, 2)
    with pytest.raises(ValueError, match="sequence of 3 Axes"):
        plot_history(history, ax=axes)


@pytest.fixture
def diagnostics_history(history):
    """``history`` with the optional collapse diagnostics of newer training loops."""
    nan = float("nan")
    extra = {
        "online_sample_spread": [0.3, 0.28, nan, 0.25, 0.2],
        "position_share": [0.1, 0.2, 0.3, nan, 0.5],
        "rankme": [12.0, 10.0, 8.0, 6.0, 4.0],
        "monitor_score": [nan, 0.6, nan, 0.7, nan],  # probed every other epoch
        "prediction_loss": [0.9, 0.45, 0.3, 0.22, 0.18],
        "sigreg_loss": [0.1, 0.05, nan, 0.03, 0.02],
    }
    return [
        {**record, **{k: v[i] for k, v in extra.items()}}
        for i, record in enumerate(history)
    ]


def test_plot_history_old_records_plot_as_before(history):
    # Only the required keys (plus unrelated ones): the original three panels.
    assert history_panels(history) == ["loss", "learning rate", "spread"]
    axes = plot_history(history)
    fig = axes[0].figure
    assert len(fig.axes) == 3
    assert len(axes[0].lines) == 1 and axes[0].get_legend() is None
    assert [a.get_title() for a in axes] == [
        "training loss",
        "learning rate",
        "collapse check",
    ]
    # sample_spread keeps its NaN (a gap), as before.
    assert np.isnan(axes[2].lines[1].get_ydata()[0])


def test_plot_history_draws_the_diagnostics_panels(diagnostics_history):
    panels = ["loss", "learning rate", "spread", "position share", "RankMe"]
    panels.append("probe score")
    assert history_panels(diagnostics_history) == panels
    axes = plot_history(diagnostics_history)
    assert len(axes) == 6 and len(axes[0].figure.axes) == 6
    assert [a.get_ylabel() for a in axes] == panels
    assert all(a.get_xlabel() == "epoch" for a in axes)
    labels = [line.get_label() for line in axes[0].lines]
    assert labels == ["loss", "prediction_loss", "sigreg_loss"]
    assert axes[0].get_legend() is not None
    spread_labels = [line.get_label() for line in axes[2].lines]
    assert spread_labels == ["spread", "sample_spread", "online_sample_spread"]
    share = axes[3].lines[0]
    assert share.get_label() == "position_share"
    assert axes[3].get_ylim()[0] < 0 < 1 < axes[3].get_ylim()[1]
    assert axes[4].lines[-1].get_label() == "rank 1 (collapsed)"


def test_plot_history_skips_nan_entries(diagnostics_history):
    axes = plot_history(diagnostics_history)
    probe = axes[5].lines[0]
    assert list(probe.get_xdata()) == [2, 4]
    assert axes[5].get_xlim() == axes[0].get_xlim()  # all epochs, 1 to 5
    np.testing.assert_allclose(probe.get_ydata(), [0.6, 0.7])
    assert list(axes[3].lines[0].get_xdata()) == [1, 2, 3, 5]
    online = axes[2].lines[2]
    assert list(online.get_xdata()) == [1, 2, 4, 5]
    sigreg = axes[0].lines[2]
    assert not np.isnan(sigreg.get_ydata()).any()


def test_plot_history_only_present_diagnostics_get_panels(history):
    # A key that is absent, or NaN on every epoch, gets no panel.
    records = [
        {**r, "rankme": 3.0 + e, "position_share": float("nan")}
        for e, r in enumerate(history)
    ]
    records[0]["monitor_score"] = float("nan")  # absent elsewhere: all NaN
    assert history_panels(records) == ["loss", "learning rate", "spread", "RankMe"]
    axes = plot_history(records)
    assert len(axes) == 4 and len(axes[0].figure.axes) == 4
    assert axes[3].get_title() == "effective rank"


def test_plot_history_wrong_ax_count_names_the_panels(diagnostics_history, history):
    class Fitted:
        history_ = diagnostics_history
        collapse_threshold = 0.05

    _, axes = plt.subplots(1, 3)
    with pytest.raises(
        ValueError,
        match=r"sequence of 6 Axes \(loss, learning rate, spread, position share, "
        r"RankMe, probe score\).*got 3",
    ):
        plot_history(diagnostics_history, ax=axes)
    _, axes = plt.subplots(2, 3)
    out = plot_history(Fitted(), ax=axes)
    assert out[0] is axes[0, 0] and out[5] is axes[1, 2]
    assert axes[0, 2].lines[-1].get_label() == "threshold"
    _, axes = plt.subplots(1, 4)
    with pytest.raises(ValueError, match="sequence of 3 Axes"):
        plot_history(history, ax=axes)


def test_plot_probe_results_single_table():
    table = probe_table([0.6, 0.7, 0.8])
    ax = plot_probe_results(table)
    assert len(ax.patches) == 1  # balanced_accuracy, the task's main score
    assert ax.patches[0].get_height() == pytest.approx(0.7)
    np.testing.assert_allclose(error_bar_halves(ax), [0.1])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["balanced_accuracy"]
    assert "3 repeats" in ax.get_ylabel()
    ax = plot_probe_results(table, metric=["accuracy", "f1"])
    assert [p.get_height() for p in ax.patches] == pytest.approx([0.7, 0.6])


def test_plot_probe_results_compares_models():
    tables = {
        "Brain-JEPA": probe_table([0.6, 0.7, 0.8]),
        "FC": probe_table([0.5, 0.55]),
    }
    ax = plot_probe_results(tables, metric=["accuracy", "f1"])
    assert len(ax.patches) == 4
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Brain-JEPA", "FC"]
    assert "2/3 repeats" in ax.get_ylabel()
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights == pytest.approx(sorted([0.7, 0.6, 0.525, 0.425]))


def test_plot_probe_results_regression_default_and_no_summary_rows():
    rows = pd.DataFrame({"mse": [2.0, 3.0], "pearson_r": [0.3, 0.5]})
    ax = plot_probe_results(rows)  # no attrs, no mean/std rows: computed here
    assert [t.get_text() for t in ax.get_xticklabels()] == ["pearson_r"]
    assert ax.patches[0].get_height() == pytest.approx(0.4)


def test_plot_probe_results_bad_input():
    table = probe_table([0.6, 0.7])
    with pytest.raises(ValueError, match=r"metric \['r2'\] not in the score"):
        plot_probe_results(table, metric="r2")
    with pytest.raises(ValueError, match=r"frame\['b'\]"):
        plot_probe_results({"a": table, "b": table.drop(columns="f1")}, metric="f1")
    with pytest.raises(TypeError, match="non-empty dict"):
        plot_probe_results({})
    with pytest.raises(TypeError, match=r"frame\['a'\] must be a DataFrame"):
        plot_probe_results({"a": [0.5]})
    with pytest.raises(ValueError, match="no score rows"):
        plot_probe_results(pd.DataFrame({"repeat": [0, 1]}))


def test_missing_matplotlib_says_how_to_install(monkeypatch, attention):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install sk_brainjepa\[plot\]"):
        plot_network_attention(attention)
