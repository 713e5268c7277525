"""Fixtures shared by the estimators tests (a module may define its own)."""

import warnings

import pytest

from sk_brainjepa import BrainJEPAPretrainer, make_brain_dynamics
from sk_brainjepa.estimators import RepresentationCollapseWarning

from ._helpers import N_ROIS, WINDOW


@pytest.fixture(scope="module")
def data():
    X, pheno = make_brain_dynamics(
        n_subjects=8, n_rois=N_ROIS, n_timepoints=64, random_state=0
    )
    return X, pheno


@pytest.fixture(scope="module")
def pretrained(data):
    """Two optimiser steps: enough for the EMA target to trail the online encoder."""
    model = BrainJEPAPretrainer(
        "tiny",
        window_length=WINDOW,
        max_epochs=1,
        batch_size=4,
        random_state=0,
        verbose=0,
    )
    with warnings.catch_warnings():
        # One epoch on 8 subjects collapses; the tests compare, not evaluate.
        warnings.simplefilter("ignore", RepresentationCollapseWarning)
        return model.fit(data[0])
