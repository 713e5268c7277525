"""The trainer's token order, time splits, parameter groups."""

from __future__ import annotations

import pytest
import torch

from sk_brainjepa.training import parameter_groups, patches_of
from sk_brainjepa.training._trainer import split_in_time


def test_patches_of_follows_the_token_order():
    x = torch.arange(2 * 3 * 8.0).reshape(2, 3, 8)
    patches = patches_of(x, 4)
    assert patches.shape == (2, 6, 4)
    # token roi * W + t = frames t*p .. (t+1)*p - 1 of that ROI
    assert torch.equal(patches[1, 2 * 2 + 1], x[1, 2, 4:8])


def test_split_in_time_cuts_between_patches():
    x = torch.arange(2 * 3 * 80.0).reshape(2, 3, 80)
    first, second = split_in_time(x, 5)  # 5 patches of 16: 2 + 3
    assert first.shape[-1] == 32 and second.shape[-1] == 48
    assert torch.equal(torch.cat([first, second], dim=-1), x)
    with pytest.raises(ValueError, match="at least 2 time patches"):
        split_in_time(x[..., :16], 1)


def test_parameter_groups_decay_matrices_only():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    model[1].weight.requires_grad_(False)
    decay, no_decay = parameter_groups([model], 0.1)
    assert [p.shape for p in decay["params"]] == [torch.Size([3, 4])]
    assert [p.shape for p in no_decay["params"]] == [torch.Size([3]), torch.Size([3])]
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
