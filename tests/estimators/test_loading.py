"""Loading the target (EMA) or online encoder; official checkpoints."""

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from numpy.testing import assert_allclose
from sklearn.frozen import FrozenEstimator

from sk_brainjepa import (
    BrainJEPAEmbedder,
    BrainJEPAPretrainer,
    linear_probe,
    probe_features,
    write_gradient_csv,
)
from sk_brainjepa.estimators import resolve_model
from sk_brainjepa.estimators._loading import ENCODERS, load_pretrained_encoder
from sk_brainjepa.model_selection import _probe
from sk_brainjepa.nn import BrainJEPAEncoder, EncoderConfig, read_out

from ._helpers import N_ROIS, WINDOW

MODULES = {"target": "target_encoder_", "online": "online_encoder_"}


def _module_features(module, X, readout):
    """The module's forward on the centre windows, then ``read_out``."""
    start = (X.shape[-1] - WINDOW) // 2
    x = torch.from_numpy(np.ascontiguousarray(X[..., start : start + WINDOW]))
    with torch.no_grad():
        tokens = module.eval()(x.float())
    return read_out(tokens, N_ROIS, readout).numpy()


@pytest.mark.parametrize("readout", ["mean", "connectivity"])
def test_embedder_features_are_the_chosen_modules(data, pretrained, readout):
    X = data[0]
    features = {}
    for encoder, attribute in MODULES.items():
        embedder = BrainJEPAEmbedder(
            pretrainer=FrozenEstimator(pretrained),
            readout=readout,
            source_encoder=encoder,
        ).fit(X)
        features[encoder] = embedder.transform(X)
        expected = _module_features(getattr(pretrained, attribute), X, readout)
        assert_allclose(features[encoder], expected, rtol=1e-5, atol=1e-6)
    # After a few optimiser steps the EMA target lags behind the online encoder.
    assert np.abs(features["online"] - features["target"]).max() > 1e-4


def test_target_is_the_default(data, pretrained):
    X = data[0]
    default = BrainJEPAEmbedder(pretrainer=pretrained).fit(X).transform(X)
    target = BrainJEPAEmbedder(pretrainer=pretrained, source_encoder="target").fit(X)
    assert_allclose(default, target.transform(X))
    assert_allclose(default, pretrained.transform(X), rtol=1e-5, atol=1e-6)


def test_loaded_encoder_is_a_copy_of_the_chosen_module(pretrained):
    for encoder, attribute in MODULES.items():
        module, window = load_pretrained_encoder(pretrainer=pretrained, encoder=encoder)
        source = getattr(pretrained, attribute)
        assert module is not source and window == WINDOW
        for (name, got), want in zip(
            module.state_dict().items(), source.state_dict().values(), strict=True
        ):
            assert torch.equal(got, want), name


def test_our_checkpoint_gives_either_encoder(data, pretrained, tmp_path):
    X = data[0]
    path = pretrained.save(tmp_path / "model.pt")
    for encoder in ENCODERS:
        from_file = BrainJEPAEmbedder(path, source_encoder=encoder).fit(X).transform(X)
        in_memory = BrainJEPAEmbedder(
            pretrainer=pretrained, source_encoder=encoder
        ).fit(X)
        assert_allclose(from_file, in_memory.transform(X), rtol=1e-6, atol=1e-7)


def _official_state(config, gradients, seed):
    """An encoder state dict in the official layout (``module.`` prefix)."""
    gen = torch.Generator().manual_seed(seed)
    module = BrainJEPAEncoder(config, gradients, generator=gen).eval()
    state = {f"module.{k}": v for k, v in module.state_dict().items()}
    del state["module.gradients"]  # the official file does not hold them
    return module, state


def test_official_checkpoint_gives_either_encoder(tmp_path):
    gradients = torch.randn(N_ROIS, 4, generator=torch.Generator().manual_seed(0))
    config = EncoderConfig(
        n_rois=N_ROIS, embed_dim=32, depth=1, n_heads=4, gradient_dim=4
    )
    online, online_state = _official_state(config, gradients, seed=1)
    target, target_state = _official_state(config, gradients, seed=2)
    path = tmp_path / "jepa-ep300.pth.tar"
    torch.save({"encoder": online_state, "target_encoder": target_state}, path)
    csv = tmp_path / "gradients.csv"
    write_gradient_csv(gradients.numpy(), csv)
    X = np.random.default_rng(0).standard_normal((3, N_ROIS, 48)).astype(np.float32)
    for encoder, module in (("online", online), ("target", target)):
        embedder = BrainJEPAEmbedder(
            path,
            gradients=str(csv),
            window_length=WINDOW,
            n_heads=4,
            source_encoder=encoder,
        ).fit(X)
        expected = _module_features(module, X, "mean")
        assert_allclose(embedder.transform(X), expected, rtol=1e-5, atol=1e-6)
    # A file with the target encoder only has no online one to give.
    torch.save({"target_encoder": target_state}, tmp_path / "target_only.pth.tar")
    only = BrainJEPAEmbedder(
        tmp_path / "target_only.pth.tar", gradients=str(csv), source_encoder="online"
    )
    with pytest.raises(ValueError, match="reads the checkpoint's 'encoder' state"):
        only.fit()


def test_linear_probe_reads_the_chosen_encoder(data, pretrained):
    X, pheno = data
    y = pheno["age"].to_numpy()
    kwargs = dict(task="regression", n_repeats=2, random_state=0)
    for encoder in ENCODERS:
        table = linear_probe(pretrained, X, y, source_encoder=encoder, **kwargs)
        features = BrainJEPAEmbedder(pretrainer=pretrained, source_encoder=encoder).fit(
            X
        )
        expected = probe_features(features.transform(X), y, **kwargs)
        assert table.attrs["encoder"] == encoder
        assert table.attrs["readout"] == "mean"
        pd.testing.assert_frame_equal(table, expected)


