"""Shared fixtures: a seeded numpy generator."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A fresh, seeded numpy Generator for each test."""
    return np.random.default_rng(0)
