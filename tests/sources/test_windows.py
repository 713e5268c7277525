"""The one rule for which frames a model sees (sk_brainjepa.sources._windows)."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal

from sk_brainjepa.sources import WINDOWS, crop, cut_windows, window_starts


@pytest.mark.parametrize(
    "length, how, expected",
    [
        (10, "start", [0]),
        (10, "center", [3]),  # 6 spare frames: 3 before, 3 after
        (11, "center", [3]),  # 7 spare frames: the earlier of the two middles
        (4, "center", [0]),
        (13, "average", [0, 4, 8]),  # the last frame fills no window
        (4, "average", [0]),
    ],
)
def test_window_starts(length, how, expected):
    assert list(window_starts(length, 4, how)) == expected


def test_random_start_is_one_scalar_draw():
    starts = [window_starts(50, 16, "random", rng=np.random.default_rng(7))[0]]
    rng = np.random.default_rng(7)
    assert starts == [int(rng.integers(0, 50 - 16 + 1))]


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((10, 4, "middle"), {}, "how must be one of"),
        ((3, 4, "center"), {}, "does not fit in a run of 3"),
        ((10, 0, "start"), {}, "does not fit"),
        ((10, 4, "random"), {}, "needs rng"),
    ],
)
def test_window_starts_rejects(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        window_starts(*args, **kwargs)


def test_crop_is_the_center_window_for_arrays_and_tensors():
    x = np.arange(2 * 3 * 11).reshape(2, 3, 11)
    assert_array_equal(crop(x, 4), x[..., 3:7])
    assert_array_equal(crop(torch.from_numpy(x), 4).numpy(), x[..., 3:7])
    assert_array_equal(crop(x, 4, "start"), x[..., :4])
    with pytest.raises(ValueError, match="cut_windows"):
        crop(x, 4, "average")


def test_cut_windows():
    x = np.arange(2 * 9).reshape(2, 9)
    assert_array_equal(cut_windows(x, 4, "average"), [x[:, :4], x[:, 4:8]])
    assert_array_equal(cut_windows(x, 4, "center"), [x[:, 2:6]])
    assert set(WINDOWS) == {"center", "start", "average"}
