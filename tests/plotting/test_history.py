"""Training-history figures and their panels (plot_history, history_panels)."""

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sk_brainjepa.plotting import (  # noqa: E402
    history_panels,
    plot_history,
)


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
