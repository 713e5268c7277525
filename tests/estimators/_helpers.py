"""Helpers shared by the estimators tests."""

import numpy as np

# The small cohort of the shared fixtures (tests/estimators/conftest.py).
N_ROIS, WINDOW = 6, 32


def _memmap(path, data):
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=data.dtype, shape=data.shape)
    mm[:] = data
    mm.flush()
    return mm
