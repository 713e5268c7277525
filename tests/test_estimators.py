"""Tests for BrainJEPAPretrainer and BrainJEPAEmbedder (tiny models, CPU)."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
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
from sk_brainjepa.datasets import SubjectRobustScaling
from sk_brainjepa.estimators import RepresentationCollapseWarning
from sk_brainjepa.nn import BrainJEPAEncoder, EncoderConfig
from sk_brainjepa.training import TrainingDivergedError

FAST = dict(
    model="tiny",
    model_params={"depth": 1, "predictor_depth": 1},
    n_timepoints=32,
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
    params = {**FAST, "n_timepoints": window}
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
    avg = BrainJEPAEmbedder(pretrainer=fitted, window="average").fit(X)
    start = BrainJEPAEmbedder(pretrainer=fitted, window="start").fit(X)
    # Two non-overlapping windows of 32 frames in a 64-frame run: their mean.
    second = (
        BrainJEPAEmbedder(pretrainer=fitted, window="start")
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
        n_timepoints=64,
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
    assert not caplog.records


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
    for name in ("encoder_", "predictor_", "target_encoder_"):
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
    scaled = SubjectRobustScaling()(X)
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
        ({"n_timepoints": 100}, (4, 6, 120), "multiple of patch_size=16"),
        ({"n_timepoints": 64}, (4, 6, 48), r"X\[0\] has 48 time points, fewer than"),
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


# ------------------------------------------------------- official checkpoint layout


def _official_time_table(n_rois, n_time_patches, dim):
    """emb_h as the official code builds it: sin-cos of the time-patch index."""
    half = dim // 2
    omega = 1.0 / 10000 ** (np.arange(half // 2, dtype=np.float64) / (half / 2))
    t = np.tile(np.arange(n_time_patches, dtype=np.float64), n_rois)  # n = r*W + t
    angles = t[:, None] * omega[None, :]
    return torch.from_numpy(np.concatenate([np.sin(angles), np.cos(angles)], 1)).float()


def _official_reference_forward(sd, gradients, x, n_heads):
    """The official encoder's fp32 forward with plain attention, from its state dict."""
    B, R, T = x.shape
    w = sd["patch_embed.proj.weight"]
    D, p = w.shape[0], w.shape[-1]
    W = T // p
    tokens = F.conv2d(x[:, None], w, sd["patch_embed.proj.bias"], stride=(1, p))
    tokens = tokens.flatten(2).transpose(1, 2)  # (B, R*W, D)
    proj = gradients @ sd["pos_embed_proj.predictor_pos_embed_proj.weight"].T
    proj = (
        proj + sd["pos_embed_proj.predictor_pos_embed_proj.bias"]
    ).repeat_interleave(W, 0)
    proj = 2 * (proj - proj.min()) / (proj.max() - proj.min()) - 1
    h = tokens + torch.cat([sd["pos_embed_proj.emb_h"], proj], dim=1)[None]
    depth = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
    hd = D // n_heads
    for i in range(depth):
        b = f"blocks.{i}."
        y = F.layer_norm(h, (D,), sd[b + "norm1.weight"], sd[b + "norm1.bias"], 1e-6)
        qkv = F.linear(y, sd[b + "attn.qkv.weight"], sd[b + "attn.qkv.bias"])
        q, k, v = qkv.reshape(B, -1, 3, n_heads, hd).permute(2, 0, 3, 1, 4)
        att = (q @ k.transpose(-2, -1) * hd**-0.5).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, -1, D)
        h = h + F.linear(y, sd[b + "attn.proj.weight"], sd[b + "attn.proj.bias"])
        y = F.layer_norm(h, (D,), sd[b + "norm2.weight"], sd[b + "norm2.bias"], 1e-6)
        y = F.linear(
            F.gelu(F.linear(y, sd[b + "mlp.fc1.weight"], sd[b + "mlp.fc1.bias"])),
            sd[b + "mlp.fc2.weight"],
            sd[b + "mlp.fc2.bias"],
        )
        h = h + y
    return F.layer_norm(h, (D,), sd["norm.weight"], sd["norm.bias"], 1e-6)


