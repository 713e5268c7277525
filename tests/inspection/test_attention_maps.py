"""Attention maps: captured attention equals a hand-written forward; aggregation."""

import copy
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose

from sk_brainjepa import (
    BrainJEPAEmbedder,
    BrainJEPAPretrainer,
    make_brain_dynamics,
    network_attention,
    roi_attention,
)
from sk_brainjepa.estimators import RepresentationCollapseWarning
from sk_brainjepa.inspection._attention_maps import _received_attention
from sk_brainjepa.nn import BrainJEPAEncoder, model_config

N_ROIS, N_TIMEPOINTS = 6, 32
LABELS = np.array(["A", "A", "B", "B", "C", "C"])


@pytest.fixture(scope="module")
def data():
    X, _ = make_brain_dynamics(
        n_subjects=4, n_rois=N_ROIS, n_timepoints=2 * N_TIMEPOINTS, random_state=0
    )
    return (X - X.mean(axis=2, keepdims=True)) / X.std(axis=2, keepdims=True)


@pytest.fixture(scope="module")
def fitted(data):
    pre = BrainJEPAPretrainer(
        window_length=N_TIMEPOINTS, max_epochs=1, batch_size=4, random_state=0
    )
    with warnings.catch_warnings():
        # One epoch on four subjects may collapse; irrelevant to attention maps.
        warnings.simplefilter("ignore", RepresentationCollapseWarning)
        return pre.fit(data)


def sharpen(encoder, factor=30.0):
    """Scale the q/k projections so attention is far from uniform (a test that
    compares near-uniform maps could not tell right from wrong)."""
    with torch.no_grad():
        for block in encoder.blocks:
            block.attn.qkv.weight.mul_(factor)
    return encoder


