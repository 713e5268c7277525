"""Helpers shared by the sources tests."""

import numpy as np


def _memmap(path, data):
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=data.dtype, shape=data.shape)
    mm[:] = data
    mm.flush()
    return mm
