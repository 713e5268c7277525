"""Tests for BrainJEPAPretrainer and BrainJEPAEmbedder (tiny models, CPU).

Including both estimators on lazy sources: memory maps, folders, scaled sources.
"""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline

from sk_brainjepa import (
    BrainJEPAEmbedder,
    BrainJEPAPretrainer,
    ROIRobustScaler,
    make_brain_dynamics,
    write_gradient_csv,
)
from sk_brainjepa.estimators import RepresentationCollapseWarning
from sk_brainjepa.preprocessing import SubjectRobustScaler
from sk_brainjepa.training import TrainingDivergedError

from ._helpers import _memmap

FAST = dict(
    model="tiny",
    model_params={"depth": 1, "predictor_depth": 1},
    window_length=32,
    max_epochs=1,
    batch_size=4,
)


@pytest.fixture(scope="module")
def data():
    X, pheno = make_brain_dynamics(
        n_subjects=12, n_rois=10, n_timepoints=64, random_state=0
    )
    return ROIRobustScaler().fit_transform(X), pheno


@pytest.fixture(scope="module")
def fitted(data):
    return BrainJEPAPretrainer(**FAST, random_state=0).fit(data[0])


@pytest.mark.parametrize(
    "n_rois, n_frames, window", [(6, 48, 32), (11, 64, 64), (17, 40, 32)]
)
def test_shapes_for_several_roi_counts_and_lengths(n_rois, n_frames, window, rng):
    X = rng.normal(size=(5, n_rois, n_frames)).astype(np.float32)
    params = {**FAST, "window_length": window}
    pre = BrainJEPAPretrainer(**params, random_state=0).fit(X)
    assert pre.transform(X).shape == (5, 64)
    assert pre.gradients_.shape[0] == n_rois
    tokens = BrainJEPAEmbedder(pretrainer=pre, readout="tokens").fit(X).transform(X)
    assert tokens.shape == (5, n_rois * window // 16, 64)
    roi = BrainJEPAEmbedder(pretrainer=pre, readout="roi").fit(X).transform(X)
    assert roi.shape == (5, n_rois * 64)
    # "roi" is the per-ROI mean of the tokens, "mean" the mean of all tokens.
    assert_allclose(
        roi.reshape(5, n_rois, 64),
        tokens.reshape(5, n_rois, -1, 64).mean(2),
        rtol=1e-5,
        atol=1e-6,
    )
    assert_allclose(pre.transform(X), tokens.mean(1), rtol=1e-5, atol=1e-6)


def test_ragged_lists_and_window_choices(fitted, data):
    X = data[0]
    ragged = [X[0], X[1][:, :40], X[2][:, :32]]
    assert fitted.transform(ragged).shape == (3, 64)
    avg = BrainJEPAEmbedder(pretrainer=fitted, window_position="average").fit(X)
    start = BrainJEPAEmbedder(pretrainer=fitted, window_position="start").fit(X)
    # Two non-overlapping windows of 32 frames in a 64-frame run: their mean.
    second = (
        BrainJEPAEmbedder(pretrainer=fitted, window_position="start")
        .fit(X)
        .transform(X[:, :, 32:])
    )
    assert_allclose(
        avg.transform(X), (start.transform(X) + second) / 2, rtol=1e-5, atol=1e-6
    )


def test_loss_falls_on_simulated_dynamics():
    X, _ = make_brain_dynamics(
        n_subjects=32, n_rois=16, n_timepoints=64, random_state=1
    )
    X = ROIRobustScaler().fit_transform(X)
    pre = BrainJEPAPretrainer(
        model="tiny",
        window_length=64,
        max_epochs=6,
        batch_size=8,
        lr=2e-3,
        recipe="paper",
        random_state=0,
    ).fit(X)
    losses = [h["loss"] for h in pre.history_]
    assert len(losses) == 6
    assert losses[-1] < 0.8 * losses[0], losses
    assert pre.history_[-1]["momentum"] == pytest.approx(1.0)
    assert all(h["spread"] > 0.1 and h["sample_spread"] > 0 for h in pre.history_)


def test_same_seed_same_embeddings_and_global_rng_untouched(data):
    X = data[0]
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()[1].copy()
    a = BrainJEPAPretrainer(**FAST, random_state=3).fit(X).transform(X)
    b = BrainJEPAPretrainer(**FAST, random_state=3).fit(X).transform(X)
    c = BrainJEPAPretrainer(**FAST, random_state=4).fit(X).transform(X)
    assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert_array_equal(np.random.get_state()[1], np_state)


@pytest.mark.parametrize(
    "options",
    [
        {"masking": "official"},
        {"masking": "random"},
        {"loss": "smooth_l1", "accumulation_steps": 2},
        {"model_params": {"depth": 1, "roi_embedding": "sincos"}},
    ],
)
def test_options_train(data, options):
    # patch_size 8 gives 4 time patches, enough room for every masker.
    pre = BrainJEPAPretrainer(
        **{**FAST, "patch_size": 8, **options}, random_state=0
    ).fit(data[0])
    assert np.isfinite(pre.history_[0]["loss"])


def test_verbose_shows_progress_and_logs_epochs(data, caplog):
    with caplog.at_level("INFO", logger="sk_brainjepa"):
        BrainJEPAPretrainer(**{**FAST, "max_epochs": 2}, verbose=1, random_state=0).fit(
            data[0]
        )
    epochs = [
        r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch")
    ]
    assert len(epochs) == 2 and "loss" in epochs[0]
    caplog.clear()
    with caplog.at_level("INFO", logger="sk_brainjepa"):
        BrainJEPAPretrainer(**FAST, random_state=0).fit(data[0])
    # verbose=0 logs nothing of the training; the data-entry line saying how
    # the cohort was read (the one trace of its orientation) stays.
    training = [r for r in caplog.records if r.name != "sk_brainjepa._utils._reading"]
    assert not training
    assert all(r.getMessage().startswith("read ") for r in caplog.records)


def test_gradient_sources_agree(data, tmp_path, fitted):
    X = data[0]
    path = tmp_path / "grad.csv"
    write_gradient_csv(fitted.gradients_, path)
    from_csv = BrainJEPAPretrainer(**FAST, gradients=str(path), random_state=0).fit(X)
    from_array = BrainJEPAPretrainer(
        **FAST, gradients=fitted.gradients_, random_state=0
    ).fit(X)
    assert_array_equal(from_csv.gradients_, fitted.gradients_)
    assert_array_equal(from_csv.transform(X), from_array.transform(X))
    with pytest.raises(ValueError, match=r"expects 3 ROIs.*layout"):
        BrainJEPAPretrainer(**FAST, gradients=np.ones((3, 2))).fit(X)


def test_save_load_round_trip_is_exact(fitted, data, tmp_path):
    X = data[0]
    path = fitted.save(tmp_path / "jepa.pt")
    loaded = BrainJEPAPretrainer.load(path)
    assert_array_equal(loaded.transform(X), fitted.transform(X))
    assert loaded.history_ == fitted.history_
    assert loaded.get_params()["model_params"] == fitted.get_params()["model_params"]
    for name in ("online_encoder_", "predictor_", "target_encoder_"):
        a, b = getattr(fitted, name).state_dict(), getattr(loaded, name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)
    from_file = BrainJEPAEmbedder(checkpoint=path).fit(X)
    assert_array_equal(from_file.transform(X), fitted.transform(X))


def test_pickle_clone_and_pipeline(fitted, data):
    X = data[0]
    assert_array_equal(
        pickle.loads(pickle.dumps(fitted)).transform(X), fitted.transform(X)
    )
    assert not hasattr(clone(fitted), "encoder_")
    with pytest.raises(NotFittedError):
        clone(fitted).transform(X)
    pipe = Pipeline(
        [
            ("scale", ROIRobustScaler()),
            ("jepa", BrainJEPAPretrainer(**FAST, random_state=0)),
        ]
    )
    assert pipe.fit_transform(X).shape == (12, 64)


def test_embedder_set_output_pandas_and_frozen_clone(fitted, data):
    X = data[0]
    emb = BrainJEPAEmbedder(pretrainer=FrozenEstimator(fitted)).set_output(
        transform="pandas"
    )
    out = clone(emb).fit_transform(X)
    assert isinstance(out, pd.DataFrame) and out.shape == (12, 64)
    assert out.columns[0] == "brainjepaembedder0"
    # An embedder is a frozen feature extractor: clone keeps the fitted pretrainer.
    assert clone(BrainJEPAEmbedder(pretrainer=fitted)).fit(X).transform(X).shape == (
        12,
        64,
    )


def test_collapse_warning_names_the_cause_and_nan_error(data):
    X = data[0]  # pooled scaling: every subject keeps its ROI offsets
    with pytest.warns(RepresentationCollapseWarning, match="constant ROI offsets"):
        BrainJEPAPretrainer(
            **FAST, recipe="paper", collapse_threshold=10.0, random_state=0
        ).fit(X)
    scaled = SubjectRobustScaler().to_window_transform()(X)
    with pytest.warns(RepresentationCollapseWarning, match="spread across tokens"):
        BrainJEPAPretrainer(
            **FAST, recipe="paper", collapse_threshold=10.0, random_state=0
        ).fit(scaled)
    # Between the two statistics: features that differ by token, not by subject.
    pre = BrainJEPAPretrainer(**FAST, recipe="paper", random_state=0).fit(scaled)
    threshold = (pre.history_[-1]["sample_spread"] + pre.history_[-1]["spread"]) / 2
    with pytest.warns(RepresentationCollapseWarning, match="Positional collapse"):
        BrainJEPAPretrainer(
            **FAST, recipe="paper", collapse_threshold=threshold, random_state=0
        ).fit(scaled)
    with pytest.raises(TrainingDivergedError, match="loss became nan"):
        BrainJEPAPretrainer(**FAST, recipe="paper", random_state=0).fit(
            X * np.float32(1e30)
        )


@pytest.mark.parametrize(
    "params, X_shape, match",
    [
        ({"window_length": 100}, (4, 6, 120), "multiple of patch_size=16"),
        ({"window_length": 64}, (4, 6, 48), r"X\[0\] has 48 time points, fewer than"),
        ({"masking": "block"}, (4, 6, 64), "'masking' parameter .* must be"),
        ({"loss": "l1"}, (4, 6, 64), "'loss' parameter .* must be"),
        ({"ema": (1.0, 0.9)}, (4, 6, 64), "ema must satisfy"),
        ({"max_epochs": -1}, (4, 6, 64), r"'max_epochs' parameter .* \[0, inf\)"),
        ({"device": "tpu"}, (4, 6, 64), "device must be"),
        ({"masking_params": {"foo": 1}}, (4, 6, 64), r"Unknown option\(s\) \['foo'\]"),
    ],
)
def test_pretrainer_bad_input(params, X_shape, match, rng):
    X = rng.normal(size=X_shape).astype(np.float32)
    with pytest.raises(ValueError, match=match):
        BrainJEPAPretrainer(**{**FAST, **params}).fit(X)


def test_embedder_bad_input(fitted, data, tmp_path):
    X = data[0]
    with pytest.raises(ValueError, match="exactly one of checkpoint .* got neither"):
        BrainJEPAEmbedder().fit(X)
    with pytest.raises(ValueError, match="got both"):
        BrainJEPAEmbedder(tmp_path / "x.pt", pretrainer=fitted).fit(X)
    with pytest.raises(ValueError, match="does not exist"):
        BrainJEPAEmbedder(tmp_path / "missing.pt").fit(X)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="neither a BrainJEPAPretrainer checkpoint"):
        BrainJEPAEmbedder(tmp_path / "other.pt").fit(X)
    emb = BrainJEPAEmbedder(pretrainer=fitted).fit(X)
    with pytest.raises(ValueError, match="9 ROIs"):
        emb.transform(X[:, :9])
    with pytest.raises(ValueError, match="fewer than the model window"):
        emb.transform(X[:, :, :20])


