"""Tests for the analytic FLOP counts of the benchmarks (benchmarks/_flops.py)."""

import dataclasses
import doctest
import importlib.util
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from sk_brainjepa.nn import (
    BrainJEPAEncoder,
    BrainJEPAPredictor,
    EncoderConfig,
    PredictorConfig,
)

# benchmarks/ is not a package: load the module from its file, under a name that
# cannot clash with an installed module.
_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "_flops.py"
_spec = importlib.util.spec_from_file_location("benchmarks_flops", _PATH)
flops = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(flops)
block_flops = flops.block_flops
encoder_flops = flops.encoder_flops
predictor_flops = flops.predictor_flops
pretraining_step_flops = flops.pretraining_step_flops

# R=2 ROIs, m=3 gradient components, p=4 frames per patch, D=8, one block of 2
# heads with an MLP of 16; the predictor is 4 wide with an MLP of 8.
ENC = EncoderConfig(
    n_rois=2,
    gradient_dim=3,
    patch_size=4,
    embed_dim=8,
    depth=1,
    n_heads=2,
    mlp_ratio=2.0,
    attention_backend="math",
)
PRED = PredictorConfig(
    n_rois=2,
    encoder_dim=8,
    gradient_dim=3,
    embed_dim=4,
    depth=1,
    n_heads=2,
    mlp_ratio=2.0,
    attention_backend="math",
)
W = 3  # time patches: 6 tokens


def test_hand_count_of_a_tiny_encoder_predictor_and_step():
    # Encoder on all 6 tokens:
    #   patch 2*6*4*8 = 384, gradient projection 2*2*3*4 = 48,
    #   qkv 2*6*8*24 = 2304, scores 2*6*6*8 = 576, values 576,
    #   proj 2*6*8*8 = 768, MLP 2*6*8*16*2 = 3072.
    assert encoder_flops(ENC, W) == 384 + 48 + 2304 + 576 + 576 + 768 + 3072
    # On 2 observed tokens (the patch embedding still sees all 6):
    #   qkv 768, scores 64, values 64, proj 256, MLP 1024.
    assert encoder_flops(ENC, W, 2) == 384 + 48 + 768 + 64 + 64 + 256 + 1024
    # Predictor with 2 context and 3 target tokens (5 in the block):
    #   embed 2*2*8*4 = 128, gradient projection 2*2*3*2 = 24,
    #   qkv 2*5*4*12 = 480, scores 2*5*5*4 = 200, values 200,
    #   proj 2*5*4*4 = 160, MLP 2*5*4*8*2 = 640, output 2*3*4*8 = 192.
    assert predictor_flops(PRED, 2, 3) == 128 + 24 + 480 + 200 + 200 + 160 + 640 + 192
    # Step, batch 2: target encoder forward + 3 x (encoder + predictor forward).
    assert pretraining_step_flops(ENC, PRED, W, 2, 3, batch_size=2) == 2 * (
        7728 + 3 * (2608 + 2024)
    )


def test_counts_match_torch_flop_counter():
    """Same numbers as PyTorch's counter on the real modules (math attention,
    whose matmuls it sees; its CPU SDPA kernel is not counted)."""
    gen = torch.Generator().manual_seed(0)
    grads = torch.randn(2, 3, generator=gen)
    encoder = BrainJEPAEncoder(ENC, grads, generator=gen)
    predictor = BrainJEPAPredictor(PRED, grads, generator=gen)
    x = torch.randn(1, 2, 4 * W, generator=gen)
    obs, tgt = torch.tensor([[0, 4]]), torch.tensor([[1, 2, 5]])
    with torch.no_grad():
        with FlopCounterMode(display=False) as full:
            encoder(x)
        with FlopCounterMode(display=False) as context:
            z = encoder(x, obs)
        with FlopCounterMode(display=False) as pred:
            predictor(z, obs, tgt, W)
    assert full.get_total_flops() == encoder_flops(ENC, W)
    assert context.get_total_flops() == encoder_flops(ENC, W, 2)
    assert pred.get_total_flops() == predictor_flops(PRED, 2, 3)


def test_block_formula_and_sincos_positions():
    assert block_flops(3, 8, 16) == 3 * (8 * 64 + 4 * 8 * 16) + 4 * 9 * 8
    sincos = dataclasses.replace(ENC, roi_embedding="sincos")
    # No gradient projection: the sin-cos codes are lookups.
    assert encoder_flops(sincos, W) == encoder_flops(ENC, W) - 48


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: encoder_flops(ENC, 0), "n_time_patches must be an integer >= 1"),
        (lambda: encoder_flops(ENC, W, 7), "n_tokens=7 exceeds"),
        (lambda: encoder_flops(ENC, W, 2.5), "n_tokens must be an integer"),
        (lambda: predictor_flops(PRED, -1, 3), "n_context must be an integer >= 0"),
        (lambda: block_flops(4, 0, 8), "dim must be an integer >= 1"),
        (
            lambda: pretraining_step_flops(ENC, PRED, W, 2, 3, batch_size=0),
            "batch_size must be an integer >= 1",
        ),
    ],
)
def test_bad_counts_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_wrong_config_type_raises_type_error():
    with pytest.raises(TypeError, match="EncoderConfig; got PredictorConfig"):
        encoder_flops(PRED, W)
    with pytest.raises(TypeError, match="PredictorConfig; got EncoderConfig"):
        predictor_flops(ENC, 2, 3)


def test_docstring_examples():
    result = doctest.testmod(flops)
    assert result.attempted > 0 and result.failed == 0
