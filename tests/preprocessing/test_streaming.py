"""Scaling each subject or window as it is read; the group FC.

The scalers' ``to_window_transform()`` applied by ``ScaledSource`` (the one
transform-while-reading path), the former public names of those transforms
(deprecated aliases) and the pretrained-folder records they give.
"""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError

import sk_brainjepa.preprocessing as preprocessing
from sk_brainjepa import (
    FunctionalConnectivity,
    GradientPositioner,
    ROIRobustScaler,
    SampleZScore,
    SubjectRobustScaler,
)
from sk_brainjepa.estimators._preprocessing_record import (
    rebuild_preprocessing,
    record_preprocessing,
)
from sk_brainjepa.preprocessing import fisher_z_mean, group_fc
from sk_brainjepa.sources import ScaledSource, as_source
from sk_brainjepa.training import WindowDataset


def _reads(source):
    """Record the (index, start, length) of every read of ``source``."""
    reads, window = [], source.window

    def spy(index, start, length):
        reads.append((int(index), int(start), int(length)))
        return window(index, start, length)

    source.window = spy
    return reads


# --------------------------------------------------------------- transforms
@pytest.mark.parametrize("center_subjects", [False, True])
def test_roi_window_transform_equals_roirobustscaler(rng, center_subjects):
    X = (rng.standard_normal((4, 5, 60)) * 3 + 7).astype(np.float32)
    scaler = ROIRobustScaler(center_subjects=center_subjects).fit(X)
    transform = pickle.loads(pickle.dumps(scaler.to_window_transform()))
    assert transform.needs_full_run is center_subjects
    scaled = ScaledSource(X, transform)
    expected = scaler.transform(X)
    for i, start in [(0, 0), (3, 17), (2, 40)]:
        assert_array_equal(
            scaled.window(i, start, 20), expected[i, :, start : start + 20]
        )
    if not center_subjects:  # per-ROI affine: a whole batch at once
        assert_array_equal(transform(X[:, :, 5:25]), expected[:, :, 5:25])
    with pytest.raises(ValueError, match="ROIs the scaler was fitted on"):
        transform(X[0, :4])
    with pytest.raises(NotFittedError):
        ROIRobustScaler().to_window_transform()


def test_subject_window_transform(rng):
    X = (rng.standard_normal((3, 4, 50)) * 5 - 2).astype(np.float32)
    per_subject = SubjectRobustScaler().to_window_transform()
    for x in X:
        assert_array_equal(per_subject(x), ROIRobustScaler().fit_transform(x[None])[0])
    # over="run": the run is scaled, then the window is cut from it.
    scaled = ScaledSource(X, per_subject)
    assert_array_equal(scaled.window(1, 30, 16), per_subject(X[1])[:, 30:46])
    # over="window": the window's own statistics.
    on_window = SubjectRobustScaler().to_window_transform(over="window")
    assert not on_window.needs_full_run
    assert_array_equal(
        ScaledSource(X, on_window).window(1, 30, 16), per_subject(X[1, :, 30:46])
    )
    # The scaler's parameters reach its window transform.
    narrow = SubjectRobustScaler((10.0, 90.0), min_scale=1e-3).to_window_transform()
    assert narrow.quantile_range == (10.0, 90.0) and narrow.min_scale == 1e-3
    assert_array_equal(
        narrow(X[0]), SubjectRobustScaler((10.0, 90.0)).fit_transform(X)[0]
    )
    X[2, 3] = 1.0
    with pytest.raises(ValueError, match=r"X\[2\].*ROI index 3"):
        scaled.window(2, 0, 16)


@pytest.mark.parametrize("over, whole_run", [("run", True), ("window", False)])
def test_scaled_source_reads_the_run_only_when_needed(rng, over, whole_run):
    X = rng.standard_normal((2, 3, 40)).astype(np.float32)
    source = as_source(X)
    reads = _reads(source)
    transform = SampleZScore().to_window_transform(over=over)
    assert transform.needs_full_run is whole_run
    ScaledSource(source, transform).window(1, 12, 10)
    assert reads == [(1, 0, 40)] if whole_run else [(1, 12, 10)]


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
    transform = pickle.loads(pickle.dumps(SampleZScore().to_window_transform()))
    assert transform.needs_full_run
    scaled = ScaledSource(cohort, transform)
    for i, start, length in [(0, 0, 90), (2, 13, 40), (4, 50, 40)]:
        window = scaled.window(i, start, length)
        assert_allclose(window, full[i, :, start : start + length], rtol=1e-6)
    # So a window is not itself at mean 0 / std 1.
    assert abs(scaled.window(2, 13, 40).mean()) > 1e-3
    # The training path reads the scaled source's windows: needs_full_run holds.
    dataset = WindowDataset(scaled, 40)
    assert_allclose(dataset[2, 13].numpy(), full[2, :, 13:53], rtol=1e-6)


