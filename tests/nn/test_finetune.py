"""The fine-tuning model: a head on an encoder readout."""

import pytest
import torch
from numpy.testing import assert_allclose

from sk_brainjepa.nn import (
    BrainJEPAEncoder,
    BrainJEPAFineTuneModel,
    model_config,
    read_out,
    reset_top_blocks_,
)
from sk_brainjepa.nn._init import init_weights_


def test_finetune_model_heads_on_each_readout():
    cfg, _ = model_config("tiny", n_rois=5, gradient_dim=2)
    gen = torch.Generator().manual_seed(4)
    encoder = BrainJEPAEncoder(cfg, torch.randn(5, 2, generator=gen), generator=gen)
    x = torch.randn(3, 5, 48, generator=gen)
    # 48 frames are 3 time patches of 16: the fewest the lagged readout takes.
    for readout, width in (
        ("mean", 64),
        ("roi", 320),
        ("connectivity", 10),
        ("lagged", 20),
    ):
        model = BrainJEPAFineTuneModel(
            encoder, n_outputs=2, readout=readout, head_norm="batchnorm", generator=gen
        ).eval()
        assert model.head.in_features == width
        tokens = encoder(x)
        expected = model.head(model.fc_norm(read_out(tokens, 5, readout)))
        assert_allclose(model(x).detach().numpy(), expected.detach().numpy())
    with pytest.raises(ValueError, match="readout must be one of"):
        BrainJEPAFineTuneModel(encoder, readout="tokens")


def _model(head_norm="layernorm", seed=4):
    cfg, _ = model_config("tiny", n_rois=5, gradient_dim=2)
    gen = torch.Generator().manual_seed(seed)
    encoder = BrainJEPAEncoder(cfg, torch.randn(5, 2, generator=gen), generator=gen)
    return BrainJEPAFineTuneModel(
        encoder, n_outputs=3, n_timepoints=32, head_norm=head_norm, generator=gen
    )


def test_features_are_what_the_head_reads():
    model = _model().eval()
    x = torch.randn(4, 5, 48, generator=torch.Generator().manual_seed(0))
    features = model.features(x)  # centre-cropped to 32 frames
    cropped = x[..., 8:40]
    assert_allclose(
        features.detach().numpy(),
        read_out(model.encoder(cropped), 5, "mean").detach().numpy(),
    )
    assert_allclose(
        model(x).detach().numpy(),
        model.head(model.fc_norm(features)).detach().numpy(),
    )


def test_calibrate_fc_norm_sets_batchnorm_statistics_only():
    features = 3.0 + 2.0 * torch.randn(
        50, 64, generator=torch.Generator().manual_seed(1)
    )
    model = _model("batchnorm")
    model.calibrate_fc_norm(features)
    assert_allclose(
        model.fc_norm.running_mean.numpy(), features.mean(0).numpy(), rtol=1e-5
    )
    assert_allclose(
        model.fc_norm.running_var.numpy(), features.var(0).numpy(), rtol=1e-5
    )
    normed = model.fc_norm.eval()(features)
    assert_allclose(normed.mean(0).detach().numpy(), 0.0, atol=1e-5)
    layernorm = _model("layernorm")
    before = {k: v.clone() for k, v in layernorm.fc_norm.state_dict().items()}
    layernorm.calibrate_fc_norm(features)
    for key, value in layernorm.fc_norm.state_dict().items():
        assert torch.equal(value, before[key])


def test_reset_top_blocks_redraws_the_top_with_the_encoder_init():
    encoder = _model().encoder
    depth = len(encoder.blocks)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    reset_top_blocks_(encoder, 1, torch.Generator().manual_seed(7))
    after = encoder.state_dict()
    top = f"blocks.{depth - 1}."
    for key, value in after.items():
        if not key.startswith(top):
            assert torch.equal(value, before[key]), key
        elif value.ndim == 2:  # the Linear weights (biases are drawn as zeros)
            assert not torch.equal(value, before[key]), key
    # The encoder's own init, block for block: a fresh encoder re-drawn the same way.
    twin = _model(seed=5).encoder
    reset_top_blocks_(twin, 1, torch.Generator().manual_seed(7))
    for key, value in twin.state_dict().items():
        if key.startswith(top):
            assert torch.equal(value, after[key]), key
    fresh = _model(seed=6).encoder
    fresh_gen = torch.Generator().manual_seed(7)
    for block in fresh.blocks[depth - 1 :]:
        init_weights_(block, fresh_gen)
    assert torch.equal(
        fresh.blocks[-1].mlp.fc1.weight, encoder.blocks[-1].mlp.fc1.weight
    )
    reset_top_blocks_(encoder, 0)
    assert torch.equal(
        encoder.state_dict()[f"{top}attn.qkv.weight"], after[f"{top}attn.qkv.weight"]
    )
    with pytest.raises(
        ValueError, match=f"n_blocks=3 exceeds the encoder's depth={depth}"
    ):
        reset_top_blocks_(encoder, 3)
    with pytest.raises(ValueError, match="n_blocks"):
        reset_top_blocks_(encoder, -1)


def test_a_one_sample_training_batch_uses_the_batchnorm_running_statistics():
    # The last training batch holds one subject whenever the training part is
    # one more than a multiple of the batch size; BatchNorm cannot take the
    # statistics of one sample.
    model = _model("batchnorm").train()
    x = torch.randn(1, 5, 32, generator=torch.Generator().manual_seed(2))
    before = {k: v.clone() for k, v in model.fc_norm.state_dict().items()}
    out = model(x)
    assert out.shape == (1, 3)
    for key, value in model.fc_norm.state_dict().items():
        assert torch.equal(value, before[key]), key
    expected = model.eval()(x)
    assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-6)
    # Batches of two or more are normalised with their own statistics, as before.
    model.train()
    x2 = torch.randn(2, 5, 32, generator=torch.Generator().manual_seed(3))
    features = model.features(x2)
    assert_allclose(
        model(x2).detach().numpy(),
        model.head(torch.nn.functional.batch_norm(
            features, None, None, training=True, eps=1e-6
        )).detach().numpy(),
        rtol=1e-5, atol=1e-6,
    )  # fmt: skip