def hand_written_attention(encoder, x):
    """Full forward written out; per layer the (B, H, N) mean over queries of
    softmax(q k^T / sqrt(hd)), checked to reproduce the module's output."""
    tokens = encoder.embed_tokens(x)
    out = []
    for block in encoder.blocks:
        h = block.norm1(tokens)
        batch, n_tokens, dim = h.shape
        n_heads = block.attn.n_heads
        qkv = block.attn.qkv(h).reshape(batch, n_tokens, 3, n_heads, dim // n_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, H, N, hd)
        probs = torch.softmax(q @ k.transpose(-2, -1) / (dim // n_heads) ** 0.5, -1)
        mixed = (probs @ v).transpose(1, 2).reshape(batch, n_tokens, dim)
        # These probabilities are the module's: they give its exact output.
        torch.testing.assert_close(
            block.attn.proj(mixed), block.attn(h), atol=1e-5, rtol=1e-5
        )
        out.append(probs.mean(dim=-2))
        tokens = block(tokens)
    return torch.stack(out, dim=1).double()  # (B, L, H, N)


@torch.no_grad()
def test_received_attention_equals_hand_written_forward():
    cfg, _ = model_config("tiny", n_rois=N_ROIS, gradient_dim=3)
    g = torch.Generator().manual_seed(0)
    encoder = sharpen(BrainJEPAEncoder(cfg, torch.randn(N_ROIS, 3, generator=g)))
    encoder.eval()
    x = torch.randn(2, N_ROIS, N_TIMEPOINTS, generator=g)
    expected = hand_written_attention(encoder, x)
    n_tokens = N_ROIS * N_TIMEPOINTS // cfg.patch_size
    assert expected.shape == (2, cfg.depth, cfg.n_heads, n_tokens)
    # Far from uniform, so the comparison below has something to compare.
    assert float((expected - 1 / n_tokens).abs().max()) > 0.05
    for chunk in (None, 5, 1):  # 5 does not divide the 12 tokens
        got = _received_attention(encoder, x, query_chunk_size=chunk)
        assert_allclose(got.numpy(), expected.numpy(), atol=1e-6)
    assert_allclose(got.sum(dim=-1).numpy(), 1.0, atol=1e-9)


def test_roi_attention_uses_the_target_encoder(data, fitted):
    pre = copy.deepcopy(fitted)
    sharpen(pre.target_encoder_)
    X = data[:, :, :N_TIMEPOINTS]
    got = roi_attention(pre, X, per_subject=True)
    with torch.no_grad():
        tokens = hand_written_attention(pre.target_encoder_, torch.from_numpy(X))
    expected = tokens.mean(dim=(1, 2)).reshape(len(X), N_ROIS, -1).sum(-1).numpy()
    assert_allclose(got, expected, atol=1e-6)
    assert_allclose(got.sum(axis=1), 1.0, atol=1e-9)
    assert_allclose(roi_attention(pre, X), expected.mean(axis=0), atol=1e-6)
    # The context encoder plays no part.
    sharpen(pre.online_encoder_, 3.0)
    assert_allclose(roi_attention(pre, X, per_subject=True), got, atol=1e-12)


def test_roi_attention_same_for_pretrainer_embedder_and_checkpoint(
    data, fitted, tmp_path
):
    pre = copy.deepcopy(fitted)
    sharpen(pre.target_encoder_)
    path = tmp_path / "jepa.pt"
    pre.save(path)
    reference = roi_attention(pre, data)
    for model in (
        BrainJEPAEmbedder(pretrainer=pre),  # not fitted: fitted on the fly
        BrainJEPAEmbedder(checkpoint=path).fit(),
        str(path),
    ):
        assert_allclose(roi_attention(model, data), reference, atol=1e-10)


def test_roi_attention_average_window_averages_the_windows(data, fitted):
    pre = copy.deepcopy(fitted)
    sharpen(pre.target_encoder_)
    both = roi_attention(pre, data, window_position="average", per_subject=True)
    first = roi_attention(pre, data[:, :, :N_TIMEPOINTS], per_subject=True)
    second = roi_attention(pre, data[:, :, N_TIMEPOINTS:], per_subject=True)
    assert_allclose(both, (first + second) / 2, atol=1e-10)
    assert not np.allclose(first, second, atol=1e-4)


def focus_on_positive_rois(encoder):
    """Weights under which every query attends to the tokens of ROIs whose
    series is positive: token channel 0 is 100 x the patch mean (dwarfing the
    positional code), and every head scores keys by that channel's sign."""
    dim = encoder.config.embed_dim
    head_dim = dim // encoder.config.n_heads
    with torch.no_grad():
        encoder.patch_embed.proj.weight.zero_()
        encoder.patch_embed.proj.bias.zero_()
        encoder.patch_embed.proj.weight[0] = 100.0 / encoder.config.patch_size
        for block in encoder.blocks:
            block.attn.qkv.weight.zero_()
            block.attn.qkv.bias.zero_()
            for head in range(encoder.config.n_heads):
                first = head * head_dim  # first channel of this head
                block.attn.qkv.bias[first] = 3.0  # constant query
                block.attn.qkv.weight[dim + first, 0] = 1.0  # key: token channel 0
    return encoder


@pytest.mark.parametrize("favoured", ["B", "C"])
def test_network_attention_ranks_the_attended_network_first(fitted, favoured, rng):
    pre = copy.deepcopy(fitted)
    focus_on_positive_rois(pre.target_encoder_)
    sign = np.where(LABELS == favoured, 1.0, -1.0)[None, :, None]
    X = (sign + 0.1 * rng.standard_normal((3, N_ROIS, N_TIMEPOINTS))).astype(np.float32)
    att = network_attention(pre, X, LABELS)
    assert att.index.tolist() == ["A", "B", "C"]
    assert att.idxmax() == favoured
    assert att[favoured] > 0.8
    assert att.sum() == pytest.approx(1.0)


def test_network_attention_order_and_normalisation(data, fitted):
    pre = copy.deepcopy(fitted)
    sharpen(pre.target_encoder_)
    labels = np.array([3, 1, 3, 2, 1, 1])  # first appearance: 3, 1, 2
    att = network_attention(pre, data, labels)
    assert isinstance(att, pd.Series)
    assert att.name == "attention" and att.index.name == "network"
    assert att.index.tolist() == [3, 1, 2]
    roi = roi_attention(pre, data)
    means = np.array([roi[labels == k].mean() for k in (3, 1, 2)])
    assert_allclose(att.to_numpy(), means / means.sum(), atol=1e-12)
    per_subject = network_attention(pre, data, labels, per_subject=True)
    assert per_subject.shape == (len(data), 3)
    assert per_subject.columns.tolist() == [3, 1, 2]
    assert_allclose(per_subject.sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.parametrize(
    "labels, match",
    [
        (LABELS[:5], "network_labels has 5 labels but the model has 6 ROIs"),
        (LABELS.reshape(2, 3), "network_labels must be 1-D"),
        (["A", "A", None, "B", "B", "C"], "missing values"),
        ([0.0, 0.0, np.nan, 1.0, 1.0, 2.0], "missing values"),
    ],
)
def test_network_attention_bad_labels(data, fitted, labels, match):
    with pytest.raises(ValueError, match=match):
        network_attention(fitted, data, labels)


def test_network_attention_bad_labels_for_checkpoint(data, fitted, tmp_path):
    fitted.save(tmp_path / "jepa.pt")
    with pytest.raises(ValueError, match="has 7 labels but the model has 6 ROIs"):
        network_attention(str(tmp_path / "jepa.pt"), data, ["A"] * 7)


def test_roi_attention_bad_input(data, fitted):
    with pytest.raises(TypeError, match="model must be a fitted BrainJEPAPretrainer"):
        roi_attention(object(), data)
    with pytest.raises(ValueError, match="not fitted"):
        roi_attention(BrainJEPAPretrainer(), data)
    with pytest.raises(ValueError, match="X has 5 ROIs"):
        roi_attention(fitted, data[:, :5])
    with pytest.raises(ValueError, match="fewer than the model window"):
        roi_attention(fitted, data[:, :, :16])
    with pytest.raises(ValueError, match="window_position must be one of"):
        roi_attention(fitted, data, window_position="middle")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        roi_attention(fitted, data, batch_size=0)
    with pytest.raises(ValueError, match="query_chunk_size must be a positive"):
        roi_attention(fitted, data, query_chunk_size=1.5)


def test_attention_reads_the_given_layout(data, fitted):
    pre = copy.deepcopy(fitted)
    sharpen(pre.target_encoder_)
    reference = roi_attention(pre, data, per_subject=True)
    nilearn_like = np.ascontiguousarray(data.transpose(0, 2, 1))
    got = roi_attention(pre, nilearn_like, per_subject=True, layout="time_x_rois")
    assert_allclose(got, reference, atol=1e-12)
    embedder = BrainJEPAEmbedder(pretrainer=pre, layout="time_x_rois")
    assert_allclose(
        roi_attention(embedder, list(nilearn_like), per_subject=True),
        reference,
        atol=1e-12,
    )
    att = network_attention(pre, nilearn_like, LABELS, layout="time_x_rois")
    pd.testing.assert_series_equal(att, network_attention(pre, data, LABELS))
    square = nilearn_like[:, : N_ROIS * 2]  # (subjects, 12 frames, 6 ROIs)
    with pytest.raises(
        ValueError,
        match=r"X has 12 ROIs and 6 time points.*"
        r"looks transposed.*layout='time_x_rois'",
    ):
        roi_attention(pre, square)
    with pytest.raises(ValueError, match="layout must be one of"):
        roi_attention(pre, data, layout="rois")


def test_attention_leaves_a_given_fitted_embedder_as_found(data, fitted):
    embedder = BrainJEPAEmbedder(pretrainer=fitted, window_position="start").fit(data)
    encoder = embedder.encoder_
    params = embedder.get_params(deep=False)
    both = roi_attention(embedder, data, window_position="average", per_subject=True)
    first = roi_attention(embedder, data[:, :, :N_TIMEPOINTS], per_subject=True)
    second = roi_attention(embedder, data[:, :, N_TIMEPOINTS:], per_subject=True)
    assert_allclose(both, (first + second) / 2, atol=1e-10)
    # window= applied to a new embedder sharing the encoder, not to this one.
    assert embedder.get_params(deep=False) == params and embedder.encoder_ is encoder
    assert not encoder.training and next(encoder.parameters()).device.type == "cpu"


def test_network_attention_checks_labels_of_an_unfitted_embedder_first(
    data, fitted, monkeypatch
):
    import sk_brainjepa.inspection._attention_maps as maps

    def fail(*args, **kwargs):
        raise AssertionError("attention computed before the labels were checked")

    monkeypatch.setattr(maps, "_received_attention", fail)
    with pytest.raises(ValueError, match="network_labels has 5 labels but the model"):
        network_attention(BrainJEPAEmbedder(pretrainer=fitted), data, LABELS[:5])
