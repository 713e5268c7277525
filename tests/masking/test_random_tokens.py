"""The random-token masker."""

import pytest

from sk_brainjepa.masking import RandomTokenMasker

from ._helpers import _rows_disjoint, _sample


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
