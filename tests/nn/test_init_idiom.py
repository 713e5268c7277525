"""The one initialisation idiom (``sk_brainjepa.nn._init``) in every module.

Each module family that owns weights is built from an explicit generator: the
same seed gives the same weights, another seed other weights, and building it
leaves the global torch RNG exactly as it was, with or without a generator.
"""

import math
from pathlib import Path

import pytest
import torch
from torch import nn

import sk_brainjepa.nn as sknn
from sk_brainjepa.baselines import (
    BrainNetCNN,
    BrainNetworkTransformer,
    EdgeToEdge,
    EdgeToNode,
    NodeToGraph,
    OrthonormalClusterReadout,
)
from sk_brainjepa.nn import (
    BrainJEPAEncoder,
    BrainJEPAFineTuneModel,
    BrainJEPAPredictor,
    glorot_uniform_,
    materialize_,
    model_config,
    reset_top_blocks_,
)

SMALL_CNN = dict(e2e_channels=(4, 4), e2n_channels=8, n2g_channels=16, hidden=(8,))
SMALL_BNT = dict(n_heads=2, hidden_dim=16, n_clusters=4, head_hidden=(16,))
GRADS = torch.randn(4, 3, generator=torch.Generator().manual_seed(100))


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _encoder(generator):
    cfg, _ = model_config("tiny", n_rois=4, gradient_dim=3, depth=2)
    return BrainJEPAEncoder(cfg, GRADS, generator=generator)


def _predictor(generator):
    _, cfg = model_config("tiny", n_rois=4, gradient_dim=3, depth=2)
    return BrainJEPAPredictor(cfg, GRADS, generator=generator)


def _finetune(generator, head_norm="layernorm"):
    # The encoder is fixed (as a pretrained one would be): only the head draws.
    return BrainJEPAFineTuneModel(
        _ENCODER, n_outputs=3, head_norm=head_norm, generator=generator
    )


_ENCODER = _encoder(_gen(0))

BUILDERS = {
    "encoder": _encoder,
    "predictor": _predictor,
    "finetune-layernorm": _finetune,
    "finetune-batchnorm": lambda g: _finetune(g, "batchnorm"),
    "brainnetcnn": lambda g: BrainNetCNN(7, 2, generator=g, **SMALL_CNN),
    "bnt": lambda g: BrainNetworkTransformer(7, 2, generator=g, **SMALL_BNT),
    "edge-to-edge": lambda g: EdgeToEdge(2, 3, 5, generator=g),
    "edge-to-node": lambda g: EdgeToNode(2, 3, 5, generator=g),
    "node-to-graph": lambda g: NodeToGraph(2, 3, 5, generator=g),
    "ocread": lambda g: OrthonormalClusterReadout(8, 3, generator=g),
}


def _drawn(module):
    """The state the constructor drew (the fine-tune model: its head only)."""
    if isinstance(module, BrainJEPAFineTuneModel):
        return {
            **{f"fc_norm.{k}": v for k, v in module.fc_norm.state_dict().items()},
            **{f"head.{k}": v for k, v in module.head.state_dict().items()},
        }
    return module.state_dict()


@pytest.mark.parametrize("name", sorted(BUILDERS))
@pytest.mark.parametrize("seeded", [True, False])
def test_construction_leaves_global_rng_untouched(name, seeded):
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    BUILDERS[name](_gen(0) if seeded else None)
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_same_seed_same_weights_other_seed_other_weights(name):
    a, b, c = (_drawn(BUILDERS[name](_gen(seed))) for seed in (5, 5, 6))
    assert a.keys() == b.keys() == c.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
        assert torch.isfinite(a[key].float()).all(), key
    # Weight matrices depend on the seed (the gradients buffer is given).
    random = [k for k, v in a.items() if v.ndim >= 2 and k != "gradients"]
    assert random
    for key in random:
        assert not torch.equal(a[key], c[key]), key


