"""Helpers shared by the training tests."""

from __future__ import annotations

import torch


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)
