"""check_target_values: targets nothing can be learned from are refused by name."""

import numpy as np
import pytest

from sk_brainjepa._utils._targets import check_target_values


@pytest.mark.parametrize("task", ["classification", "regression", "auto"])
def test_an_empty_target_is_refused_by_name(task):
    with pytest.raises(ValueError, match="y is empty"):
        check_target_values(np.array([]), task)


def test_a_valid_target_passes_unchanged():
    y = np.array([0, 1, 0, 1])
    np.testing.assert_array_equal(check_target_values(y, "classification"), y)
