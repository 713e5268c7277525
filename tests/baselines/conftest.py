"""Fixtures shared by the tests of the baseline torch modules."""

import pytest
import torch


@pytest.fixture
def single_thread():
    """Run on one intra-op thread, restoring the setting afterwards.

    On a 2-core machine shared with other processes, two spinning OpenMP threads
    made these tiny models 10-50x slower; one thread is fast and steady.
    """
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)
