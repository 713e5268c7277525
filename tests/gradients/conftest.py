"""Fixtures shared by the gradients tests."""

import numpy as np
import pytest

from ._helpers import make_fc


@pytest.fixture(scope="module")
def fc():
    return make_fc(0)


@pytest.fixture(scope="module")
def fc_stack():
    return np.stack([make_fc(seed) for seed in range(1, 5)])
