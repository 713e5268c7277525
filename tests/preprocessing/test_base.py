"""Shared by every transformer: names, set_output, layouts, checks."""

import numpy as np
import pandas as pd
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import InvalidParameterError

from sk_brainjepa import GradientPositioner
from sk_brainjepa.preprocessing import (
    DynamicFeatures,
    FunctionalConnectivity,
    ROIRobustScaler,
    SampleZScore,
    SubjectRobustScaler,
    TangentConnectivity,
    TemporalResampler,
)

# ------------------------------------------------ feature names and set_output
TIME_SERIES_STEPS = [
    ROIRobustScaler(),
    SubjectRobustScaler(),
    SampleZScore(),
    TemporalResampler(n_timepoints=40),
]
FEATURE_STEPS = [
    FunctionalConnectivity(output="vector"),
    DynamicFeatures(kind="moments"),
]


def _name(est):
    return type(est).__name__


@pytest.mark.parametrize("features", FEATURE_STEPS, ids=_name)
@pytest.mark.parametrize("step", TIME_SERIES_STEPS, ids=_name)
def test_pipeline_feature_names_pass_through_time_series_steps(series, step, features):
    pipe = Pipeline([("step", clone(step)), ("features", clone(features))])
    pipe.fit(series)
    expected = clone(features).fit(series).get_feature_names_out()
    assert_array_equal(pipe.get_feature_names_out(), expected)
    assert len(expected) == pipe.transform(series).shape[1]


@pytest.mark.parametrize("step", TIME_SERIES_STEPS, ids=_name)
def test_time_series_steps_name_their_rois(series, step):
    est = clone(step).fit(series)
    assert list(est.get_feature_names_out()) == ["0", "1", "2", "3"]
    assert list(est.get_feature_names_out(list("abcd"))) == list("abcd")
    with pytest.raises(ValueError, match="input_features should have length"):
        est.get_feature_names_out(["a"])


def test_feature_steps_use_input_roi_names(series):
    fc = FunctionalConnectivity(output="vector").fit(series)
    assert list(fc.get_feature_names_out(list("abcd"))[:2]) == ["fc_a_b", "fc_a_c"]
    dynamics = DynamicFeatures(kind="all", lags=(1,), window=10).fit(series)
    names = dynamics.get_feature_names_out(list("abcd"))
    assert names[0] == "lagasym_1_a_b" and "skew_d" in names and "wfc_ac1_c_d" in names
    with pytest.raises(ValueError, match="input_features should have length"):
        fc.get_feature_names_out(["a", "b"])
    # Through a Pipeline, ROI names given to the first step reach the last.
    pipe = Pipeline([("scale", SubjectRobustScaler()), ("fc", clone(fc))]).fit(series)
    assert pipe.get_feature_names_out(list("abcd"))[0] == "fc_a_b"


def _features_pipeline():
    return Pipeline(
        [
            ("scale", SubjectRobustScaler()),
            ("crop", TemporalResampler(n_timepoints=40)),
            ("fc", FunctionalConnectivity(output="vector")),
        ]
    )


def test_last_step_set_output_pandas_gives_a_frame_of_features(series):
    pipe = _features_pipeline()
    pipe[-1].set_output(transform="pandas")
    frame = clone(pipe).fit_transform(series)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns[:3]) == ["fc_0_1", "fc_0_2", "fc_0_3"]
    assert_array_equal(frame.to_numpy(), _features_pipeline().fit_transform(series))
    # A global pandas output leaves time series as arrays, which no frame holds.
    with sklearn.config_context(transform_output="pandas"):
        scaled = SubjectRobustScaler().fit_transform(series)
        assert isinstance(_features_pipeline().fit_transform(series), pd.DataFrame)
    assert isinstance(scaled, np.ndarray) and scaled.shape == series.shape
    with pytest.raises(ValueError, match="transform must be one of"):
        SubjectRobustScaler().set_output(transform="xarray")


@pytest.mark.parametrize("transform", ["pandas", "polars"])
@pytest.mark.parametrize("step", TIME_SERIES_STEPS, ids=_name)
def test_time_series_steps_refuse_a_table(step, transform):
    # Issue #21: a table was accepted and silently ignored.
    match = (
        rf"{_name(step)} returns 3-D time series .* no {transform} table holds.*"
        rf"pipe\[-1\]\.set_output\(transform='{transform}'\)"
    )
    with pytest.raises(ValueError, match=match):
        clone(step).set_output(transform=transform)
    assert clone(step).set_output(transform="default") is not None
    assert clone(step).set_output() is not None


def test_pipeline_set_output_fails_early_naming_the_3d_step(series):
    # Issue #21: scikit-learn's "set_output is not available" for the FC step.
    pipe = Pipeline(
        [
            ("scale", SubjectRobustScaler()),
            ("fc", FunctionalConnectivity()),
            ("gradients", GradientPositioner(n_components=2, sparsity=0.5)),
        ]
    )
    with pytest.raises(ValueError, match="SubjectRobustScaler returns 3-D"):
        pipe.set_output(transform="pandas")
    with pytest.raises(ValueError, match="SubjectRobustScaler returns 3-D"):
        _features_pipeline().set_output(transform="pandas")
    assert _features_pipeline().set_output(transform="default") is not None


