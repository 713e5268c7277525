"""Collapse diagnostics: position share, effective rank, offset ratio."""

from __future__ import annotations

import math

import pytest
import torch

from sk_brainjepa.training import effective_rank, offset_ratio, position_share

from ._helpers import _gen


# ------------------------------------------------------------ diagnostics
def test_position_share_known_values():
    g = _gen()
    same = torch.randn(1, 5, 4, generator=g).expand(8, 5, 4)
    assert position_share(same) == pytest.approx(1.0)
    centred = torch.randn(4000, 5, 4, generator=g)
    assert position_share(centred) < 0.01
    # Equal energy in position and content: a half.
    pos = torch.ones(1, 5, 4)
    mixed = pos + torch.randn(20000, 5, 4, generator=g)
    assert position_share(mixed) == pytest.approx(0.5, abs=0.01)
    assert math.isnan(position_share(torch.ones(1, 5, 4)))


def test_effective_rank_known_values():
    g = _gen()
    assert effective_rank(torch.randn(2000, 6, generator=g)) == pytest.approx(
        6, rel=0.02
    )
    one_direction = torch.randn(50, 1, generator=g) * torch.ones(1, 6)
    assert effective_rank(one_direction) == pytest.approx(1.0, abs=1e-4)
    # A constant offset shared by all samples is not a direction they differ in.
    assert effective_rank(one_direction + 100.0) == pytest.approx(1.0, abs=1e-4)
    assert effective_rank(torch.ones(5, 3)) == 1.0
    assert math.isnan(effective_rank(torch.ones(1, 3)))


def test_offset_ratio_tells_raw_from_scaled_input():
    g = _gen()
    x = torch.randn(4, 6, 100, generator=g)
    assert offset_ratio(x) < 0.3
    assert offset_ratio(x + 50.0) > 10


def test_nan_mean_of_undefined_statistics_is_nan_without_a_warning():
    import warnings

    from sk_brainjepa.training._diagnostics import nan_mean

    assert nan_mean([1.0, float("nan"), 3.0]) == 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's nanmean warned "Mean of empty slice"
        assert math.isnan(nan_mean([float("nan"), float("nan")]))
        assert math.isnan(nan_mean([]))
