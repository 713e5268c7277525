"""Invariants of every masker: indices, seeding, argument checks."""

import pytest
import torch

from sk_brainjepa.masking import check_masker_options, make_masker

from ._helpers import KINDS, SEEDS, _grids_for, _rows_unique, _sample


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


@pytest.mark.parametrize(
    "kind, grid, match",
    [
        ("spatiotemporal", (1, 10), "n_rois=1 x n_time_patches=10 is too small"),
        ("spatiotemporal", (10, 1), "n_rois=10 x n_time_patches=1 is too small"),
        ("official", (10, 2), "n_rois=10 x n_time_patches=2 is too small"),
        ("official", (2, 10), "n_rois=2 x n_time_patches=10 is too small"),
        ("random", (0, 4), "n_rois must be a positive integer"),
    ],
)
def test_grid_too_small(kind, grid, match):
    with pytest.raises(ValueError, match=match):
        make_masker(kind, *grid)


@pytest.mark.parametrize("kind", KINDS)
def test_call_validates_arguments(kind):
    masker = make_masker(kind, 8, 4)
    with pytest.raises(TypeError, match="torch.Generator"):
        masker(2, 0)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        masker(0, torch.Generator())


@pytest.mark.parametrize("kind", KINDS)
def test_repr_names_class_and_grid(kind):
    text = repr(make_masker(kind, 8, 4))
    assert text.endswith(")") and "n_rois=8, n_time_patches=4" in text


def test_make_masker_unknown_kind():
    with pytest.raises(ValueError, match="kind must be one of"):
        make_masker("block", 8, 4)


@pytest.mark.parametrize("kind", ["official", "random"])
def test_forecast_is_refused_by_the_maskers_without_it(kind):
    match = (
        r"Unknown option\(s\) \['forecast'\] for \w+ \(masking='" + kind + r"'\): "
        r"'forecast' is an option of masking='spatiotemporal' only; allowed:"
    )
    with pytest.raises(ValueError, match=match):
        make_masker(kind, 8, 4, forecast=True)
    with pytest.raises(ValueError, match="kind must be one of"):
        check_masker_options("block", {})
    check_masker_options("spatiotemporal", {"forecast": True})  # accepted
    assert make_masker("spatiotemporal", 8, 4, forecast=True).forecast is True


@pytest.mark.parametrize(
    "device",
    [
        "cpu",
        pytest.param(
            "cuda",
            marks=pytest.mark.skipif(
                not torch.cuda.is_available(), reason="needs CUDA"
            ),
        ),
    ],
)
@pytest.mark.parametrize("kind", KINDS)
def test_masks_follow_generator_device(kind, device):
    masker = make_masker(kind, 450, 10)
    masks = masker(4, torch.Generator(device=device).manual_seed(0))
    for name in ("observation", "target", "target_kind"):
        assert getattr(masks, name).device.type == device
    counts = masks.kind_counts()
    assert counts.device.type == device
    assert bool((counts.sum(dim=1) == masks.n_target).all())
    if kind == "spatiotemporal":  # every sample gets all three target kinds
        assert bool((counts > 0).all())
    else:  # the official and random maskers have one kind of target
        assert bool((counts[:, 0] == masks.n_target).all())
