"""BrainNetCNN and its edge layers; what both baseline networks share.

The shared part (seeded initialisation, dropout, input checks, training) runs on
BrainNetCNN and the Brain Network Transformer alike.
"""

import copy

import pytest
import torch
from numpy.testing import assert_allclose

from sk_brainjepa.baselines._bnt import BrainNetworkTransformer
from sk_brainjepa.baselines._brainnetcnn import (
    BrainNetCNN,
    EdgeToEdge,
    EdgeToNode,
    NodeToGraph,
)

from ._helpers import SMALL_BNT, SMALL_CNN, _fc, _gen, _make

# One intra-op thread for these tiny models (see conftest.single_thread).
pytestmark = pytest.mark.usefixtures("single_thread")


# ------------------------------------------------------------------ shapes
@pytest.mark.parametrize("n_rois", [7, 94])
@pytest.mark.parametrize("batch", [1, 5])
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_brainnetcnn_output_shape(n_rois, batch, n_outputs):
    model = _make("cnn", n_rois, n_outputs).eval()
    assert model(_fc(batch, n_rois)).shape == (batch, n_outputs)


def test_brainnetcnn_paper_defaults_shape():
    # Paper widths (E2E 32, 32; E2N 64; N2G 256; FC 128, 30) at a small R.
    model = BrainNetCNN(9, 2, generator=_gen()).eval()
    assert [layer.out_channels for layer in model.e2e] == [32, 32]
    assert model.e2n.out_channels == 64 and model.n2g.out_channels == 256
    assert [lin.out_features for lin in model.fc] == [128, 30]
    assert model(_fc(3, 9)).shape == (3, 2)


def test_brainnetcnn_multichannel_input():
    model = _make("cnn", 6, in_channels=2).eval()
    x = torch.stack([_fc(3, 6, 0), _fc(3, 6, 1)], dim=1)  # (3, 2, 6, 6)
    assert model(x).shape == (3, 2)
    with pytest.raises(ValueError, match=r"2 channels.*in_channels=1"):
        _make("cnn", 6)(x)


def test_brainnetcnn_empty_e2e_and_hidden():
    model = BrainNetCNN(
        5,
        2,
        e2e_channels=(),
        hidden=(),
        e2n_channels=3,
        n2g_channels=4,
        generator=_gen(),
    ).eval()
    assert model(_fc(2, 5)).shape == (2, 2)


# ------------------------------------------------------- layers vs naive loops
def test_edge_to_edge_matches_naive_loops():
    B, C, F, R = 2, 2, 3, 4
    layer = EdgeToEdge(C, F, R)
    layer.reset_parameters(_gen(1))
    with torch.no_grad():
        layer.bias.copy_(torch.randn(F, generator=_gen(2)))
    x = torch.randn(B, C, R, R, generator=_gen(3))
    expected = torch.zeros(B, F, R, R)
    for b in range(B):
        for f in range(F):
            for i in range(R):
                for j in range(R):
                    total = layer.bias[f].item()
                    for c in range(C):
                        for k in range(R):
                            total += layer.weight_row[f, c, k].item() * x[b, c, i, k]
                            total += layer.weight_col[f, c, k].item() * x[b, c, k, j]
                    expected[b, f, i, j] = total
    got = layer(x).detach().numpy()
    assert_allclose(got, expected.numpy(), rtol=1e-5, atol=1e-5)


def test_edge_to_node_matches_naive_loops():
    B, C, F, R = 2, 3, 2, 5
    layer = EdgeToNode(C, F, R)
    layer.reset_parameters(_gen(1))
    with torch.no_grad():
        layer.bias.copy_(torch.randn(F, generator=_gen(2)))
    x = torch.randn(B, C, R, R, generator=_gen(3))
    expected = torch.zeros(B, F, R)
    for b in range(B):
        for f in range(F):
            for i in range(R):
                total = layer.bias[f].item()
                for c in range(C):
                    for k in range(R):
                        total += layer.weight[f, c, k].item() * x[b, c, i, k]
                expected[b, f, i] = total
    assert_allclose(layer(x).detach().numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)