def test_streaming_over_window_equals_transformer_on_the_window(cohort):
    transform = SampleZScore().to_window_transform(over="window")
    assert not transform.needs_full_run
    scaled = ScaledSource(cohort, transform)
    for i, start, length in [(1, 0, 30), (3, 47, 40)]:
        crop = cohort[:, :, start : start + length]
        expected = SampleZScore().fit_transform(crop)[i]
        assert_array_equal(scaled.window(i, start, length), expected)
        assert abs(float(expected.mean())) < 1e-5
    # The training path scales each window by itself too.
    assert_array_equal(
        WindowDataset(scaled, 40)[3, 47].numpy(),
        SampleZScore().fit_transform(cohort[:, :, 47:87])[3],
    )


def test_streaming_batch_and_ragged_runs(cohort):
    transform = SampleZScore().to_window_transform()
    assert_array_equal(transform(cohort), SampleZScore().fit_transform(cohort))
    runs = [cohort[0, :, :70], cohort[1]]
    scaled = ScaledSource(runs, transform)
    assert_array_equal(
        scaled.window(0, 10, 50), SampleZScore().fit_transform(runs)[0][:, 10:60]
    )


def test_window_dataset_has_no_transform_of_its_own(cohort):
    # ScaledSource is the one transform-while-reading path.
    with pytest.raises(TypeError):
        WindowDataset(as_source(cohort), 40, SampleZScore().to_window_transform())
    assert_array_equal(
        WindowDataset(as_source(cohort), 40)[1, 5].numpy(), cohort[1, :, 5:45]
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
        SampleZScore(**params).to_window_transform()


def test_streaming_bad_over_and_too_few_values():
    with pytest.raises(ValueError, match="over must be 'run' or 'window'; got 'all'"):
        SampleZScore().to_window_transform(over="all")
    with pytest.raises(ValueError, match="over must be 'run' or 'window'; got 'all'"):
        SubjectRobustScaler().to_window_transform(over="all")
    with pytest.raises(ValueError, match=r"1 value\(s\) per sample.*ddof=1"):
        SampleZScore().to_window_transform()(np.ones((1, 1)))


def test_window_transforms_are_named_by_their_public_spelling(rng):
    scaler = ROIRobustScaler().fit(rng.standard_normal((2, 3, 10)))
    assert repr(scaler.to_window_transform()) == (
        "<ROIRobustScaler(center_subjects=False).to_window_transform(), n_rois=3>"
    )
    assert repr(SubjectRobustScaler().to_window_transform(over="window")) == (
        "SubjectRobustScaler(quantile_range=(25.0, 75.0))"
        ".to_window_transform(over='window')"
    )
    with pytest.raises(ValueError, match=r"^SampleZScore\(ddof=1\)\.to_window"):
        SampleZScore().to_window_transform()(np.ones(3))


# ------------------------------------------------------- deprecated names
# Former public name -> what replaces it, as the FutureWarning spells it.
DEPRECATED = {
    "SubjectRobustScaling": r"SubjectRobustScaler\(\.\.\.\)\.to_window_transform",
    "SampleZScoring": r"SampleZScore\(\.\.\.\)\.to_window_transform",
    "ROIScalerTransform": r"the fitted ROIRobustScaler's to_window_transform\(\)",
}


@pytest.mark.parametrize("name", sorted(DEPRECATED))
def test_former_names_warn_naming_the_replacement(name):
    match = rf"preprocessing\.{name} is deprecated.*; use {DEPRECATED[name]}"
    with pytest.warns(FutureWarning, match=match):
        cls = getattr(preprocessing, name)
    with pytest.warns(FutureWarning, match=match):
        exec(f"from sk_brainjepa.preprocessing import {name}", {})
    assert name not in preprocessing.__all__
    assert cls.__name__ == name  # checkpoints record the scaling by this name


@pytest.mark.parametrize("name", sorted(DEPRECATED))
def test_pickles_of_the_former_classes_still_load(name):
    # What a pickle of the class held before the move: its former module.
    payload = f"csk_brainjepa.preprocessing._streaming\n{name}\np0\n.".encode()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the implementation class is not deprecated
        cls = pickle.loads(payload)
    assert cls is type(_window_transforms()[name])


def _window_transforms():
    scaler = ROIRobustScaler().fit(np.random.default_rng(0).normal(size=(2, 3, 10)))
    return {
        "ROIScalerTransform": scaler.to_window_transform(),
        "SampleZScoring": SampleZScore().to_window_transform(),
        "SubjectRobustScaling": SubjectRobustScaler().to_window_transform(),
    }


def _old(name):
    with pytest.warns(FutureWarning):
        return getattr(preprocessing, name)


def test_former_names_still_work_and_give_the_same_numbers(rng, cohort):
    X = (rng.standard_normal((4, 5, 60)) * 3 + 7).astype(np.float32)
    scaler = ROIRobustScaler(center_subjects=True).fit(X)
    pairs = [
        (X, _old("ROIScalerTransform")(scaler), scaler.to_window_transform()),
        (
            X,
            _old("SubjectRobustScaling")(),
            SubjectRobustScaler().to_window_transform(),
        ),
        (
            X,
            _old("SubjectRobustScaling")((10.0, 90.0), over="window"),
            SubjectRobustScaler((10.0, 90.0)).to_window_transform(over="window"),
        ),
        (cohort, _old("SampleZScoring")(), SampleZScore().to_window_transform()),
        (
            cohort,
            _old("SampleZScoring")(ddof=0, over="window"),
            SampleZScore(ddof=0).to_window_transform(over="window"),
        ),
    ]
    for data, old, new in pairs:
        assert type(old) is type(new)
        # Same attributes: a training checkpoint names its data's scaling from
        # the class name and these, so old runs resume with the new spelling.
        for key, value in vars(old).items():
            assert_array_equal(getattr(new, key), value)
        old_scaled, new_scaled = ScaledSource(data, old), ScaledSource(data, new)
        for i, start, length in [(0, 0, 20), (2, 13, 30), (3, 40, 20)]:
            assert_array_equal(
                new_scaled.window(i, start, length), old_scaled.window(i, start, length)
            )
        assert_array_equal(new(data[1]), old(data[1]))


# ------------------------------------------------- pretrained-folder records
def _old_records():
    """Records as save_pretrained wrote them for the former public classes.

    Written out literally (``config.json``'s ``preprocessing``), so that a
    change of the format shows here.
    """
    subject = {
        "pipeline": False,
        "steps": [
            {
                "name": "subject_robust_scaling",
                "class": "SubjectRobustScaler",
                "params": {
                    "layout": "rois_x_time",
                    "min_scale": 1e-12,
                    "quantile_range": [25.0, 75.0],
                },
            }
        ],
    }
    zscore = {
        "pipeline": False,
        "steps": [
            {
                "name": "sample_z_scoring",
                "class": "SampleZScore",
                "params": {"ddof": 1, "layout": "rois_x_time", "min_std": 1e-12},
            }
        ],
    }
    roi = {
        "pipeline": False,
        "steps": [
            {
                "name": "roi_scaler_transform",
                "class": "ROIRobustScaler",
                "params": {
                    "center_subjects": True,
                    "layout": "rois_x_time",
                    "min_scale": 1e-12,
                    "quantile_range": [25.0, 75.0],
                    "statistics": "pooled",
                },
            }
        ],
    }
    return subject, zscore, roi


def test_old_records_load_and_equal_the_new_spelling(rng, cohort):
    X = (rng.standard_normal((4, 6, 60)) * 3 + 7).astype(np.float32)
    scaler = ROIRobustScaler(center_subjects=True).fit(X)
    # The fitted arrays as the former ROIScalerTransform stored them.
    old_arrays = {
        "roi_scaler_transform.center_": scaler.center_.astype(np.float32).astype(float),
        "roi_scaler_transform.scale_": scaler.scale_.astype(np.float32).astype(float),
    }
    subject, zscore, roi = _old_records()
    cases = [
        (subject, {}, SubjectRobustScaler().to_window_transform(), X),
        (zscore, {}, SampleZScore().to_window_transform(), cohort),
        (roi, old_arrays, scaler.to_window_transform(), X),
    ]
    for record, arrays, transform, data in cases:
        # A folder written before this change still loads ...
        rebuilt = rebuild_preprocessing(record, arrays, n_rois=6, where="old folder")
        # ... and scales as the window transform it recorded does.
        assert_array_equal(rebuilt.transform(data), transform(data))
        # The new spelling writes the very same record.
        new_record, new_arrays = record_preprocessing(transform, n_rois=6)
        assert new_record == record
        assert new_arrays.keys() == arrays.keys()
        for key, value in arrays.items():
            assert_array_equal(new_arrays[key], value)
    with pytest.raises(ValueError, match="only over='run' can be recorded"):
        record_preprocessing(
            SampleZScore().to_window_transform(over="window"), n_rois=6
        )
