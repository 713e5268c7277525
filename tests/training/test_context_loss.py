"""The dense context loss with deep supervision (``context_loss_weight``)."""

from __future__ import annotations

import copy

import pytest
import torch

from sk_brainjepa.masking import MaskBatch, SpatiotemporalMasker
from sk_brainjepa.nn import BrainJEPAEncoder, BrainJEPAPredictor, model_config
from sk_brainjepa.training import (
    Objective,
    context_loss,
    jepa_loss,
    supervised_layers,
)

from ._helpers import _gen

N_ROIS, N_TIMES, PATCH = 5, 4, 8  # 20 tokens of 8 frames


def _modules(depth=2, seed=0):
    """Encoder, predictor and an exact copy of the encoder as the target."""
    enc_cfg, pred_cfg = model_config(
        "tiny", n_rois=N_ROIS, gradient_dim=3, patch_size=PATCH, depth=depth,
        predictor_depth=1,
    )  # fmt: skip
    g = _gen(seed)
    grads = torch.randn(N_ROIS, 3, generator=g)
    encoder = BrainJEPAEncoder(enc_cfg, grads, generator=g)
    predictor = BrainJEPAPredictor(pred_cfg, grads, generator=g)
    return encoder, predictor, copy.deepcopy(encoder)


def _x(batch=3, seed=1):
    return torch.randn(batch, N_ROIS, N_TIMES * PATCH, generator=_gen(seed))


def _masks(observation, target):
    return MaskBatch(
        observation=observation,
        target=target,
        target_kind=torch.zeros_like(target),
    )


def _every_token_masks(batch=3):
    every = torch.arange(N_ROIS * N_TIMES).expand(batch, -1)
    return _masks(every, every[:, :4])


def _partial_masks(batch=3):
    return SpatiotemporalMasker(N_ROIS, N_TIMES)(batch, _gen(2))


# ----------------------------------------------------------- encoder states
def test_return_layers_adds_hidden_states_without_changing_the_output():
    encoder, _, _ = _modules(depth=3)
    x, obs = _x(), _partial_masks().observation
    plain = encoder(x, obs)
    features, hidden = encoder(x, obs, return_layers=(1, 3))
    assert torch.equal(features, plain)
    assert [h.shape for h in hidden] == [plain.shape] * 2
    # The last block's state is the output before the final norm.
    assert torch.equal(encoder.norm(hidden[1]), plain)
    # The first block's state, recomputed by hand.
    tokens = encoder.embed_tokens(x).gather(
        1, obs[..., None].expand(-1, -1, encoder.embed_dim)
    )
    assert torch.equal(encoder.blocks[0](tokens), hidden[0])
    assert encoder(x, obs, return_layers=())[1] == ()


@pytest.mark.parametrize("layers", [(0,), (4,), (1.0,), (True,)])
def test_return_layers_are_checked_by_name(layers):
    encoder, _, _ = _modules(depth=3)
    with pytest.raises(ValueError, match="return_layers must"):
        encoder(_x(), return_layers=layers)


def test_supervised_layers_are_the_middle_block():
    assert supervised_layers(12) == (6,)
    assert supervised_layers(3) == (1,)
    assert supervised_layers(2) == (1,)
    # One block: the middle is the last, which the output supervises already.
    assert supervised_layers(1) == ()


# ------------------------------------------------------------ the loss term
def test_context_loss_known_values():
    h = torch.randn(2, 5, 8, generator=_gen())
    assert float(context_loss([h], [h])) == 0.0
    # Layer norm removes a per-token offset and scale: still 0 (up to rounding).
    assert float(context_loss([h], [3 * h + 1])) == pytest.approx(0.0, abs=1e-10)
    # Normalised opposite vectors: squared error 4 per entry (less the layer
    # norm's eps of 1e-5 against a variance near 1), averaged over two layers
    # with 4 and 0.
    assert float(context_loss([h, h], [-h, h])) == pytest.approx(2.0, rel=1e-4)
    with pytest.raises(ValueError, match="one target per online hidden state"):
        context_loss([h, h], [h])


def test_term_is_zero_when_the_context_is_the_whole_window():
    # Online and target weights equal and every token observed: the online
    # encoder sees exactly what the target sees, at every layer.
    encoder, predictor, target = _modules()
    objective = Objective(context_loss_weight=1.0)
    loss, terms = jepa_loss(
        encoder, predictor, target, _x(), _every_token_masks(), objective
    )
    assert float(terms["context_loss"]) == 0.0
    assert float(loss.detach()) == float(terms["prediction_loss"])


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_term_is_positive_for_a_partial_context(depth):
    encoder, predictor, target = _modules(depth=depth)
    objective = Objective(context_loss_weight=0.5)
    loss, terms = jepa_loss(
        encoder, predictor, target, _x(), _partial_masks(), objective
    )
    # Small at the initial weights (the positional code dominates the
    # tokens), but the context tokens miss what the unseen ones would add.
    assert float(terms["context_loss"]) > 0
    expected = terms["prediction_loss"] + 0.5 * terms["context_loss"]
    assert float(loss.detach()) == pytest.approx(float(expected), rel=1e-6)


def test_gradient_reaches_the_online_encoder_only():
    x, masks = _x(), _partial_masks()

    def gradients(weight):
        encoder, predictor, target = _modules()
        target.requires_grad_(True)  # to see that nothing reaches it
        loss, _ = jepa_loss(
            encoder, predictor, target, x, masks, Objective(context_loss_weight=weight)
        )
        loss.backward()
        assert all(p.grad is None for p in target.parameters())
        return [p.grad.clone() for p in encoder.parameters()]

    with_term, without = gradients(1.0), gradients(0.0)
    changed = [not torch.equal(a, b) for a, b in zip(with_term, without, strict=True)]
    assert all(changed)  # every online weight feels the context term


def test_weight_zero_leaves_loss_and_gradients_unchanged():
    x, masks = _x(), _partial_masks()

    def run(objective):
        encoder, predictor, target = _modules()
        loss, terms = jepa_loss(encoder, predictor, target, x, masks, objective)
        loss.backward()
        return loss, terms, [p.grad for p in encoder.parameters()]

    base_loss, base_terms, base_grads = run(Objective())
    loss, terms, grads = run(Objective(context_loss_weight=0.0))
    assert torch.equal(loss, base_loss) and "context_loss" not in terms
    assert terms.keys() == base_terms.keys()
    assert all(torch.equal(a, b) for a, b in zip(grads, base_grads, strict=True))


@pytest.mark.parametrize("value", [-0.1, float("inf"), float("nan"), True, "1"])
def test_objective_refuses_bad_weights_by_name(value):
    with pytest.raises(ValueError, match="context_loss_weight must be a finite"):
        Objective(context_loss_weight=value)