def test_node_to_graph_matches_naive_loops():
    B, C, G, R = 2, 3, 4, 5
    layer = NodeToGraph(C, G, R)
    layer.reset_parameters(_gen(1))
    with torch.no_grad():
        layer.bias.copy_(torch.randn(G, generator=_gen(2)))
    x = torch.randn(B, C, R, generator=_gen(3))
    expected = torch.zeros(B, G)
    for b in range(B):
        for g in range(G):
            total = layer.bias[g].item()
            for c in range(C):
                for i in range(R):
                    total += layer.weight[g, c, i].item() * x[b, c, i]
            expected[b, g] = total
    assert_allclose(layer(x).detach().numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layer_cls", [EdgeToEdge, EdgeToNode])
def test_edge_layers_accept_single_channel_without_channel_axis(layer_cls):
    layer = layer_cls(1, 3, 5)
    x = _fc(2, 5)
    assert_allclose(
        layer(x).detach().numpy(), layer(x[:, None]).detach().numpy(), rtol=0, atol=0
    )


# ------------------------------------------------------------------ dropout
@pytest.mark.parametrize("kind", ["cnn", "bnt"])
def test_dropout_off_in_eval_on_in_train(kind):
    model = _make(kind, 8)
    x = _fc(4, 8)
    with torch.no_grad():
        model.eval()
        first, second = model(x), model(x)
        assert torch.equal(first, second)
        model.train()
        # nn.Dropout draws from the global RNG; fork it so the test leaks no state.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            train_a, train_b = model(x), model(x)
    assert not torch.allclose(train_a, train_b)


# ------------------------------------------------------------ initialisation


@pytest.mark.parametrize("kind", ["cnn", "bnt"])
def test_same_seed_same_weights_different_seed_different(kind):
    a, b, c = _make(kind, 7, seed=0), _make(kind, 7, seed=0), _make(kind, 7, seed=1)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert sa.keys() == sb.keys() == sc.keys()
    for name in sa:
        assert torch.equal(sa[name], sb[name]), name
    # Every weight matrix (biases and norms start constant) depends on the seed,
    # which also shows reset_parameters re-draws all of them.
    weights = [name for name, p in a.named_parameters() if p.ndim >= 2]
    assert weights
    for name in weights:
        assert not torch.equal(sa[name], sc[name]), name


@pytest.mark.parametrize("kind", ["cnn", "bnt"])
def test_reset_parameters_reproduces_construction(kind):
    model = _make(kind, 7, seed=3)
    original = copy.deepcopy(model.state_dict())
    model.reset_parameters(_gen(99))
    model.reset_parameters(_gen(3))
    for name, value in model.state_dict().items():
        assert torch.equal(value, original[name]), name


@pytest.mark.parametrize("kind", ["cnn", "bnt"])
@pytest.mark.parametrize("seeded", [True, False])
def test_construction_leaves_global_rng_untouched(kind, seeded):
    before = torch.get_rng_state()
    if seeded:
        _make(kind, 7)
    elif kind == "cnn":
        BrainNetCNN(7, 2, **SMALL_CNN)
    else:
        BrainNetworkTransformer(7, 2, **SMALL_BNT)
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize("kind", ["cnn", "bnt"])
def test_unseeded_models_differ(kind):
    cls, kwargs = (
        (BrainNetCNN, SMALL_CNN)
        if kind == "cnn"
        else (BrainNetworkTransformer, SMALL_BNT)
    )
    a, b = cls(7, 2, **kwargs), cls(7, 2, **kwargs)
    assert not torch.equal(a.out.weight, b.out.weight)


@pytest.mark.parametrize("kind", ["cnn", "bnt"])
def test_generator_type_checked(kind):
    with pytest.raises(ValueError, match="generator must be a torch.Generator"):
        _make(kind, 7).reset_parameters(generator=0)


# ------------------------------------------------------------ input checks


@pytest.mark.parametrize("kind", ["cnn", "bnt"])
@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((2, 7, 6), r"non-square shape \(2, 7, 6\)"),
        ((2, 8, 8), r"8 ROIs.*n_rois=7.*got \(2, 8, 8\)"),
        ((7, 7), r"shape .*got \(7, 7\)"),
        ((1, 1, 1, 7, 7), r"got \(1, 1, 1, 7, 7\)"),
    ],
)
def test_bad_input_shape_raises(kind, shape, match):
    with pytest.raises(ValueError, match=match):
        _make(kind, 7)(torch.zeros(shape))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(n_rois=0), "n_rois must be a positive integer; got 0"),
        (dict(n_outputs=1.5), "n_outputs must be a positive integer"),
        (dict(dropout=1.0), r"dropout must be in \[0, 1\); got 1.0"),
        (dict(hidden=(8, 0)), r"hidden\[1\] must be a positive integer; got 0"),
        (dict(e2e_channels=4), "e2e_channels must be a sequence"),
    ],
)
def test_brainnetcnn_bad_params(kwargs, match):
    params = dict(n_rois=7, n_outputs=2, **SMALL_CNN)
    params.update(kwargs)
    with pytest.raises(ValueError, match=match):
        BrainNetCNN(**params)


# ------------------------------------------------------------------ training
def _block_dataset(n_subjects=16, n_rois=10, seed=0):
    """Two classes whose FC differs only in one off-diagonal block."""
    x = _fc(n_subjects, n_rois, seed)
    y = torch.arange(n_subjects) % 2
    shift = torch.zeros(n_rois, n_rois)
    shift[0:3, 5:8] = 0.8
    shift = shift + shift.T
    x = x + y[:, None, None] * shift
    return x, y


@pytest.mark.parametrize("kind", ["cnn", "bnt"])
def test_models_overfit_tiny_dataset(kind):
    x, y = _block_dataset()
    model = _make(kind, 10, n_outputs=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.eval()
    with torch.no_grad():
        initial_loss = loss_fn(model(x), y).item()
    model.train()
    # Dropout draws from the global RNG: fork it so the test is reproducible and
    # leaks no state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        for _ in range(100):
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        logits = model(x)
    accuracy = (logits.argmax(1) == y).float().mean().item()
    assert accuracy > 0.9
    assert loss_fn(logits, y).item() < 0.1 * initial_loss