@pytest.fixture
def official_checkpoint(tmp_path):
    """A checkpoint in the official layout (module. prefix, emb_h, target_encoder)."""
    n_rois, dim, n_heads = 12, 64, 4
    gen = torch.Generator().manual_seed(0)
    gradients = torch.randn(n_rois, 30, generator=gen)
    config = EncoderConfig(n_rois=n_rois, embed_dim=dim, depth=2, n_heads=n_heads)
    ours = BrainJEPAEncoder(config, gradients, generator=gen).state_dict()
    state = {f"module.{k}": v for k, v in ours.items() if k != "gradients"}
    state["module.pos_embed_proj.emb_h"] = _official_time_table(n_rois, 10, dim)
    path = tmp_path / "jepa-ep300.pth.tar"
    torch.save(
        {
            "encoder": state,
            "target_encoder": state,
            "predictor": {},
            "opt": {},
            "epoch": 299,
            "loss": 0.1,
            "batch_size": 16,
            "world_size": 4,
            "lr": 1e-6,
        },
        path,
    )
    csv = tmp_path / "gradient_mapping_12.csv"
    write_gradient_csv(gradients.numpy(), csv)
    return path, csv, state, gradients, n_heads


def test_official_checkpoint_matches_reference_forward(official_checkpoint):
    path, csv, state, gradients, n_heads = official_checkpoint
    x = torch.randn(3, 12, 160, generator=torch.Generator().manual_seed(1))
    emb = BrainJEPAEmbedder(checkpoint=path, gradients=str(csv), readout="tokens").fit()
    ours = emb.transform(x.numpy())
    sd = {k.removeprefix("module."): v for k, v in state.items()}
    ref = _official_reference_forward(sd, gradients, x, n_heads).numpy()
    assert ours.shape == (3, 120, 64)
    assert_allclose(ours, ref, rtol=1e-4, atol=1e-5)
    mean = BrainJEPAEmbedder(checkpoint=path, gradients=gradients.numpy()).fit()
    assert_allclose(mean.transform(x.numpy()), ref.mean(1), rtol=1e-4, atol=1e-5)


def test_official_checkpoint_errors(official_checkpoint, tmp_path):
    path, csv, state, gradients, _ = official_checkpoint
    with pytest.raises(ValueError, match="does not contain the gradients"):
        BrainJEPAEmbedder(checkpoint=path).fit()
    bad = dict(state)
    bad["module.blocks.0.attn.qkv.weight"] = torch.zeros(10, 64)
    torch.save({"target_encoder": bad}, tmp_path / "bad.pth.tar")
    with pytest.raises(ValueError, match="blocks.0.attn.qkv.weight"):
        BrainJEPAEmbedder(checkpoint=tmp_path / "bad.pth.tar", gradients=str(csv)).fit()
    with pytest.raises(ValueError):
        BrainJEPAEmbedder(checkpoint=path, gradients=np.ones((7, 30))).fit()


@pytest.mark.parametrize(
    "requested, world_size, local_rank, current, expected",
    [
        ("cuda", 1, 0, 0, "cuda:0"),  # one process: the current GPU, indexed
        ("cuda", 1, 0, 2, "cuda:2"),
        ("cuda", 4, 3, 0, "cuda:3"),  # torchrun: this rank's own GPU
        ("cuda:1", 4, 3, 0, "cuda:1"),  # an explicit index wins
        ("cpu", 4, 3, 0, "cpu"),
    ],
)
def test_rank_device_gives_set_device_an_index(
    monkeypatch, requested, world_size, local_rank, current, expected
):
    """``torch.cuda.set_device`` rejects a bare "cuda" (measured on an H200)."""
    from sk_brainjepa.training._distributed import DistributedContext, rank_device

    made_current = []

    def set_device(device):
        if isinstance(device, torch.device) and device.index is None:
            raise ValueError("Expected a torch.device with a specified index")
        made_current.append(device)

    monkeypatch.setattr(torch.cuda, "set_device", set_device)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: current)
    context = DistributedContext(rank=local_rank, world_size=world_size,
                                 local_rank=local_rank)  # fmt: skip
    got = rank_device(torch.device(requested), context)
    assert got == torch.device(expected)
    assert made_current == ([] if expected == "cpu" else [got])
