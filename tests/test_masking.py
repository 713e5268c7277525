"""Tests for sk_brainjepa.masking: invariants, statistics and RNG hygiene."""

import dataclasses
import math

import pytest
import torch

from sk_brainjepa.masking import (
    TARGET_KINDS,
    MaskBatch,
    OfficialMasker,
    RandomTokenMasker,
    SpatiotemporalMasker,
    apply_masks,
    make_masker,
)
from sk_brainjepa.masking._masks import _random_keep
from sk_brainjepa.masking._spatiotemporal import _remove_tokens, _run_outside

GRIDS = [(2, 2), (4, 3), (8, 4), (13, 5), (450, 10)]
SEEDS = [0, 1, 7]
KINDS = ["spatiotemporal", "official", "random"]


def _batch_size(n_rois):
    # The paper grid uses the official per-GPU batch; tiny grids stay small.
    return 16 if n_rois >= 100 else 6


def _sample(masker, seed, batch_size=None):
    batch_size = batch_size or _batch_size(masker.n_rois)
    return masker(batch_size, torch.Generator().manual_seed(seed))


def _grids_for(kind):
    # The official algorithm needs 3 time patches (window, offsets, edges).
    return [g for g in GRIDS if kind != "official" or g[1] >= 3]


def _expected_range(n, scale, room):
    """Bounds of ``clamp(floor(n * U(low, high)), 1, room)``."""
    return tuple(max(1, min(math.floor(n * f), room)) for f in scale)


def _rows_disjoint(a, b):
    """No row of ``a`` shares an index with the same row of ``b``."""
    offset = (torch.arange(a.shape[0]) * (int(max(a.max(), b.max())) + 1))[:, None]
    return not bool(torch.isin(a + offset, b + offset).any())


def _rows_unique(idx):
    ordered = idx.sort(dim=1).values
    return bool((ordered[:, 1:] != ordered[:, :-1]).all())


# --------------------------------------------------------------------------
# Invariants shared by every masker
# --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind, grid", [(k, g) for k in KINDS for g in _grids_for(k)])
def test_indices_in_range_unique_and_sorted(kind, grid, seed):
    n_rois, n_times = grid
    masks = _sample(make_masker(kind, n_rois, n_times), seed)
    n_tokens = n_rois * n_times
    for idx in (masks.observation, masks.target):
        assert idx.dtype == torch.long
        assert int(idx.min()) >= 0 and int(idx.max()) < n_tokens
    assert masks.n_observation > 0 and masks.n_target > 0
    assert bool((masks.observation[:, 1:] > masks.observation[:, :-1]).all())
    assert _rows_unique(masks.observation)
    assert bool(((masks.target_kind >= 0) & (masks.target_kind <= 2)).all())
    if kind != "official":  # the official collator keeps duplicate targets
        assert _rows_unique(masks.target)


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_masks_different_seed_different(kind):
    masker = make_masker(kind, 450, 10)
    first, again, other = _sample(masker, 3), _sample(masker, 3), _sample(masker, 4)
    for name in ("observation", "target", "target_kind"):
        assert torch.equal(getattr(first, name), getattr(again, name))
    assert first.observation.shape != other.observation.shape or not torch.equal(
        first.observation, other.observation
    )


@pytest.mark.parametrize("kind", KINDS)
def test_global_rng_state_unchanged(kind):
    before = torch.get_rng_state()
    _sample(make_masker(kind, 13, 5), 0)
    _sample(make_masker(kind, 450, 10), 1)
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize("kind", KINDS)
def test_apply_masks_matches_naive_gather(kind):
    masks = _sample(make_masker(kind, 13, 5), 2)
    x = torch.randn(6, 13 * 5, 7, generator=torch.Generator().manual_seed(0))
    for idx in (masks.observation, masks.target):
        expected = torch.stack([x[b, idx[b]] for b in range(x.shape[0])])
        assert torch.equal(apply_masks(x, idx), expected)


def test_apply_masks_accepts_int32_indices():
    x = torch.arange(24.0).reshape(2, 4, 3)
    idx = torch.tensor([[3, 0], [1, 1]], dtype=torch.int32)
    expected = torch.stack([x[0, [3, 0]], x[1, [1, 1]]])
    assert torch.equal(apply_masks(x, idx), expected)


