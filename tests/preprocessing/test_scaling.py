"""ROIRobustScaler and SubjectRobustScaler."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from sk_brainjepa import BrainJEPAPretrainer
from sk_brainjepa.preprocessing import (
    FunctionalConnectivity,
    ROIRobustScaler,
    SubjectRobustScaler,
    TemporalResampler,
)
from sk_brainjepa.sources import ScaledSource


# ---------------------------------------------------------------- ROIRobustScaler
def test_robust_scaler_pooled_matches_definition(series):
    scaler = ROIRobustScaler().fit(series)
    pooled = np.concatenate(list(series), axis=1)  # (n_rois, all frames)
    q25, q75 = np.percentile(pooled, [25, 75], axis=1)
    assert_allclose(scaler.center_, np.median(pooled, axis=1), rtol=1e-6)
    assert_allclose(scaler.scale_, q75 - q25, rtol=1e-6)
    out = scaler.transform(series)
    assert out.dtype == np.float32
    # After scaling, each ROI's pooled median is 0 and its IQR is 1.
    pooled_out = np.concatenate(list(out), axis=1)
    assert_allclose(np.median(pooled_out, axis=1), 0, atol=1e-4)
    q25, q75 = np.percentile(pooled_out, [25, 75], axis=1)
    assert_allclose(q75 - q25, 1, rtol=1e-4)


def test_robust_scaler_subject_mean_variant(series):
    scaler = ROIRobustScaler(statistics="subject_mean").fit(series)
    means = series.mean(axis=2, dtype=np.float64)  # (n_subjects, n_rois)
    q25, q75 = np.percentile(means, [25, 75], axis=0)
    assert_allclose(scaler.center_, np.median(means, axis=0), rtol=1e-6)
    assert_allclose(scaler.scale_, q75 - q25, rtol=1e-5)


def test_robust_scaler_keeps_fitted_statistics_for_new_data(series, rng):
    scaler = ROIRobustScaler().fit(series)
    new = series[:2] + 100.0
    expected = (new - scaler.center_[:, None]) / scaler.scale_[:, None]
    assert_allclose(scaler.transform(new), expected, rtol=1e-5)
    assert_allclose(scaler.inverse_transform(scaler.transform(new)), new, rtol=1e-5)


def test_robust_scaler_accepts_ragged_lists(series):
    ragged = [series[0], series[1][:, :30], series[2][:, :41]]
    out = ROIRobustScaler().fit(series).transform(ragged)
    assert isinstance(out, list)
    assert [o.shape for o in out] == [(4, 50), (4, 30), (4, 41)]


def test_robust_scaler_center_subjects_removes_offsets(series, rng):
    shifted = series + rng.uniform(-500, 500, size=(5, 4, 1)).astype(np.float32)
    plain = ROIRobustScaler().fit_transform(shifted)
    centred = ROIRobustScaler(center_subjects=True).fit_transform(shifted)
    # Offsets dominate the plain scaling; centring keeps only the fluctuations,
    # identically whatever the offsets were.
    assert plain.mean(axis=2).std() > 4 * plain.std(axis=2).mean()
    assert_allclose(
        centred,
        ROIRobustScaler(center_subjects=True).fit_transform(series),
        rtol=1e-4,
        atol=1e-4,
    )
    assert np.abs(np.median(np.concatenate(list(centred), axis=1), axis=1)).max() < 0.2
    with pytest.raises(ValueError, match="use statistics='pooled'"):
        ROIRobustScaler("subject_mean", center_subjects=True).fit(series)


def test_robust_scaler_rejects_constant_roi(series):
    series = series.copy()
    series[:, 2, :] = 7.0
    with pytest.raises(ValueError, match=r"zero interquartile range.*ROI index 2"):
        ROIRobustScaler().fit(series)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"statistics": "mean"}, "'statistics' parameter of ROIRobustScaler must be"),
        ({"quantile_range": (80, 20)}, "quantile_range must satisfy"),
        ({"quantile_range": "iqr"}, "'quantile_range' parameter of ROIRobustScaler"),
        ({"quantile_range": ("a", "b")}, "quantile_range must be a pair"),
        ({"min_scale": -1.0}, "'min_scale' parameter of ROIRobustScaler"),
        ({"center_subjects": "yes"}, "'center_subjects' parameter of ROIRobustScaler"),
    ],
)
def test_robust_scaler_bad_params(series, params, match):
    with pytest.raises(ValueError, match=match):
        ROIRobustScaler(**params).fit(series)


# ------------------------------------------------------------ SubjectRobustScaler
def test_subject_robust_scaler_equals_its_window_transform_and_definition(series):
    out = SubjectRobustScaler().fit_transform(series)
    assert out.dtype == np.float32 and out.shape == series.shape
    per_subject = SubjectRobustScaler().to_window_transform()
    for x, o in zip(series, out, strict=True):
        # One formula behind both forms, and the definition: a subject scaled
        # by ROIRobustScaler fitted on that subject alone.
        assert_array_equal(o, per_subject(x))
        assert_array_equal(o, ROIRobustScaler().fit_transform(x[np.newaxis])[0])
    assert_allclose(np.median(out, axis=2), 0.0, atol=1e-5)
    q25, q75 = np.percentile(out, [25, 75], axis=2)
    assert_allclose(q75 - q25, 1.0, rtol=1e-4)


def test_subject_robust_scaler_scales_new_subjects_by_themselves(series):
    # Nothing is learnt from the fitted subjects: test subjects come out the
    # same whatever the scaler was fitted on (no leakage through statistics).
    on_train = SubjectRobustScaler().fit(series[:3]).transform(series[3:])
    on_other = SubjectRobustScaler().fit(series[:1] * 50.0).transform(series[3:])
    assert_array_equal(on_train, on_other)
    lazily = ScaledSource(series, SubjectRobustScaler().to_window_transform())
    assert_array_equal(on_train, np.stack([lazily[3], lazily[4]]))


def test_subject_robust_scaler_chains_in_pipeline(rng):
    offsets = rng.uniform(5000, 10000, size=(12, 4, 1))
    X = (offsets + rng.normal(scale=50, size=(12, 4, 60))).astype(np.float32)
    y = np.arange(12) % 2
    pipe = Pipeline(
        [
            ("scale", SubjectRobustScaler()),
            ("fc", FunctionalConnectivity(output="vector")),
            ("clf", LogisticRegression()),
        ]
    ).fit(X[:8], y[:8])
    features = FunctionalConnectivity(output="vector").fit_transform(
        SubjectRobustScaler().fit_transform(X[:8])
    )
    manual = LogisticRegression().fit(features, y[:8])
    assert_allclose(pipe[-1].coef_, manual.coef_)
    per_subject = SubjectRobustScaler().to_window_transform()
    assert_array_equal(pipe[:1].transform(X[8:]), per_subject(X[8:]))


def test_readme_pipeline_scales_each_subject_then_pretrains(rng):
    # The user guide's Pipeline (docs/user-guide.md: scale, crop, pretrain,
    # classify) at test size.
    offsets = rng.uniform(5000, 10000, size=(8, 4, 1))
    X = (offsets + rng.normal(scale=50, size=(8, 4, 40))).astype(np.float32)
    y = np.arange(8) % 2
    pipe = Pipeline(
        [
            ("scale", SubjectRobustScaler()),
            ("crop", TemporalResampler(n_timepoints=32)),
            (
                "jepa",
                BrainJEPAPretrainer(
                    model_params={"depth": 1, "predictor_depth": 1},
                    patch_size=8,
                    window_length=32,
                    max_epochs=1,
                    batch_size=4,
                    random_state=0,
                ),
            ),
            ("clf", LogisticRegression()),
        ]
    ).fit(X, y)
    assert pipe.predict(X).shape == (8,)
    # The pretrainer saw each subject scaled by itself, not raw offsets.
    assert_allclose(np.median(pipe[:2].transform(X), axis=2), 0.0, atol=0.2)


def test_subject_robust_scaler_keeps_ragged_lists(series):
    ragged = [series[0], series[1][:, :30]]
    out = SubjectRobustScaler().fit(series).transform(ragged)
    assert isinstance(out, list) and [o.shape for o in out] == [(4, 50), (4, 30)]
    per_subject = SubjectRobustScaler().to_window_transform()
    assert_array_equal(out[1], per_subject(series[1][:, :30]))


def test_subject_robust_scaler_names_subject_with_constant_roi(series):
    series = series.copy()
    series[2, 3] = 7.0
    scaler = SubjectRobustScaler().fit(series)
    with pytest.raises(
        ValueError, match=r"^X\[2\]: 1 ROI\(s\) are constant.*ROI index 3\.$"
    ):
        scaler.transform(series)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"quantile_range": (80, 20)}, "quantile_range must satisfy"),
        ({"quantile_range": 50}, "'quantile_range' parameter of SubjectRobustScaler"),
        ({"min_scale": -1.0}, "'min_scale' parameter of SubjectRobustScaler"),
    ],
)
def test_subject_robust_scaler_bad_params(series, params, match):
    with pytest.raises(ValueError, match=match):
        SubjectRobustScaler(**params).fit(series)
