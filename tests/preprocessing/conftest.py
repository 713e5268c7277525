"""Fixtures shared by the preprocessing tests."""

import numpy as np
import pytest


@pytest.fixture
def series(rng):
    """Raw-looking series: large per-ROI offsets, (5 subjects, 4 ROIs, 50 frames)."""
    offsets = rng.uniform(5000, 10000, size=(1, 4, 1))
    return (offsets + rng.normal(scale=50, size=(5, 4, 50))).astype(np.float32)


@pytest.fixture
def cohort(rng):
    """Raw-BOLD-like series: large per-subject ROI offsets, small fluctuations."""
    offsets = rng.normal(8000.0, 400.0, size=(5, 6, 1))
    return (offsets + rng.normal(0.0, 20.0, size=(5, 6, 90))).astype(np.float32)
