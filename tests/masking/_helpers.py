"""Helpers shared by the masking tests."""

import math

import torch

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