@pytest.mark.parametrize(
    "x, idx, match",
    [
        (torch.zeros(2, 4), torch.zeros(2, 1, dtype=torch.long), "x must be"),
        (torch.zeros(2, 4, 3), torch.zeros(2, dtype=torch.long), "idx must be"),
        (torch.zeros(2, 4, 3), torch.zeros(3, 1, dtype=torch.long), "3 rows"),
        (torch.zeros(2, 4, 3), torch.zeros(2, 1), "integer indices"),
    ],
)
def test_apply_masks_rejects_bad_shapes(x, idx, match):
    with pytest.raises(ValueError, match=match):
        apply_masks(x, idx)


# --------------------------------------------------------------------------
# Paper masking (SpatiotemporalMasker)
# --------------------------------------------------------------------------


def _token_regions(masks, n_times, idx):
    """For each index: is its ROI observed, is its time inside the window."""
    roi, time = idx // n_times, idx % n_times
    in_rois = masks.observation_rois.gather(1, roi)
    start, stop = masks.observation_window[:, :1], masks.observation_window[:, 1:]
    return in_rois, (time >= start) & (time < stop)


@pytest.mark.parametrize("n_blocks", [1, 3])
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("grid", GRIDS)
def test_spatiotemporal_kinds_lie_in_their_regions(grid, seed, n_blocks):
    n_rois, n_times = grid
    masks = _sample(SpatiotemporalMasker(n_rois, n_times, n_blocks=n_blocks), seed)
    obs_in_rois, obs_in_window = _token_regions(masks, n_times, masks.observation)
    assert bool((obs_in_rois & obs_in_window).all())
    in_rois, in_window = _token_regions(masks, n_times, masks.target)
    kind = masks.target_kind
    assert bool((~in_rois & in_window)[kind == 0].all())  # cross-ROI
    assert bool((in_rois & ~in_window)[kind == 1].all())  # cross-time
    assert bool((~in_rois & ~in_window)[kind == 2].all())  # double-cross
    # Observation and targets are disjoint.
    assert _rows_disjoint(masks.observation, masks.target)


@pytest.mark.parametrize("n_blocks", [1, 2, 4])
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("grid", GRIDS)
def test_spatiotemporal_every_kind_in_every_sample(grid, seed, n_blocks):
    masker = SpatiotemporalMasker(*grid, n_blocks=n_blocks)
    counts = _sample(masker, seed).kind_counts()
    assert counts.shape == (_batch_size(grid[0]), len(TARGET_KINDS))
    assert bool((counts > 0).all())


def test_spatiotemporal_observation_never_covers_grid():
    # Full-range scales would observe everything; the clamp keeps one ROI and
    # one time patch free so every kind still exists.
    masker = SpatiotemporalMasker(
        4,
        3,
        observation_roi_scale=(1.0, 1.0),
        observation_time_scale=(1.0, 1.0),
        cross_roi_scale=((1.0, 1.0), (1.0, 1.0)),
    )
    masks = _sample(masker, 0)
    assert masks.n_observation == 3 * 2
    assert bool((masks.kind_counts() > 0).all())


CUSTOM = {
    "observation_roi_scale": (0.2, 0.7),
    "observation_time_scale": (0.3, 0.9),
    "cross_roi_scale": ((0.1, 0.3), (0.1, 0.5)),
    "cross_time_scale": ((0.05, 0.5), (0.1, 0.6)),
    "double_cross_scale": ((0.2, 0.4), (0.3, 0.3)),
}