def test_a_given_embedder_keeps_its_encoder(data, pretrained, monkeypatch):
    X, pheno = data
    embedder = BrainJEPAEmbedder(
        pretrainer=FrozenEstimator(pretrained), source_encoder="online"
    )
    probed = []
    probe_splits = _probe._probe_splits

    def spy(features, *args):
        probed.append(features)
        return probe_splits(features, *args)

    monkeypatch.setattr(_probe, "_probe_splits", spy)
    table = linear_probe(
        embedder, X, pheno["age"], task="regression", n_repeats=2, random_state=0
    )
    # The features probed are the online encoder's, not the target's.
    (features,) = probed
    online = _module_features(pretrained.online_encoder_, X, "mean")
    target = _module_features(pretrained.target_encoder_, X, "mean")
    assert_allclose(features, online, rtol=1e-5, atol=1e-6)
    assert np.abs(features - target).max() > 1e-4
    assert table.attrs["encoder"] == "online"


@pytest.mark.parametrize("bad", ["ema", "Target", "", None, 1])
def test_bad_encoder_values(data, pretrained, bad):
    X, pheno = data
    message = r"encoder must be one of \('target', 'online'\)"
    with pytest.raises(
        ValueError, match="'source_encoder' parameter of BrainJEPAEmbedder"
    ):
        BrainJEPAEmbedder(pretrainer=pretrained, source_encoder=bad).fit(X)
    with pytest.raises(ValueError, match=message):
        load_pretrained_encoder(pretrainer=pretrained, encoder=bad)
    if bad is not None:  # None keeps the model's own encoder
        with pytest.raises(ValueError, match=message):
            linear_probe(pretrained, X, pheno["age"], source_encoder=bad)


def test_linear_probe_applies_encoder_to_a_fitted_embedder(data, pretrained):
    X, pheno = data
    y = pheno["age"].to_numpy()
    kwargs = dict(task="regression", n_repeats=2, random_state=0)
    target = BrainJEPAEmbedder(pretrainer=pretrained).fit(X)
    module = target.encoder_
    table = linear_probe(target, X, y, source_encoder="online", **kwargs)
    online = BrainJEPAEmbedder(pretrainer=pretrained, source_encoder="online").fit(X)
    expected = probe_features(online.transform(X), y, **kwargs)
    assert table.attrs["encoder"] == "online"
    pd.testing.assert_frame_equal(table, expected)
    # The user's fitted embedder keeps its target encoder, untouched.
    assert target.source_encoder == "target" and target.encoder_ is module


def test_resolve_model_turns_every_accepted_model_into_a_fitted_embedder(
    data, pretrained, tmp_path
):
    X = data[0]
    path = pretrained.save(tmp_path / "model.pt")
    reference = BrainJEPAEmbedder(pretrainer=pretrained).fit(X).transform(X)
    fitted = BrainJEPAEmbedder(pretrainer=pretrained).fit(X)
    for model in (
        pretrained,
        FrozenEstimator(pretrained),
        path,
        str(path),
        BrainJEPAEmbedder(checkpoint=path),
        BrainJEPAEmbedder(pretrainer=pretrained),
        fitted,
    ):
        embedder = resolve_model(model)
        assert isinstance(embedder, BrainJEPAEmbedder)
        assert_allclose(embedder.transform(X), reference, rtol=1e-6, atol=1e-7)
    # A fitted embedder that already matches is returned as is.
    assert resolve_model(fitted, readout="mean", source_encoder="target") is fitted
    # A transform-time setting shares the loaded encoder; a load-time one
    # loads it again; the given embedder is never changed.
    roi = resolve_model(fitted, readout="roi", window_position="start")
    assert roi is not fitted and roi.encoder_ is fitted.encoder_
    assert (roi.readout, roi.window_position) == ("roi", "start")
    online = resolve_model(fitted, source_encoder="online")
    assert online.source_encoder == "online"
    assert online.encoder_ is not fitted.encoder_
    assert (fitted.readout, fitted.window_position, fitted.source_encoder) == (
        "mean",
        "center",
        "target",
    )
    for bad in (object(), 3, np.zeros((2, 6, 32)), [path]):
        with pytest.raises(TypeError, match="model must be a fitted"):
            resolve_model(bad)
    with pytest.raises(ValueError, match="pretrainer is not fitted"):
        resolve_model(BrainJEPAPretrainer())
    with pytest.raises(ValueError, match="exactly one of checkpoint"):
        resolve_model(BrainJEPAEmbedder())


def test_resolve_model_says_when_a_fitted_embedder_cannot_be_rebuilt(
    data, pretrained, tmp_path
):
    X = data[0]
    path = pretrained.save(tmp_path / "model.pt")
    fitted = BrainJEPAEmbedder(path).fit(X)
    path.unlink()  # its checkpoint is gone: the encoder cannot be loaded again
    message = (
        r"Cannot apply source_encoder='online' to the given fitted BrainJEPAEmbedder: "
        r"its encoder must be loaded again from its checkpoint, which failed"
    )
    with pytest.raises(ValueError, match=message):
        resolve_model(fitted, source_encoder="online")
    # What needs no reload still works.
    assert resolve_model(fitted, readout="roi").transform(X).shape[1] == (
        N_ROIS * fitted.embed_dim_
    )


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
