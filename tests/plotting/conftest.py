"""Fixtures shared by the plotting tests."""

import pytest


@pytest.fixture(autouse=True)
def close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