@pytest.mark.parametrize("options", [{}, CUSTOM], ids=["defaults", "custom"])
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("grid", [(8, 4), (13, 5), (450, 10)])
def test_spatiotemporal_block_sizes_within_ranges(grid, seed, options):
    n_rois, n_times = grid
    masker = SpatiotemporalMasker(n_rois, n_times, **options)
    masks = _sample(masker, seed)
    n_obs_rois = masks.observation_rois.sum(dim=1)
    start, stop = masks.observation_window.unbind(dim=1)
    n_window = stop - start
    # Sizes are shared by the batch.
    assert bool((n_obs_rois == n_obs_rois[0]).all())
    assert bool((n_window == n_window[0]).all())
    h_o, w_o = int(n_obs_rois[0]), int(n_window[0])
    low, high = _expected_range(n_rois, masker.observation_roi_scale, n_rois - 1)
    assert low <= h_o <= high
    low, high = _expected_range(n_times, masker.observation_time_scale, n_times - 1)
    assert low <= w_o <= high
    assert masks.n_observation == h_o * w_o

    scales = (
        masker.cross_roi_scale,
        masker.cross_time_scale,
        masker.double_cross_scale,
    )
    roi_room = (n_rois - h_o, h_o, n_rois - h_o)
    time_room = (w_o, n_times - w_o, n_times - w_o)
    for b in range(masks.batch_size):
        for kind in range(3):
            tokens = masks.target[b][masks.target_kind[b] == kind]
            rois = torch.unique(tokens // n_times)
            times = torch.unique(tokens % n_times)
            # One block per kind: a full product of ROIs x times.
            assert tokens.numel() == rois.numel() * times.numel()
            low, high = _expected_range(n_rois, scales[kind][0], roi_room[kind])
            assert low <= rois.numel() <= high
            low, high = _expected_range(n_times, scales[kind][1], time_room[kind])
            assert low <= times.numel() <= high
            _assert_run(times, int(start[b]), w_o, n_times, inside=kind == 0)


def _assert_run(times, start, w_o, n_times, inside):
    """Time placement rule: contiguous, or split by the window only if needed."""
    length = times.numel()
    contiguous = int(times[-1] - times[0]) + 1 == length
    if inside:
        assert contiguous and start <= int(times[0]) and int(times[-1]) < start + w_o
        return
    assert not bool(((times >= start) & (times < start + w_o)).any())
    fits_one_side = length <= max(start, n_times - start - w_o)
    if fits_one_side:
        assert contiguous
    else:
        rank = torch.where(times < start, times, times - w_o)
        assert int(rank[-1] - rank[0]) + 1 == length


def test_spatiotemporal_default_sizes_match_docstring():
    # Documented: observation ~30% and targets ~24% of the 4,500 tokens.
    masker = SpatiotemporalMasker(450, 10)
    generator = torch.Generator().manual_seed(0)
    batches = [masker(4, generator) for _ in range(60)]
    obs = sum(m.n_observation for m in batches) / (60 * 4500)
    tgt = sum(m.n_target for m in batches) / (60 * 4500)
    assert 0.27 <= obs <= 0.33
    assert 0.21 <= tgt <= 0.27


def test_spatiotemporal_observation_not_biased_to_low_rois():
    # Unlike the official truncation, nothing favours low ROI indices.
    masker = SpatiotemporalMasker(450, 10)
    generator = torch.Generator().manual_seed(0)
    mean_roi = torch.stack(
        [(masker(16, generator).observation // 10).float().mean() for _ in range(10)]
    ).mean()
    assert abs(float(mean_roi) - 224.5) < 15


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    "start, w_o, length, n_times",
    [(3, 4, 4, 10), (1, 3, 2, 6), (0, 5, 3, 8), (4, 5, 1, 10), (2, 2, 3, 6)],
)
def test_run_outside_places_exact_length_outside_window(
    start, w_o, length, n_times, seed
):
    starts = torch.full((32,), start)
    runs = _run_outside(
        starts, w_o, length, n_times, torch.Generator().manual_seed(seed)
    )
    assert runs.shape == (32, length)
    assert bool(((runs >= 0) & (runs < n_times)).all())
    for times in runs:
        assert _rows_unique(times[None])
        _assert_run(times.sort().values, start, w_o, n_times, inside=False)


def test_run_outside_uses_both_sides():
    runs = _run_outside(torch.full((200,), 3), 3, 2, 10, torch.Generator())
    assert bool((runs < 3).any()) and bool((runs >= 6).any())


def test_remove_tokens_drops_overlap_and_equalises_counts():
    # Never triggered by the sampler (its regions are disjoint), so test the
    # explicit overlap removal on a forced overlap.
    observation = torch.tensor([[0, 1, 2, 3], [4, 5, 6, 7], [0, 2, 4, 6]])
    target = torch.tensor([[1, 9], [8, 9], [2, 4]])
    kept = _remove_tokens(observation, target, torch.Generator().manual_seed(0))
    assert kept.shape == (3, 2)
    assert torch.equal(kept[2], torch.tensor([0, 6]))
    for row, obs, tgt in zip(kept, observation, target, strict=True):
        assert bool(torch.isin(row, obs).all()) and not bool(torch.isin(row, tgt).any())
        assert bool((row[1:] > row[:-1]).all())
    untouched = _remove_tokens(observation, target + 20, torch.Generator())
    assert torch.equal(untouched, observation)


# --------------------------------------------------------------------------
# Random truncation to the batch minimum
# --------------------------------------------------------------------------


def test_random_keep_drops_random_tokens_and_keeps_every_kind():
    n = 40
    valid = torch.zeros(3, n, dtype=torch.bool)
    valid[0, :10] = True  # the minimum: kept whole
    valid[1, :30] = True
    valid[2, 5:40] = True
    kinds = torch.zeros(3, n, dtype=torch.long)
    kinds[:, 29:] = 2  # row 1 has a single kind-2 entry, at its highest index
    kinds[:, 5] = 1
    kept_sets = set()
    for seed in range(20):
        kept = _random_keep(valid, torch.Generator().manual_seed(seed), kinds=kinds)
        assert torch.equal(kept.sum(dim=1), torch.tensor([10, 10, 10]))
        assert not bool((kept & ~valid).any())
        assert torch.equal(kept[0], valid[0])
        for row in (1, 2):
            assert set(kinds[row][kept[row]].tolist()) == set(
                kinds[row][valid[row]].tolist()
            )
        kept_sets.add(tuple(kept[1].nonzero()[:, 0].tolist()))
    # A deterministic rule (e.g. "keep the first K") would keep one set only.
    assert len(kept_sets) > 10


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
    # reference-brainjepa.md 5.5: ~65% of batches keep alpha targets only,
    # K_enc ~822 (18%), K_pred ~863, at 450 x 10 with B = 16.
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


# --------------------------------------------------------------------------
# Random token masking
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "grid, ratios",
    [((450, 10), (0.3, 0.24)), ((8, 4), (0.25, 0.5)), ((4, 3), (0.1, 0.1))],
)
def test_random_masker_sizes_and_disjointness(grid, ratios):
    n_tokens = grid[0] * grid[1]
    masker = RandomTokenMasker(
        *grid, observation_ratio=ratios[0], target_ratio=ratios[1]
    )
    masks = _sample(masker, 0)
    assert masks.n_observation == max(1, int(ratios[0] * n_tokens))
    assert masks.n_target == max(1, int(ratios[1] * n_tokens))
    assert bool((masks.target[:, 1:] > masks.target[:, :-1]).all())
    assert _rows_disjoint(masks.observation, masks.target)
    assert bool((masks.target_kind == 0).all())
    assert masks.observation_rois is None and masks.observation_window is None


def test_random_masker_defaults():
    masker = RandomTokenMasker(450, 10)
    assert (masker.observation_ratio, masker.target_ratio) == (0.3, 0.24)


# --------------------------------------------------------------------------
# MaskBatch
# --------------------------------------------------------------------------


def test_mask_batch_kind_counts_and_to():
    masks = MaskBatch(
        observation=torch.tensor([[0, 1], [2, 3]]),
        target=torch.tensor([[4, 5, 6], [7, 8, 9]]),
        target_kind=torch.tensor([[0, 2, 2], [1, 1, 0]]),
    )
    assert torch.equal(masks.kind_counts(), torch.tensor([[1, 0, 2], [1, 2, 0]]))
    assert (masks.batch_size, masks.n_observation, masks.n_target) == (2, 2, 3)
    moved = masks.to("cpu")
    assert moved is not masks and torch.equal(moved.target, masks.target)
    with pytest.raises(dataclasses.FrozenInstanceError):
        masks.target = masks.observation


@pytest.mark.parametrize(
    "fields, match",
    [
        (
            {"observation": torch.zeros(2, dtype=torch.long)},
            "observation must be a 2-D",
        ),
        ({"target": torch.zeros(2, 3)}, "dtype torch.long"),
        ({"target": torch.zeros(3, 3, dtype=torch.long)}, "3 rows"),
        ({"target_kind": torch.zeros(2, 2, dtype=torch.long)}, "shape of target"),
        ({"observation_rois": torch.zeros(2, 5)}, "observation_rois"),
        ({"observation_window": torch.zeros(2, 3, dtype=torch.long)}, "window"),
    ],
)
def test_mask_batch_rejects_bad_fields(fields, match):
    values = {
        "observation": torch.zeros(2, 4, dtype=torch.long),
        "target": torch.zeros(2, 3, dtype=torch.long),
        "target_kind": torch.zeros(2, 3, dtype=torch.long),
    }
    values.update(fields)
    with pytest.raises(ValueError, match=match):
        MaskBatch(**values)


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, match",
    [
        ({"observation_roi_scale": (0.0, 0.5)}, "observation_roi_scale"),
        ({"observation_roi_scale": (0.6, 0.5)}, "low <= high"),
        ({"observation_time_scale": (0.5, 1.2)}, "observation_time_scale"),
        ({"observation_time_scale": (0.5,)}, "pair"),
        ({"observation_time_scale": "ab"}, "pair"),
        ({"cross_roi_scale": (0.2, 0.4)}, "cross_roi_scale"),
        ({"cross_time_scale": ((0.2, 0.4), (0.0, 0.4))}, r"cross_time_scale\[1\]"),
        ({"n_blocks": 0}, "n_blocks must be >= 1"),
        ({"n_blocks": 1.5}, "n_blocks must be an int"),
    ],
)
def test_spatiotemporal_rejects_bad_options(options, match):
    with pytest.raises(ValueError, match=match):
        SpatiotemporalMasker(8, 4, **options)