# ------------------------------------------------------- estimators on sources
def test_pretrainer_on_memmap_and_files_equals_in_memory(tmp_path, rng):
    from sk_brainjepa import BrainJEPAEmbedder, BrainJEPAPretrainer

    X = rng.standard_normal((8, 6, 40)).astype(np.float32)
    mm = _memmap(tmp_path / "X.npy", X)
    folder = tmp_path / "subjects"
    folder.mkdir()
    for i, x in enumerate(X):
        np.save(folder / f"s{i}.npy", x)
    params = dict(window_length=32, max_epochs=2, batch_size=4, random_state=0)
    in_memory = BrainJEPAPretrainer(**params).fit(X)
    for data in (mm, folder, tmp_path / "X.npy"):
        lazy = BrainJEPAPretrainer(**params, num_workers=0).fit(data)
        assert_array_equal(lazy.gradients_, in_memory.gradients_)
        assert_array_equal(lazy.transform(data), in_memory.transform(X))
    # Workers read the windows; the plan (and so the model) is the same.
    workers = BrainJEPAPretrainer(**params, num_workers=2).fit(mm)
    assert_array_equal(workers.transform(mm), in_memory.transform(X))
    embedder = BrainJEPAEmbedder(pretrainer=in_memory).fit(folder)
    assert_array_equal(embedder.transform(folder), in_memory.transform(X))


def test_scaled_source_feeds_the_estimators(tmp_path, rng):
    from sk_brainjepa import BrainJEPAPretrainer, ROIRobustScaler
    from sk_brainjepa.preprocessing import SubjectRobustScaler
    from sk_brainjepa.sources import ScaledSource

    raw = (rng.standard_normal((6, 5, 40)) * 4 + 10).astype(np.float32)
    scaled = np.stack([ROIRobustScaler().fit_transform(x[None])[0] for x in raw])
    params = dict(window_length=32, max_epochs=1, batch_size=3, random_state=0)
    eager = BrainJEPAPretrainer(**params).fit(scaled)
    lazy_source = ScaledSource(raw, SubjectRobustScaler().to_window_transform())
    lazy = BrainJEPAPretrainer(**params).fit(lazy_source)
    np.testing.assert_allclose(
        lazy.transform(lazy_source), eager.transform(scaled), atol=1e-5
    )
    with pytest.raises(ValueError, match="outside"):
        lazy_source.window(0, 30, 20)
    with pytest.raises(TypeError, match="callable"):
        ScaledSource(raw, "subject")
