"""BrainJEPAEncoder: shapes, token order, gradients, copies."""

import copy
import pickle

import pytest
import torch
from numpy.testing import assert_allclose

from sk_brainjepa.nn import BrainJEPAEncoder, _layers, model_config

from ._helpers import PATCH, _encoder, _gen, _grads, _x


# ------------------------------------------------------------- patch embedding
@pytest.mark.parametrize("n_rois", [7, 10, 33])
@pytest.mark.parametrize("n_timepoints", [32, 48, 64])
def test_encoder_output_shapes(n_rois, n_timepoints):
    enc = _encoder(n_rois=n_rois, depth=1).eval()
    x = _x(2, n_rois, n_timepoints)
    n_tokens = n_rois * n_timepoints // PATCH
    with torch.no_grad():
        assert enc(x).shape == (2, n_tokens, 64)
        keep = torch.stack(
            [torch.randperm(n_tokens, generator=_gen(b))[:5] for b in (0, 1)]
        )
        assert enc(x, keep).shape == (2, 5, 64)


@pytest.mark.parametrize(("roi", "t"), [(0, 0), (2, 1), (4, 2), (1, 2)])
def test_encoder_token_index_is_roi_major(roi, t):
    """Perturbing frames of (roi, t) changes exactly output token roi * W + t."""
    n_rois, n_timepoints = 5, 48
    n_time_patches = n_timepoints // PATCH
    enc = _encoder(n_rois=n_rois, depth=0).eval()  # per-token path: patch, pos, norm
    x = _x(1, n_rois, n_timepoints)
    x2 = x.clone()
    x2[0, roi, t * PATCH : (t + 1) * PATCH] += 1.0
    with torch.no_grad():
        changed = (enc(x2) - enc(x)).abs().amax(dim=-1)[0] > 1e-6
    assert torch.nonzero(changed).flatten().tolist() == [roi * n_time_patches + t]


def test_encoder_observation_gathers_tokens():
    enc = _encoder(n_rois=4, depth=0).eval()
    x = _x(2, 4, 32)
    obs = torch.tensor([[7, 0, 3], [1, 1, 6]])
    with torch.no_grad():
        full, kept = enc(x), enc(x, obs)
    for b in range(2):
        assert_allclose(kept[b], full[b, obs[b]], atol=1e-6)


@pytest.mark.parametrize(
    ("shape", "observation", "match"),
    [
        ((2, 5, 50), None, "T=50 must be a positive multiple of patch_size=16"),
        ((2, 4, 32), None, r"n_rois=5; got \(2, 4, 32\)"),
        ((2, 5, 32), torch.tensor([[0, 10], [0, 1]]), r"outside \[0, 10\)"),
        ((2, 5, 32), torch.tensor([[0, 1]]), r"shape \(batch=2, n_keep\)"),
        ((2, 5, 32), torch.tensor([[0.0], [1.0]]), "dtype torch.int64"),
    ],
)
def test_encoder_input_errors(shape, observation, match):
    enc = _encoder(n_rois=5, depth=0)
    with pytest.raises(ValueError, match=match):
        enc(_x(*shape), observation)


def test_gradients_are_validated_and_stored():
    cfg, _ = model_config("tiny", n_rois=4, gradient_dim=3)
    with pytest.raises(ValueError, match=r"shape \(n_rois, gradient_dim\) = \(4, 3\)"):
        BrainJEPAEncoder(cfg, torch.zeros(4, 2))
    with pytest.raises(ValueError, match="are required"):
        BrainJEPAEncoder(cfg, None)
    bad = torch.zeros(4, 3)
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        BrainJEPAEncoder(cfg, bad)
    grads = _grads(4)
    enc = BrainJEPAEncoder(cfg, grads, generator=_gen())
    assert torch.equal(enc.state_dict()["gradients"], grads)


# --------------------------------------------------- activation checkpointing
def test_activation_checkpointing_same_outputs_and_gradients(monkeypatch):
    plain = _encoder(n_rois=4, depth=2)
    ckpt = _encoder(n_rois=4, depth=2, activation_checkpointing=True)
    ckpt.load_state_dict(plain.state_dict())
    n_calls = []
    real_checkpoint = _layers.checkpoint

    def counting_checkpoint(*args, **kwargs):
        n_calls.append(kwargs.get("use_reentrant"))
        return real_checkpoint(*args, **kwargs)

    monkeypatch.setattr(_layers, "checkpoint", counting_checkpoint)
    x = _x(2, 4, 32)
    outs = []
    for model in (plain, ckpt):
        model.train()
        out = model(x)
        out.square().mean().backward()
        outs.append(out.detach())
    assert n_calls == [False, False]  # one non-reentrant checkpoint per block
    assert_allclose(outs[1], outs[0], atol=1e-6)
    grads = dict(ckpt.named_parameters())
    for name, param in plain.named_parameters():
        assert_allclose(grads[name].grad, param.grad, atol=1e-6, err_msg=name)
    ckpt.eval()
    ckpt(x)
    with torch.no_grad():
        ckpt.train()(x)
    assert len(n_calls) == 2  # not used in eval mode nor without grad


# ----------------------------------------------------------------- plumbing
def test_copy_pickle_and_bfloat16():
    enc = _encoder(n_rois=3, depth=1).eval()
    x = _x(1, 3, 32)
    with torch.no_grad():
        ref = enc(x)  # fills the sin-cos cache
        clone = pickle.loads(pickle.dumps(enc))
        assert clone.pos_embed_proj._frozen_cache == {}
        assert torch.equal(clone(x), ref)
        assert torch.equal(copy.deepcopy(enc)(x), ref)
        half = copy.deepcopy(enc).to(torch.bfloat16)
        out = half(x.to(torch.bfloat16))
    assert out.dtype == torch.bfloat16
    assert_allclose(out.float(), ref, atol=0.1)
