"""Mask batches, gathering tokens, dropping random tokens."""

import dataclasses

import pytest
import torch

from sk_brainjepa.masking import MaskBatch, apply_masks, make_masker
from sk_brainjepa.masking._masks import _random_keep

from ._helpers import KINDS, _sample


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
