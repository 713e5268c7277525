"""Scaling each subject or window as it is read; the group FC."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sk_brainjepa import (
    FunctionalConnectivity,
    GradientPositioner,
    ROIRobustScaler,
    SampleZScore,
)
from sk_brainjepa.preprocessing import (
    ROIScalerTransform,
    SampleZScoring,
    SubjectRobustScaling,
    fisher_z_mean,
    group_fc,
)
from sk_brainjepa.sources import ScaledSource, as_source
from sk_brainjepa.training import WindowDataset


# --------------------------------------------------------------- transforms
@pytest.mark.parametrize("center_subjects", [False, True])
def test_scaler_transform_equals_roirobustscaler(rng, center_subjects):
    X = (rng.standard_normal((4, 5, 60)) * 3 + 7).astype(np.float32)
    scaler = ROIRobustScaler(center_subjects=center_subjects).fit(X)
    transform = pickle.loads(pickle.dumps(ROIScalerTransform(scaler)))
    dataset = WindowDataset(as_source(X), 20, transform)
    expected = scaler.transform(X)
    for i, start in [(0, 0), (3, 17), (2, 40)]:
        assert_array_equal(
            dataset[i, start].numpy(), expected[i, :, start : start + 20]
        )
    if not center_subjects:  # per-ROI affine: a whole batch at once
        assert_array_equal(transform(X[:, :, 5:25]), expected[:, :, 5:25])
    with pytest.raises(ValueError, match="ROIs the scaler was fitted on"):
        transform(X[0, :4])
    with pytest.raises(ValueError, match="fitted ROIRobustScaler"):
        ROIScalerTransform(ROIRobustScaler())


def test_subject_robust_scaling(rng):
    X = (rng.standard_normal((3, 4, 50)) * 5 - 2).astype(np.float32)
    per_subject = SubjectRobustScaling()
    for x in X:
        assert_array_equal(per_subject(x), ROIRobustScaler().fit_transform(x[None])[0])
    dataset = WindowDataset(as_source(X), 16, per_subject)
    assert_array_equal(dataset[1, 30].numpy(), per_subject(X[1])[:, 30:46])
    on_window = WindowDataset(as_source(X), 16, SubjectRobustScaling(over="window"))
    assert_array_equal(on_window[1, 30].numpy(), per_subject(X[1, :, 30:46]))
    X[2, 3] = 1.0
    with pytest.raises(ValueError, match=r"X\[2\].*ROI index 3"):
        dataset[2, 0]


def test_group_fc_equals_the_stacked_average(rng):
    X = rng.standard_normal((5, 6, 40)).astype(np.float32)
    fc = FunctionalConnectivity().fit_transform(X)
    assert_array_equal(group_fc(X), fisher_z_mean(fc))
    assert_allclose(group_fc(X, average="mean"), fc.mean(axis=0), rtol=1e-6)
    assert_array_equal(group_fc(X[:1]), fc[0])
    positioner = GradientPositioner(n_components=3, sparsity=0.5)
    assert_array_equal(
        positioner.fit(group_fc(X)).gradients_, positioner.fit(fc).gradients_
    )


# --------------------------------------------------- streaming vs in-memory
def test_streaming_over_run_equals_transformer_on_the_run_then_cropped(cohort):
    # Per-run semantics (the official loader: z-score the stored run, then crop).
    full = SampleZScore().fit_transform(cohort)
    transform = pickle.loads(pickle.dumps(SampleZScoring()))
    assert transform.needs_full_run
    scaled = ScaledSource(cohort, transform)
    for i, start, length in [(0, 0, 90), (2, 13, 40), (4, 50, 40)]:
        window = scaled.window(i, start, length)
        assert_allclose(window, full[i, :, start : start + length], rtol=1e-6)
    # So a window is not itself at mean 0 / std 1.
    assert abs(scaled.window(2, 13, 40).mean()) > 1e-3
    # The training path (WindowDataset) honours needs_full_run the same way.
    dataset = WindowDataset(as_source(cohort), 40, transform)
    assert_allclose(dataset[2, 13].numpy(), full[2, :, 13:53], rtol=1e-6)


def test_streaming_over_window_equals_transformer_on_the_window(cohort):
    transform = SampleZScoring(over="window")
    assert not transform.needs_full_run
    scaled = ScaledSource(cohort, transform)
    for i, start, length in [(1, 0, 30), (3, 47, 40)]:
        crop = cohort[:, :, start : start + length]
        expected = SampleZScore().fit_transform(crop)[i]
        assert_array_equal(scaled.window(i, start, length), expected)
        assert abs(float(expected.mean())) < 1e-5


def test_streaming_batch_and_ragged_runs(cohort):
    assert_array_equal(SampleZScoring()(cohort), SampleZScore().fit_transform(cohort))
    runs = [cohort[0, :, :70], cohort[1]]
    scaled = ScaledSource(runs, SampleZScoring())
    assert_array_equal(
        scaled.window(0, 10, 50), SampleZScore().fit_transform(runs)[0][:, 10:60]
    )


@pytest.mark.parametrize(
    "params, match",
    [
        ({"ddof": -1}, "ddof must be an integer >= 0; got -1"),
        ({"ddof": 1.5}, "ddof must be an integer >= 0; got 1.5"),
        ({"ddof": True}, "ddof must be an integer >= 0; got True"),
        ({"min_std": -1.0}, "min_std must be a number >= 0; got -1.0"),
        ({"min_std": "x"}, "min_std must be a number >= 0; got 'x'"),
    ],
)
def test_streaming_bad_params(params, match):
    with pytest.raises(ValueError, match=match):
        SampleZScoring(**params)


def test_streaming_bad_over_and_too_few_values():
    with pytest.raises(ValueError, match="over must be 'run' or 'window'; got 'all'"):
        SampleZScoring(over="all")
    with pytest.raises(ValueError, match=r"1 value\(s\) per sample.*ddof=1"):
        SampleZScoring()(np.ones((1, 1)))
