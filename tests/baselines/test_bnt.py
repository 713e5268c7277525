"""The Brain Network Transformer and its cluster readout."""

import copy

import pytest
import torch
from numpy.testing import assert_allclose

from sk_brainjepa.baselines._bnt import (
    BrainNetworkTransformer,
    OrthonormalClusterReadout,
    orthonormal_rows,
)

from ._helpers import SMALL_BNT, _fc, _gen, _make

# One intra-op thread for these tiny models (see conftest.single_thread).
pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.mark.parametrize("n_rois", [7, 94, 100, 450])
@pytest.mark.parametrize("batch", [1, 3])
def test_bnt_output_shape_any_roi_count(n_rois, batch):
    # The reference needs n_rois % 4 == 0 (d_model = n_rois, 4 heads); 7 and 94
    # are not, and must work here with the default 4 heads.
    model = BrainNetworkTransformer(
        n_rois, 2, n_clusters=4, head_hidden=(16,), generator=_gen()
    ).eval()
    out, assign = model(_fc(batch, n_rois), return_assignments=True)
    assert out.shape == (batch, 2)
    assert assign.shape == (batch, n_rois, 4)
    assert_allclose(assign.sum(-1).detach().numpy(), 1.0, rtol=0, atol=1e-6)


def test_bnt_default_widths():
    model = BrainNetworkTransformer(7, 1, generator=_gen())
    assert model.hidden_dim == 64 and len(model.layers) == 2
    assert model.layers[0].linear1.out_features == 256
    assert model.readout.centers.shape == (10, 64)
    assert model.cluster_proj.out_features == 8
    assert model.eval()(_fc(2, 7)).shape == (2, 1)


# ------------------------------------------------------------------- OCRead
@pytest.mark.parametrize(("n_clusters", "embed_dim"), [(4, 16), (10, 64), (8, 8)])
def test_ocread_centers_orthonormal_at_init(n_clusters, embed_dim):
    readout = OrthonormalClusterReadout(embed_dim, n_clusters)
    readout.reset_parameters(_gen(5))
    c = readout.centers.detach()
    assert_allclose((c @ c.T).numpy(), torch.eye(n_clusters).numpy(), rtol=0, atol=1e-5)


def test_bnt_centers_orthonormal_after_construction():
    c = _make("bnt", 7).readout.centers.detach()
    assert_allclose((c @ c.T).numpy(), torch.eye(4).numpy(), rtol=0, atol=1e-5)


def test_ocread_pooling_matches_definition():
    readout = OrthonormalClusterReadout(6, 3)
    readout.reset_parameters(_gen(0))
    h = torch.randn(2, 5, 6, generator=_gen(1))
    pooled, assign = readout(h)
    logits = torch.einsum("bnd,kd->bnk", h, readout.centers)
    expected_assign = torch.exp(logits) / torch.exp(logits).sum(-1, keepdim=True)
    expected_pooled = torch.einsum("bnk,bnd->bkd", expected_assign, h)
    assert_allclose(
        assign.detach().numpy(), expected_assign.detach().numpy(), rtol=1e-5, atol=1e-6
    )
    assert_allclose(
        pooled.detach().numpy(), expected_pooled.detach().numpy(), rtol=1e-5, atol=1e-5
    )


def test_ocread_freeze_centers():
    model = _make("bnt", 7, freeze_centers=True)
    assert not model.readout.centers.requires_grad
    assert _make("bnt", 7).readout.centers.requires_grad


def test_orthonormal_rows_rejects_too_many_rows():
    with pytest.raises(ValueError, match="n_rows <= n_cols"):
        orthonormal_rows(5, 4, _gen())


# ------------------------------------------------------ permutation behaviour


def test_bnt_token_permutation_equivariant_and_readout_invariant():
    # Reordering only the tokens (rows), features untouched: self-attention is
    # permutation-equivariant and OCRead sums over nodes.
    model = _make("bnt", 9).eval()
    x = _fc(3, 9)
    perm = torch.randperm(9, generator=_gen(7))
    with torch.no_grad():
        h, h_perm = model.node_embeddings(x), model.node_embeddings(x[:, perm])
        (out, assign), (out_perm, assign_perm) = (
            model(x, return_assignments=True),
            model(x[:, perm], return_assignments=True),
        )
    assert_allclose(h_perm.numpy(), h[:, perm].numpy(), rtol=1e-5, atol=1e-5)
    assert_allclose(assign_perm.numpy(), assign[:, perm].numpy(), rtol=1e-5, atol=1e-6)
    assert_allclose(out_perm.numpy(), out.numpy(), rtol=1e-5, atol=1e-5)


def test_bnt_roi_permutation_with_permuted_projection_is_exact():
    # Permuting ROIs (rows and columns) also reorders each token's features; a
    # model whose input projection columns are permuted the same way sees the
    # same tokens, so its node embeddings are permuted and its output unchanged.
    model = _make("bnt", 9).eval()
    perm = torch.randperm(9, generator=_gen(7))
    permuted_model = copy.deepcopy(model)
    with torch.no_grad():
        permuted_model.input_proj.weight.copy_(model.input_proj.weight[:, perm])
    x = _fc(3, 9)
    x_perm = x[:, perm][:, :, perm]
    with torch.no_grad():
        h = model.node_embeddings(x)
        h_perm = permuted_model.node_embeddings(x_perm)
        out, out_perm = model(x), permuted_model(x_perm)
    assert_allclose(h_perm.numpy(), h[:, perm].numpy(), rtol=1e-5, atol=1e-5)
    assert_allclose(out_perm.numpy(), out.numpy(), rtol=1e-5, atol=1e-5)


def test_bnt_roi_permutation_changes_output_of_same_model():
    # Without a positional embedding the FC columns still carry node identity,
    # so one model's output is NOT invariant to relabelling the ROIs.
    model = _make("bnt", 9).eval()
    perm = torch.randperm(9, generator=_gen(7))
    x = _fc(3, 9)
    with torch.no_grad():
        diff = (model(x) - model(x[:, perm][:, :, perm])).abs().max().item()
    assert diff > 1e-4


def test_bnt_rejects_channel_axis():
    with pytest.raises(ValueError, match=r"got \(2, 1, 7, 7\)"):
        _make("bnt", 7)(torch.zeros(2, 1, 7, 7))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(hidden_dim=18, n_heads=4), "hidden_dim=18 must be divisible by"),
        (dict(hidden_dim=8, n_clusters=9, n_heads=2), "n_clusters=9 must be <= hidden"),
        (dict(n_layers=0), "n_layers must be a positive integer"),
        (dict(dropout=-0.1), r"dropout must be in \[0, 1\)"),
    ],
)
def test_bnt_bad_params(kwargs, match):
    params = dict(SMALL_BNT)
    params.update(kwargs)
    with pytest.raises(ValueError, match=match):
        BrainNetworkTransformer(7, 2, **params)