@pytest.mark.parametrize("cls", [FunctionalConnectivity, TangentConnectivity])
def test_connectivity_set_output_follows_output(series, cls):
    if cls is TangentConnectivity:
        pytest.importorskip("nilearn")
    name = cls.__name__
    vectors = cls(output="vector").set_output(transform="pandas").fit_transform(series)
    assert isinstance(vectors, pd.DataFrame) and vectors.shape == (len(series), 6)
    match = rf"{name} returns 3-D matrices .*use output='vector'"
    with pytest.raises(ValueError, match=match):
        cls(output="matrix").set_output(transform="pandas")
    assert isinstance(
        cls(output="matrix").set_output(transform="default").fit_transform(series),
        np.ndarray,
    )
    # output switched to matrices after a table was asked for: refused too.
    est = cls(output="vector").set_output(transform="pandas").fit(series)
    with pytest.raises(ValueError, match=match):
        est.set_params(output="matrix").transform(series)


# ---------------------------------------------------------------------- layout
# (transformer, whether it returns time series)
LAYOUT_CASES = [
    (ROIRobustScaler(), True),
    (ROIRobustScaler(center_subjects=True), True),
    (SubjectRobustScaler(), True),
    (SampleZScore(), True),
    (
        TemporalResampler(
            tr=1.0, target_tr=2.0, n_timepoints=20, crop="random", random_state=0
        ),
        True,
    ),
    (FunctionalConnectivity(kind="partial", output="vector"), False),
    (DynamicFeatures(lags=(1, 2), window=8), False),
]
LAYOUT_IDS = [f"{_name(e)}-{i}" for i, (e, _) in enumerate(LAYOUT_CASES)]


@pytest.mark.parametrize("est, series_out", LAYOUT_CASES, ids=LAYOUT_IDS)
def test_time_x_rois_layout_gives_the_same_result_in_that_layout(
    series, est, series_out
):
    expected = clone(est).fit_transform(series)
    transposed = clone(est).set_params(layout="time_x_rois")
    out = transposed.fit_transform(series.transpose(0, 2, 1))
    assert transposed.n_rois_ == series.shape[1]
    assert out.dtype == expected.dtype
    assert_allclose(
        out, expected.transpose(0, 2, 1) if series_out else expected, rtol=1e-5
    )
    # A ragged list: each subject comes back as (n_timepoints_i, n_rois).
    runs = [series[0], series[1][:, :45]]
    reference = clone(est).fit(series).transform(runs)
    listed = transposed.transform([r.T for r in runs])
    for a, b in zip(listed, reference, strict=True):
        assert_allclose(a, b.T if series_out else b, rtol=1e-5)


def test_robust_scaler_inverse_transform_keeps_layout(series):
    X = series.transpose(0, 2, 1)  # (subjects, frames, ROIs)
    scaler = ROIRobustScaler(layout="time_x_rois").fit(X)
    assert scaler.transform(X).shape == X.shape
    assert_allclose(scaler.inverse_transform(scaler.transform(X)), X, rtol=1e-5)


@pytest.mark.parametrize("est, series_out", LAYOUT_CASES, ids=LAYOUT_IDS)
def test_transposed_input_is_named_at_transform(rng, est, series_out):
    X = rng.normal(size=(3, 6, 30))  # 6 ROIs, 30 frames
    fitted = clone(est).fit(X)
    with pytest.raises(
        ValueError, match=r"X has 30 ROIs and 6 time points.*looks transposed"
    ):
        fitted.transform(X.transpose(0, 2, 1))
    with pytest.raises(ValueError, match=r"X has 5 ROIs, but \w+ expects 6 ROIs"):
        fitted.transform(X[:, :5])


# -------------------------------------------------------- parameter validation


@pytest.mark.parametrize(
    "est",
    [
        ROIRobustScaler(
            quantile_range=np.array([10.0, 90.0]),
            min_scale=np.float32(1e-6),
            center_subjects=np.bool_(True),
        ),
        SubjectRobustScaler(
            quantile_range=(np.float32(25), np.float32(75)), min_scale=np.float32(1e-6)
        ),
        SampleZScore(ddof=np.int64(0), min_std=np.float32(1e-6)),
        TemporalResampler(
            tr=np.float32(1.0), target_tr=np.float32(2.0), n_timepoints=np.int64(20)
        ),
        FunctionalConnectivity(fisher_z=np.bool_(True), output="vector"),
        DynamicFeatures(lags=np.array([1, 2]), window=np.int64(8), step=np.int64(2)),
    ],
    ids=_name,
)
def test_numpy_scalar_parameters_are_accepted(series, est):
    out = np.asarray(clone(est).fit_transform(series))
    assert len(out) == len(series) and np.all(np.isfinite(out))


@pytest.mark.parametrize("est, series_out", LAYOUT_CASES, ids=LAYOUT_IDS)
def test_bad_parameter_is_reported_before_the_data_is_read(est, series_out):
    # Invalid data too: the parameter error must come first.
    bad = clone(est).set_params(layout="rois-x-time")
    with pytest.raises(
        InvalidParameterError, match=f"'layout' parameter of {_name(est)} must be"
    ):
        bad.fit(np.full((2, 3), np.nan))
