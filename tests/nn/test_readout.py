"""Subject readouts of encoder tokens, connectivity above all."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from sk_brainjepa.nn import (
    n_readout_features,
    read_out,
    token_connectivity,
    token_lagged_connectivity,
)


def _reference_connectivity(tokens: np.ndarray, n_rois: int) -> np.ndarray:
    """One subject, one ROI pair at a time, written with np.corrcoef-like steps."""
    batch, n_tokens, dim = tokens.shape
    traj = tokens.reshape(batch, n_rois, n_tokens // n_rois, dim)
    rows = []
    for b in range(batch):
        centred = traj[b] - traj[b].mean(axis=1, keepdims=True)
        flat = centred.reshape(n_rois, -1)
        row = []
        for i in range(n_rois):
            for j in range(i + 1, n_rois):
                num = flat[i] @ flat[j]
                row.append(num / (np.linalg.norm(flat[i]) * np.linalg.norm(flat[j])))
        rows.append(row)
    return np.asarray(rows)


def test_token_connectivity_matches_a_pairwise_reference():
    gen = torch.Generator().manual_seed(0)
    tokens = torch.randn(3, 5 * 4, 6, generator=gen, dtype=torch.float64)
    got = token_connectivity(tokens, 5).numpy()
    assert got.shape == (3, 10)
    assert_allclose(got, _reference_connectivity(tokens.numpy(), 5), rtol=1e-12)
    assert np.all(np.abs(got) <= 1 + 1e-12)


def test_token_connectivity_ignores_what_is_constant_over_time_and_scale():
    """Per-ROI offsets (e.g. positional embeddings) and per-ROI gains drop out."""
    gen = torch.Generator().manual_seed(1)
    tokens = torch.randn(2, 4 * 3, 5, generator=gen, dtype=torch.float64)
    shifted = tokens.reshape(2, 4, 3, 5) * torch.tensor([1.0, 2.0, 0.5, 3.0]).reshape(
        1, 4, 1, 1
    ) + torch.randn(1, 4, 1, 5, generator=gen, dtype=torch.float64)
    assert_allclose(
        token_connectivity(shifted.reshape(2, 12, 5), 4).numpy(),
        token_connectivity(tokens, 4).numpy(),
        rtol=1e-10,
    )


def test_token_connectivity_of_identical_and_constant_rois():
    gen = torch.Generator().manual_seed(2)
    traj = torch.randn(1, 3, 4, 2, generator=gen)
    traj[0, 1] = traj[0, 0]  # ROI 1 copies ROI 0
    traj[0, 2] = 7.0  # ROI 2 never changes
    got = token_connectivity(traj.reshape(1, 12, 2), 3)[0]
    # Pairs (0, 1), (0, 2), (1, 2): identical -> 1, constant -> 0 (not NaN).
    assert_allclose(got.numpy(), [1.0, 0.0, 0.0], atol=1e-6)


def test_token_connectivity_bad_shapes():
    with pytest.raises(ValueError, match="not a multiple of n_rois=4"):
        token_connectivity(torch.zeros(1, 10, 3), 4)
    with pytest.raises(ValueError, match="at least 2 time patches.*holds 1"):
        token_connectivity(torch.zeros(1, 4, 3), 4)


def _reference_lagged(tokens: np.ndarray, n_rois: int, lag: int) -> np.ndarray:
    """One subject, one ordered ROI pair at a time: corr(i at t, j at t + lag)."""
    batch, n_tokens, dim = tokens.shape
    n_patches = n_tokens // n_rois
    traj = tokens.reshape(batch, n_rois, n_patches, dim)
    rows = []
    for b in range(batch):
        row = []
        for i in range(n_rois):
            for j in range(n_rois):
                if i == j:
                    continue
                lead = traj[b, i, : n_patches - lag]
                follow = traj[b, j, lag:]
                lead = (lead - lead.mean(axis=0)).ravel()
                follow = (follow - follow.mean(axis=0)).ravel()
                row.append(
                    lead @ follow / (np.linalg.norm(lead) * np.linalg.norm(follow))
                )
        rows.append(row)
    return np.asarray(rows)


@pytest.mark.parametrize("lag", [1, 2])
def test_token_lagged_connectivity_matches_a_pairwise_reference(lag):
    gen = torch.Generator().manual_seed(5)
    tokens = torch.randn(3, 5 * 6, 4, generator=gen, dtype=torch.float64)
    got = token_lagged_connectivity(tokens, 5, lag=lag).numpy()
    assert got.shape == (3, 20)
    assert_allclose(got, _reference_lagged(tokens.numpy(), 5, lag), rtol=1e-12)
    assert np.all(np.abs(got) <= 1 + 1e-12)
    if lag == 1:
        assert_allclose(read_out(tokens, 5, "lagged").numpy(), got)


def test_token_lagged_connectivity_keeps_which_roi_leads():
    """ROI 1 copies ROI 0 one patch later: 0 -> 1 is 1, 1 -> 0 is not."""
    gen = torch.Generator().manual_seed(6)
    traj = torch.randn(2, 3, 6, 4, generator=gen, dtype=torch.float64)
    traj[:, 1, 1:] = traj[:, 0, :-1]
    got = token_lagged_connectivity(traj.reshape(2, 18, 4), 3).numpy()
    # Order (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1); index i*(R-1)+j-(j>i).
    assert_allclose(got[:, 0], 1.0, rtol=1e-12)
    assert np.all(got[:, 2] < 0.9)
    # The symmetric readout cannot tell the directions apart.
    conn = token_connectivity(traj.reshape(2, 18, 4), 3).numpy()
    assert np.all(conn[:, 0] < 0.9)


def test_token_lagged_connectivity_ignores_per_roi_offsets_and_gains():
    """A per-ROI constant vector (e.g. a positional embedding) and gain drop out."""
    gen = torch.Generator().manual_seed(7)
    tokens = torch.randn(2, 4 * 5, 3, generator=gen, dtype=torch.float64)
    gains = torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=torch.float64)
    offsets = torch.randn(1, 4, 1, 3, generator=gen, dtype=torch.float64)
    moved = tokens.reshape(2, 4, 5, 3) * gains.reshape(1, 4, 1, 1) + offsets
    assert_allclose(
        token_lagged_connectivity(moved.reshape(2, 20, 3), 4).numpy(),
        token_lagged_connectivity(tokens, 4).numpy(),
        rtol=1e-10,
    )


def test_token_lagged_connectivity_of_a_constant_roi_is_zero():
    traj = torch.randn(1, 3, 4, 2, generator=torch.Generator().manual_seed(8))
    traj[0, 2] = 7.0  # ROI 2 never changes: 0, not NaN
    got = token_lagged_connectivity(traj.reshape(1, 12, 2), 3)[0].numpy()
    assert_allclose(got[[1, 3, 4, 5]], 0.0, atol=1e-6)


def test_token_lagged_connectivity_errors():
    with pytest.raises(ValueError, match="not a multiple of n_rois=4"):
        token_lagged_connectivity(torch.zeros(1, 10, 3), 4)
    with pytest.raises(
        ValueError, match=r"readout='lagged' needs at least 3 time patches.*holds 2"
    ):
        read_out(torch.zeros(1, 8, 3), 4, "lagged")
    with pytest.raises(ValueError, match=r"lag=2 needs at least 4 time patches"):
        token_lagged_connectivity(torch.zeros(1, 12, 3), 4, lag=2)
    for lag in (0, -1, 1.0, True):
        with pytest.raises(ValueError, match="lag must be a positive integer"):
            token_lagged_connectivity(torch.zeros(1, 16, 3), 4, lag=lag)


def test_read_out_dispatch_and_widths():
    tokens = torch.randn(2, 3 * 4, 5, generator=torch.Generator().manual_seed(3))
    for readout, width in (
        ("mean", 5),
        ("roi", 15),
        ("connectivity", 3),
        ("lagged", 6),
    ):
        out = read_out(tokens, 3, readout)
        assert out.shape == (2, width) == (2, n_readout_features(readout, 3, 5))
    assert read_out(tokens, 3, "tokens") is tokens
    with pytest.raises(ValueError, match="readout must be one of"):
        read_out(tokens, 3, "max")
    with pytest.raises(ValueError, match="no fixed feature width"):
        n_readout_features("tokens", 3, 5)
