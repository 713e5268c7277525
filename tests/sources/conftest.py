"""Fixtures shared by the sources tests."""

import numpy as np
import pytest


@pytest.fixture
def cohort(rng):
    return rng.standard_normal((6, 5, 48)).astype(np.float32)
