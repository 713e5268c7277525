"""What pretraining says about data too small to check or to position."""

import warnings

import numpy as np
import pytest

from sk_brainjepa import BrainJEPAPretrainer
from sk_brainjepa.estimators import RepresentationCollapseWarning

PARAMS = dict(window_length=32, max_epochs=1, batch_size=2, random_state=0)


def _series(n_subjects, n_rois):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n_subjects, n_rois, 48)).astype(np.float32)


def test_one_subject_says_the_spread_across_samples_needs_two():
    # It warned "spread across samples nan", after numpy's "Mean of empty slice".
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        BrainJEPAPretrainer(**PARAMS).fit(_series(1, 6))
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert not [
        w for w in caught if issubclass(w.category, RepresentationCollapseWarning)
    ]
    messages = [str(w.message) for w in caught]
    assert any("needs at least 2 samples in a training batch" in m for m in messages)
    assert not any("nan" in m for m in messages), messages


def test_two_rois_say_how_many_the_gradients_need():
    # It was "'n_components' parameter of GradientPositioner ... Got 0".
    with pytest.raises(ValueError, match=r"needs at least 3 ROIs; X has 2"):
        BrainJEPAPretrainer(**PARAMS).fit(_series(4, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # 4 subjects, 1 epoch
        BrainJEPAPretrainer(**PARAMS, gradients=np.eye(2)).fit(_series(4, 2))
