"""The spatiotemporal masker: regions, block sizes, options."""

import pytest
import torch

from sk_brainjepa.masking import TARGET_KINDS, SpatiotemporalMasker
from sk_brainjepa.masking._spatiotemporal import (
    _remove_tokens,
    _run_after,
    _run_outside,
)

from ._helpers import (
    GRIDS,
    SEEDS,
    _batch_size,
    _expected_range,
    _rows_disjoint,
    _rows_unique,
    _sample,
)


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
# Forecasting targets (forecast=True)
# --------------------------------------------------------------------------
FORECAST_GRIDS = [(2, 2), (5, 2), (4, 3), (7, 3), (8, 4), (13, 5), (450, 10)]


@pytest.mark.parametrize("options", [{}, CUSTOM], ids=["defaults", "custom"])
@pytest.mark.parametrize("n_blocks", [1, 3])
@pytest.mark.parametrize("grid", FORECAST_GRIDS)
def test_forecast_targets_follow_the_window(grid, n_blocks, options):
    n_rois, n_times = grid
    masker = SpatiotemporalMasker(
        n_rois, n_times, n_blocks=n_blocks, forecast=True, **options
    )
    for seed in range(12):
        masks = _sample(masker, seed)
        start, stop = masks.observation_window.unbind(dim=1)
        assert bool((stop < n_times).all())  # a time patch follows the window
        time, kind = masks.target % n_times, masks.target_kind
        # Cross-time and double-cross only after the last observed time;
        # cross-ROI still inside the window.
        assert bool((time > stop[:, None] - 1)[kind > 0].all())
        assert bool((time >= start[:, None])[kind == 0].all())
        assert bool((time < stop[:, None])[kind == 0].all())
        counts = masks.kind_counts()
        assert bool((counts > 0).all())
        if n_blocks == 1:  # one block per kind: the same counts in every row
            assert bool((counts == counts[0]).all())
        assert _rows_disjoint(masks.observation, masks.target)
        assert _rows_unique(masks.target)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("grid", [(8, 4), (13, 5), (450, 10)])
def test_forecast_blocks_are_runs_of_the_drawn_sizes(grid, seed):
    n_rois, n_times = grid
    masker = SpatiotemporalMasker(n_rois, n_times, forecast=True)
    masks = _sample(masker, seed)
    start, stop = masks.observation_window.unbind(dim=1)
    w_o = int(stop[0] - start[0])
    h_o = int(masks.observation_rois[0].sum())
    scales = (masker.cross_time_scale, masker.double_cross_scale)
    for kind, scale, roi_room in ((1, scales[0], h_o), (2, scales[1], n_rois - h_o)):
        for b in range(masks.batch_size):
            tokens = masks.target[b][masks.target_kind[b] == kind]
            rois = torch.unique(tokens // n_times)
            times = torch.unique(tokens % n_times)
            assert tokens.numel() == rois.numel() * times.numel()
            assert int(times[-1] - times[0]) + 1 == times.numel()  # contiguous
            low, high = _expected_range(n_rois, scale[0], roi_room)
            assert low <= rois.numel() <= high
            low, high = _expected_range(n_times, scale[1], n_times - w_o)
            assert low <= times.numel() <= high


def test_forecast_places_runs_anywhere_after_the_window():
    # W=10, a window of 5: runs of 1 may start right after it or later.
    starts = torch.zeros(400, dtype=torch.long)
    runs = _run_after(starts, 5, 1, 10, torch.Generator().manual_seed(0))
    assert set(runs.flatten().tolist()) == {5, 6, 7, 8, 9}
    # W=8, a window of 4 from 0, 1 or 2: room 4, 3 and exactly 2 for a run of 2.
    runs = _run_after(torch.tensor([0, 1, 2]), 4, 2, 8, torch.Generator())
    assert runs.shape == (3, 2)
    assert bool((runs[:, 0] >= torch.tensor([4, 5, 6])).all())
    assert bool((runs[:, 1] == runs[:, 0] + 1).all() and (runs < 8).all())
    assert runs[2].tolist() == [6, 7]


# Masks drawn by the code before forecasting existed (same seeds): with
# forecast=False the generator is called exactly as it was.
EXPECTED = {
    ((4, 3), 0, 1): (
        [[4, 5], [10, 11]],
        [[1, 3, 9], [2, 3, 9]],
        [[0, 1, 2], [0, 2, 1]],
        [[1, 3], [1, 3]],
    ),
    ((6, 5), 3, 2): (
        [[6, 7, 16, 17], [11, 12, 26, 27]],
        [[2, 9, 19, 25, 27], [8, 13, 21, 24, 29]],
        [[0, 1, 1, 2, 0], [2, 1, 0, 2, 1]],
        [[1, 3], [1, 3]],
    ),
}


@pytest.mark.parametrize("forecast", [None, False])
@pytest.mark.parametrize("case", list(EXPECTED), ids=str)
def test_no_forecast_draws_the_masks_it_always_drew(case, forecast):
    (grid, seed, n_blocks), expected = case, EXPECTED[case]
    options = {} if forecast is None else {"forecast": forecast}
    masks = SpatiotemporalMasker(*grid, n_blocks=n_blocks, **options)(
        2, torch.Generator().manual_seed(seed)
    )
    drawn = (
        masks.observation,
        masks.target,
        masks.target_kind,
        masks.observation_window,
    )
    for tensor, values in zip(drawn, expected, strict=True):
        assert tensor.tolist() == values


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
        ({"n_blocks": 0}, "n_blocks must be a positive integer; got 0"),
        ({"n_blocks": 1.5}, "n_blocks must be a positive integer; got 1.5"),
        ({"forecast": "yes"}, "forecast must be True or False; got 'yes'"),
        ({"forecast": 1}, "forecast must be True or False; got 1"),
    ],
)
def test_spatiotemporal_rejects_bad_options(options, match):
    with pytest.raises(ValueError, match=match):
        SpatiotemporalMasker(8, 4, **options)