@pytest.mark.parametrize(
    "kind, grid, match",
    [
        ("spatiotemporal", (1, 10), "n_rois=1 x n_time_patches=10 is too small"),
        ("spatiotemporal", (10, 1), "n_rois=10 x n_time_patches=1 is too small"),
        ("official", (10, 2), "n_rois=10 x n_time_patches=2 is too small"),
        ("official", (2, 10), "n_rois=2 x n_time_patches=10 is too small"),
        ("random", (0, 4), "n_rois must be >= 1"),
    ],
)
def test_grid_too_small(kind, grid, match):
    with pytest.raises(ValueError, match=match):
        make_masker(kind, *grid)


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


@pytest.mark.parametrize(
    "options, match",
    [
        ({"observation_ratio": 0.0}, "observation_ratio"),
        ({"target_ratio": 1.0}, "target_ratio"),
        ({"observation_ratio": 0.7, "target_ratio": 0.5}, "only 32"),
    ],
)
def test_random_masker_rejects_bad_ratios(options, match):
    with pytest.raises(ValueError, match=match):
        RandomTokenMasker(8, 4, **options)


@pytest.mark.parametrize("kind", KINDS)
def test_call_validates_arguments(kind):
    masker = make_masker(kind, 8, 4)
    with pytest.raises(TypeError, match="torch.Generator"):
        masker(2, 0)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        masker(0, torch.Generator())


@pytest.mark.parametrize("kind", KINDS)
def test_repr_names_class_and_grid(kind):
    text = repr(make_masker(kind, 8, 4))
    assert text.endswith(")") and "n_rois=8, n_time_patches=4" in text


def test_make_masker_unknown_kind():
    with pytest.raises(ValueError, match="kind must be one of"):
        make_masker("block", 8, 4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("kind", KINDS)
def test_masks_follow_generator_device(kind):
    masker = make_masker(kind, 450, 10)
    masks = masker(4, torch.Generator(device="cuda").manual_seed(0))
    assert masks.observation.is_cuda and masks.target.is_cuda
    assert bool((masks.kind_counts() > 0).all()) or kind != "spatiotemporal"
