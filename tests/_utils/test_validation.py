"""The shared input checks of ``sk_brainjepa._utils._validation``."""

import numpy as np
import pytest

from sk_brainjepa._utils._validation import check_int


def test_check_int_accepts_numpy_integers_and_returns_int():
    value = check_int(np.int64(3), "n_rois")
    assert value == 3 and type(value) is int
    assert check_int(None, "step", allow_none=True) is None


@pytest.mark.parametrize(
    "value, minimum, allow_none, match",
    [
        (0, 1, False, "n must be a positive integer; got 0"),
        (-1, 0, False, "n must be a non-negative integer; got -1"),
        (2, 3, False, "n must be an integer >= 3; got 2"),
        (True, 1, False, "n must be a positive integer; got True"),
        (1.0, 1, False, "n must be a positive integer; got 1.0"),
        (None, 1, False, "n must be a positive integer; got None"),
        (0, 1, True, "n must be a positive integer or None; got 0"),
    ],
)
def test_check_int_names_the_parameter_and_the_bound(value, minimum, allow_none, match):
    with pytest.raises(ValueError, match=match):
        check_int(value, "n", minimum, allow_none=allow_none)


def test_check_int_owner_prefix():
    with pytest.raises(ValueError, match="^EncoderConfig: depth must be"):
        check_int(-1, "depth", 0, owner="EncoderConfig: ")
