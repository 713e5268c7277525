"""The official Brain-JEPA masking algorithm."""

import pytest
import torch

from sk_brainjepa.masking import OfficialMasker

from ._helpers import SEEDS, _sample


# --------------------------------------------------------------------------
# Official collator reproduction
# --------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("grid", [(8, 4), (13, 5), (450, 10)])
def test_official_structure(grid, seed):
    n_rois, n_times = grid
    masker = OfficialMasker(n_rois, n_times)
    masks = _sample(masker, seed)
    start, stop = masks.observation_window.unbind(dim=1)
    n_edge = masker.n_edge_patches
    # Window never reaches the last patch (randint upper bound is exclusive).
    assert bool((stop <= n_times - 1).all())
    kind = masks.target_kind
    n_alpha = (kind == 0).sum(dim=1)
    assert bool((n_alpha == n_alpha[0]).all())
    k = int(n_alpha[0])
    # Order alpha, right, left; alpha sorted and always kept whole.
    assert bool((kind[:, :k] == 0).all()) and bool((kind[:, k:] != 0).all())
    assert bool((masks.target[:, 1:k] > masks.target[:, : k - 1]).all())
    for b in range(masks.batch_size):
        alpha = masks.target[b, :k]
        alpha_rois = torch.unique(alpha // n_times)
        obs_rois = masks.observation[b] // n_times
        obs_times = masks.observation[b] % n_times
        # Alpha rows are removed from the observation at every time.
        assert not bool(torch.isin(obs_rois, alpha_rois).any())
        assert bool(masks.observation_rois[b, obs_rois].all())
        assert bool((obs_times >= start[b]).all() and (obs_times < stop[b]).all())
        alpha_times = alpha % n_times
        assert bool((alpha_times >= start[b]).all())
        assert bool((alpha_times < stop[b] - 1).all())
        # Beta/gamma on the edge columns, which leave the observation.
        edge = masks.target[b, k:]
        edge_times = edge % n_times
        assert bool(((edge_times < n_edge) | (edge_times >= n_times - n_edge)).all())
        assert not bool(torch.isin(obs_times, edge_times).any())
        # Kind 1 = mask_set = O & A, kind 2 = the other ROIs (official labels).
        edge_rois, edge_kind = edge // n_times, kind[b, k:]
        in_mask_set = masks.observation_rois[b, edge_rois] & torch.isin(
            edge_rois, alpha_rois
        )
        assert torch.equal(edge_kind == 1, in_mask_set)


@pytest.mark.parametrize("seed", SEEDS)
def test_official_observation_is_observed_rois_minus_alpha_and_edges(seed):
    # One sample per batch: nothing is truncated, so the observation must be
    # exactly (O minus alpha rows) x (window minus the edge columns).
    masks = _sample(OfficialMasker(450, 10), seed, batch_size=1)
    start, stop = masks.observation_window[0].tolist()
    alpha = masks.target[0][masks.target_kind[0] == 0]
    edge = masks.target[0][masks.target_kind[0] != 0]
    rois = masks.observation_rois[0].clone()
    rois[alpha // 10] = False
    times = torch.zeros(10, dtype=torch.bool)
    times[start:stop] = True
    times[edge % 10] = False
    expected = (rois[:, None] & times[None, :]).reshape(-1).nonzero()[:, 0]
    assert torch.equal(masks.observation[0], expected)


def test_official_sizes_match_yaml_ranges():
    masker = OfficialMasker(450, 10)
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        masks = masker(4, generator)
        n_obs_rois = masks.observation_rois.sum(dim=1)
        n_window = masks.observation_window[:, 1] - masks.observation_window[:, 0]
        assert bool(((n_obs_rois >= 378) & (n_obs_rois <= 449)).all())
        assert bool(((n_window == 8) | (n_window == 9)).all())
        alpha = masks.target[0][masks.target_kind[0] == 0]
        assert 202 <= torch.unique(alpha // 10).numel() <= 269
        assert 2 <= torch.unique(alpha % 10).numel() <= 5


def test_official_statistics_at_paper_grid():
    # docs/differences-from-official.md, "Masking": ~65% of batches keep alpha
    # targets only, K_enc ~822 (18%), K_pred ~863, at 450 x 10 with B = 16.
    masker = OfficialMasker(450, 10)
    generator = torch.Generator().manual_seed(0)
    n_batches = 200
    alpha_only, n_obs, n_tgt, mean_roi = 0, 0.0, 0.0, 0.0
    for _ in range(n_batches):
        masks = masker(16, generator)
        alpha_only += bool((masks.target_kind == 0).all())
        n_obs += masks.n_observation / n_batches
        n_tgt += masks.n_target / n_batches
        mean_roi += float((masks.observation // 10).float().mean()) / n_batches
    assert 0.5 <= alpha_only / n_batches <= 0.8
    assert 650 <= n_obs <= 1050
    assert 700 <= n_tgt <= 1050
    # Keeping the first K_enc indices drops the highest ROIs (mean well below
    # the unbiased 224.5).
    assert mean_roi < 190


def test_official_cross_kinds_occur():
    masker = OfficialMasker(450, 10)
    generator = torch.Generator().manual_seed(1)
    totals = sum(masker(16, generator).kind_counts().sum(dim=0) for _ in range(30))
    assert bool((totals > 0).all())


@pytest.mark.parametrize("seed", SEEDS)
def test_official_drops_single_unobserved_roi_from_nonmask(seed):
    # enc scale near 1 gives h_e = R - 1: the official code loses the one
    # unobserved ROI from the "nonmask" stratum, so no edge block uses it.
    masker = OfficialMasker(20, 10, enc_mask_scale=(0.99, 1.0))
    generator = torch.Generator().manual_seed(seed)
    n_gamma = 0
    for _ in range(20):
        # One sample per batch, so truncation keeps every edge token.
        masks = masker(1, generator)
        assert int(masks.observation_rois.sum()) == 19
        observed = masks.observation_rois.gather(1, masks.target // 10)
        assert bool(observed[masks.target_kind != 0].all())
        n_gamma += int((masks.target_kind == 2).sum())
    assert n_gamma > 0


def test_official_edge_patches_default_scales_with_grid():
    assert OfficialMasker(450, 10).n_edge_patches == 3
    assert OfficialMasker(10, 20).n_edge_patches == 6
    assert OfficialMasker(10, 3).n_edge_patches == 1


@pytest.mark.parametrize(
    "options, match",
    [
        ({"pred_mask_T_scale": (-0.1, 0.4)}, "pred_mask_T_scale"),
        ({"pred_mask_R_scale": (0.0, 0.6)}, "pred_mask_R_scale"),
        ({"n_edge_patches": 6}, "n_edge_patches must be <= n_time_patches // 2 = 5"),
    ],
)
def test_official_rejects_bad_options(options, match):
    with pytest.raises(ValueError, match=match):
        OfficialMasker(450, 10, **options)
