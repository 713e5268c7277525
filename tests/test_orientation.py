"""Issue #21: a cohort in the other orientation is seen where it enters.

Nothing in the values tells ROIs from frames reliably
(``benchmarks/orientation_guard.py``), so the package never guesses: it logs
how the data was read, raises with the reading and ``layout`` named at the
first shape error, and names transposed data wherever a ROI count is known.
"""

import logging

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from sk_brainjepa import BrainJEPAPretrainer
from sk_brainjepa.preprocessing import FunctionalConnectivity, SubjectRobustScaler

READER = "sk_brainjepa._utils._reading"
FAST = dict(max_epochs=0, batch_size=4, random_state=0)


def _nilearn_like(rng, n_subjects=4, n_frames=40, n_rois=36):
    """Subjects as nilearn maskers return them: (n_timepoints, n_rois)."""
    return [
        rng.standard_normal((n_frames, n_rois)).astype(np.float32)
        for _ in range(n_subjects)
    ]


def test_connectivity_of_transposed_subjects_logs_how_they_were_read(rng, caplog):
    # 40 frames x 36 ROIs read as 40 ROIs x 36 frames: FC is computed without
    # error (nothing can tell), and the log line is what shows the reading.
    X = _nilearn_like(rng)
    with caplog.at_level(logging.INFO, logger=READER):
        fc = FunctionalConnectivity().fit_transform(X)
    assert fc.shape == (4, 40, 40)
    assert "read 4 subjects as (n_rois=40, n_timepoints=36)" in caplog.text


def test_pretrainer_logs_the_reading_with_its_layout(rng, caplog):
    X = _nilearn_like(rng)
    with caplog.at_level(logging.INFO, logger=READER):
        model = BrainJEPAPretrainer(window_length=32, **FAST).fit(X)
    assert model.n_rois_ == 40  # the frames, silently: hence the log
    assert (
        "read 4 subjects as (n_rois=40, n_timepoints=36) with layout='rois_x_time'"
        in caplog.text
    )
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=READER):
        model = BrainJEPAPretrainer(window_length=32, layout="time_x_rois", **FAST)
        model.fit(_nilearn_like(rng, n_frames=48))
    assert model.n_rois_ == 36
    assert "(n_rois=36, n_timepoints=48) with layout='time_x_rois'" in caplog.text


def test_too_few_frames_says_how_the_subjects_were_read(rng):
    X = [rng.standard_normal((200, 150)).astype(np.float32) for _ in range(3)]
    with pytest.raises(
        ValueError,
        match=r"X\[0\] has 150 time points, fewer than the model window "
        r"n_timepoints=160 \(3 subjects are\); subjects were read as "
        r"\(n_rois=200, n_timepoints=150\) with layout='rois_x_time'\. If each "
        r"subject is \(n_timepoints, n_rois\).*pass layout='time_x_rois'",
    ):
        BrainJEPAPretrainer(window_length=160, **FAST).fit(X)


def test_scaler_in_time_x_rois_ahead_of_a_pretrainer_without_layout(rng):
    # The scaler returns the layout it was given; the pretrainer reads its
    # output as (n_rois, n_timepoints), so 100 frames x 30 ROIs become 30 frames.
    X = _nilearn_like(rng, n_frames=100, n_rois=30)
    pipe = Pipeline(
        [
            ("scale", SubjectRobustScaler(layout="time_x_rois")),
            ("jepa", BrainJEPAPretrainer(window_length=64, **FAST)),
        ]
    )
    with pytest.raises(
        ValueError,
        match=r"X\[0\] has 30 time points.*read as \(n_rois=100, "
        r"n_timepoints=30\) with layout='rois_x_time'.*layout='time_x_rois'",
    ):
        pipe.fit(X)
    pipe.set_params(jepa__layout="time_x_rois").fit(X)
    assert pipe.named_steps["jepa"].n_rois_ == 30


@pytest.mark.parametrize(
    "make, what",
    [
        (lambda X: (x for x in X), "a generator"),
        (lambda X: iter(X), "an iterator"),
        (lambda X: map(np.asarray, X), "an iterator"),
    ],
)
def test_iterators_are_refused_naming_what_is_accepted(rng, make, what):
    X = [rng.standard_normal((6, 40)).astype(np.float32) for _ in range(4)]
    expected = (
        rf"X is {what} \(\w+\), which is not accepted; pass a 3-D array "
        r"\(n_subjects, n_rois, n_timepoints\), a list of 2-D arrays, a folder "
        r"or a list of files, or a TimeSeriesSource"
    )
    with pytest.raises(TypeError, match=expected):
        BrainJEPAPretrainer(window_length=32, **FAST).fit(make(X))
    with pytest.raises(TypeError, match=expected):
        FunctionalConnectivity().fit_transform(make(X))


def test_a_known_roi_count_names_transposed_data_and_how_it_was_read(rng):
    X = [rng.standard_normal((36, 40)).astype(np.float32) for _ in range(4)]
    fc = FunctionalConnectivity().fit(X)
    transposed = [x.T for x in X]
    with pytest.raises(
        ValueError,
        match=r"X has 40 ROIs and 36 time points, but FunctionalConnectivity "
        r"expects 36 ROIs: X looks transposed \(X was read as \(n_rois=40, "
        r"n_timepoints=36\) per subject\)\. Check layout",
    ):
        fc.transform(transposed)
    gradients = rng.standard_normal((36, 3))
    with pytest.raises(ValueError, match=r"looks transposed.*layout='time_x_rois'"):
        BrainJEPAPretrainer(window_length=32, gradients=gradients, **FAST).fit(
            _nilearn_like(rng)
        )


def test_gradients_of_another_roi_count_name_the_layout_the_data_was_read_with():
    rng = np.random.default_rng(0)
    X = [rng.standard_normal((64, 8)).astype(np.float32) for _ in range(4)]
    with pytest.raises(ValueError, match="with layout='time_x_rois'"):
        BrainJEPAPretrainer(
            window_length=16,
            max_epochs=0,
            gradients=rng.standard_normal((10, 3)),
            layout="time_x_rois",
        ).fit(X)