@pytest.mark.parametrize("name", ["encoder", "predictor", "brainnetcnn", "bnt"])
def test_reset_parameters_redraws_the_construction(name):
    model = BUILDERS[name](_gen(3))
    original = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    model.reset_parameters(_gen(99))
    model.reset_parameters(_gen(3))
    assert torch.equal(torch.get_rng_state(), before)
    for key, value in model.state_dict().items():
        assert torch.equal(value, original[key]), key


def test_finetune_reset_head_redraws_the_head_only():
    model = _finetune(_gen(3))
    encoder_state = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    head = model.head.weight.clone()
    model.reset_head(_gen(4))
    assert not torch.equal(model.head.weight, head)
    model.reset_head(_gen(3))
    assert torch.equal(model.head.weight, head)
    for key, value in model.encoder.state_dict().items():
        assert torch.equal(value, encoder_state[key]), key


def test_reset_top_blocks_leaves_global_rng_untouched():
    encoder = _encoder(_gen(0))
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    reset_top_blocks_(encoder, 1, _gen(1))
    reset_top_blocks_(encoder, 1)
    assert torch.equal(torch.get_rng_state(), before)


def test_batchnorm_head_buffers_are_set_after_allocation():
    # materialize_ leaves buffers uninitialised: reset_head must set them.
    norm = _finetune(_gen(0), "batchnorm").fc_norm
    assert torch.equal(norm.running_mean, torch.zeros_like(norm.running_mean))
    assert torch.equal(norm.running_var, torch.ones_like(norm.running_var))
    assert int(norm.num_batches_tracked) == 0


@pytest.mark.parametrize("name", sorted(set(BUILDERS) - {"encoder"}))
def test_building_under_meta_stays_shape_only(name):
    with torch.device("meta"):
        model = BUILDERS[name](_gen(0))
    drawn = _drawn(model)
    assert drawn
    assert all(value.device.type == "meta" for value in drawn.values())


def test_encoder_under_meta_stays_shape_only():
    with torch.device("meta"):
        cfg, _ = model_config("tiny", n_rois=4, gradient_dim=3, depth=1)
        model = BrainJEPAEncoder(cfg, torch.empty(4, 3, device="meta"))
    assert all(v.device.type == "meta" for v in model.state_dict().values())


def test_materialize_allocates_on_the_default_device():
    with torch.device("meta"):
        linear = nn.Linear(3, 2)
    assert materialize_(linear) is linear
    assert linear.weight.device == torch.device("cpu")
    with torch.device("meta"):
        inner = nn.Linear(3, 2)
        materialize_(inner)  # the default device is meta here
    assert inner.weight.device.type == "meta"


def test_glorot_uniform_bound_and_determinism():
    fan_in, fan_out, gain = 30, 50, 0.5
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    a = glorot_uniform_(torch.empty(200, 40), fan_in, fan_out, _gen(0), gain=gain)
    b = glorot_uniform_(torch.empty(200, 40), fan_in, fan_out, _gen(0), gain=gain)
    assert torch.equal(a, b)
    assert float(a.abs().max()) <= bound
    assert float(a.abs().max()) > 0.95 * bound
    # Same draws whatever the tensor's dtype: drawn in float32, then copied.
    c = glorot_uniform_(
        torch.empty(200, 40, dtype=torch.float64), fan_in, fan_out, _gen(0), gain=gain
    )
    assert torch.equal(c.float(), a)
    meta = torch.empty(3, 3, device="meta")
    assert glorot_uniform_(meta, 3, 3, None) is meta


def test_library_builds_without_fork_rng():
    # Construction never forks or reseeds the global RNG: the idiom replaces it.
    root = Path(sknn.__file__).resolve().parents[1]
    for folder in ("nn", "baselines"):
        for path in (root / folder).glob("*.py"):
            code = "\n".join(
                line
                for line in path.read_text(encoding="utf-8").splitlines()
                if not line.lstrip().startswith(("#", ">>>"))
            )
            assert "fork_rng(" not in code, path
            assert "torch.manual_seed(" not in code, path
