"""Tests for the preprocessing transformers.

ROIRobustScaler, SubjectRobustScaler, TemporalResampler and
FunctionalConnectivity one by one; then what all of them share: feature names
in a Pipeline, ``layout``, and scikit-learn parameter validation.
"""

import numpy as np
import pandas as pd
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import InvalidParameterError

from sk_brainjepa import BrainJEPAPretrainer
from sk_brainjepa.datasets import ScaledSource, SubjectRobustScaling
from sk_brainjepa.preprocessing import (
    DynamicFeatures,
    FunctionalConnectivity,
    ROIRobustScaler,
    SampleZScore,
    SubjectRobustScaler,
    TemporalResampler,
    fisher_z,
    sym_matrix_to_vec,
    vec_to_sym_matrix,
)


@pytest.fixture
def series(rng):
    """Raw-looking series: large per-ROI offsets, (5 subjects, 4 ROIs, 50 frames)."""
    offsets = rng.uniform(5000, 10000, size=(1, 4, 1))
    return (offsets + rng.normal(scale=50, size=(5, 4, 50))).astype(np.float32)


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


# -------------------------------------------------------------- TemporalResampler


def test_resampler_stride_takes_every_kth_frame():
    x = np.arange(30, dtype=np.float64)[None, None, :].repeat(2, axis=1)
    out = TemporalResampler(tr=1.0, target_tr=3.0, n_timepoints=None).fit_transform(x)
    assert_array_equal(out[0, 0], np.arange(0, 30, 3))


def test_resampler_official_ukb_geometry():
    # UKB: 490 frames at TR 0.735 s -> 160 frames, every third frame.
    x = np.arange(490, dtype=np.float32)[None, None, :]
    out = TemporalResampler(tr=0.735, target_tr=3 * 0.735, crop="start").fit_transform(
        x
    )
    assert out.shape == (1, 1, 160)
    assert_array_equal(out[0, 0], np.arange(0, 480, 3))


def test_resampler_interpolate_is_linear():
    x = np.arange(20, dtype=np.float64)[None, None, :] * 2.0
    out = TemporalResampler(
        tr=1.0, target_tr=1.5, method="interpolate", n_timepoints=None
    ).fit_transform(x)
    assert_allclose(out[0, 0], 2.0 * np.arange(0, 19.0 + 1e-9, 1.5))


@pytest.mark.parametrize("crop, first", [("start", 0.0), ("center", 20.0)])
def test_resampler_crop_positions(crop, first):
    x = np.arange(100, dtype=np.float64)[None, None, :]
    out = TemporalResampler(n_timepoints=60, crop=crop).fit_transform(x)
    assert out[0, 0, 0] == first
    assert_array_equal(np.diff(out[0, 0]), 1.0)


def test_resampler_random_crop_is_seeded():
    x = np.tile(np.arange(200, dtype=np.float64), (6, 2, 1))
    a = TemporalResampler(n_timepoints=50, crop="random", random_state=0).fit_transform(
        x
    )
    b = TemporalResampler(n_timepoints=50, crop="random", random_state=0).fit_transform(
        x
    )
    c = TemporalResampler(n_timepoints=50, crop="random", random_state=1).fit_transform(
        x
    )
    assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # Subjects get different windows, each a contiguous run.
    assert len(set(a[:, 0, 0])) > 1
    assert_array_equal(np.diff(a[:, 0], axis=1), 1.0)


@pytest.mark.parametrize("pad, tail", [("constant", 0.0), ("edge", 9.0)])
def test_resampler_pads_short_runs(pad, tail):
    x = np.arange(1, 11, dtype=np.float64)[None, None, :] - 1  # 0..9
    out = TemporalResampler(n_timepoints=15, pad=pad).fit_transform(x)
    assert out.shape == (1, 1, 15)
    assert_array_equal(out[0, 0, 10:], tail)


def test_resampler_pad_error_names_lengths():
    x = np.zeros((1, 2, 10))
    with pytest.raises(ValueError, match="gives 10 frames.*n_timepoints=15"):
        TemporalResampler(n_timepoints=15, pad="error").fit_transform(x)


def test_resampler_ragged_input_becomes_array_when_cropped():
    ragged = [np.zeros((3, 200)), np.ones((3, 170))]
    out = TemporalResampler(n_timepoints=160).fit_transform(ragged)
    assert isinstance(out, np.ndarray) and out.shape == (2, 3, 160)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"tr": -1.0}, "'tr' parameter of TemporalResampler must be"),
        ({"target_tr": 0}, "'target_tr' parameter of TemporalResampler must be"),
        ({"method": "cubic"}, "'method' parameter of TemporalResampler must be"),
        ({"crop": "end"}, "'crop' parameter of TemporalResampler must be"),
        ({"n_timepoints": 0}, "'n_timepoints' parameter of TemporalResampler"),
        ({"n_timepoints": 16.0}, "'n_timepoints' parameter of TemporalResampler"),
    ],
)
def test_resampler_bad_params(params, match):
    with pytest.raises(ValueError, match=match):
        TemporalResampler(**params).fit(np.zeros((1, 2, 10)))


# --------------------------------------------------------- FunctionalConnectivity


def test_fc_pearson_matches_numpy(series):
    fc = FunctionalConnectivity().fit_transform(series)
    assert fc.shape == (5, 4, 4) and fc.dtype == np.float32
    assert_allclose(fc[1], np.corrcoef(series[1].astype(np.float64)), atol=1e-6)
    assert_allclose(fc, np.swapaxes(fc, 1, 2))
    assert_allclose(np.diagonal(fc, axis1=1, axis2=2), 1.0, atol=1e-6)


def test_fc_partial_correlation_recovers_conditional_independence(rng):
    # a -> b -> c chain: a and c correlate, but not given b.
    a = rng.normal(size=4000)
    b = a + rng.normal(size=4000)
    c = b + rng.normal(size=4000)
    x = np.stack([a, b, c])[None]
    full = FunctionalConnectivity().fit_transform(x)[0]
    partial = FunctionalConnectivity(kind="partial").fit_transform(x)[0]
    assert full[0, 2] > 0.4
    assert abs(partial[0, 2]) < 0.05
    assert partial[0, 1] > 0.4


def test_fc_vector_and_fisher_z(series):
    vec = FunctionalConnectivity(output="vector", fisher_z=True).fit_transform(series)
    mat = FunctionalConnectivity().fit_transform(series).astype(np.float64)
    assert vec.shape == (5, 6)
    assert_allclose(vec, fisher_z(sym_matrix_to_vec(mat)), rtol=1e-5)
    names = FunctionalConnectivity(output="vector").fit(series).get_feature_names_out()
    assert list(names[:3]) == ["fc_0_1", "fc_0_2", "fc_0_3"]


def test_fc_fisher_z_matrix_has_zero_diagonal(series):
    fc = FunctionalConnectivity(fisher_z=True).fit_transform(series)
    assert np.all(np.isfinite(fc))
    assert_array_equal(np.diagonal(fc, axis1=1, axis2=2), 0.0)


def test_vec_matrix_round_trip(rng):
    m = rng.normal(size=(3, 6, 6))
    m = (m + np.swapaxes(m, 1, 2)) / 2
    np.einsum("kii->ki", m)[:] = 1.0
    assert_allclose(vec_to_sym_matrix(sym_matrix_to_vec(m)), m)
    with pytest.raises(ValueError, match="not the upper triangle"):
        vec_to_sym_matrix(np.zeros(7))


def test_fc_rejects_constant_roi(series):
    series = series.copy()
    series[3, 1] = 1.0
    with pytest.raises(ValueError, match=r"Subject 3 has 1 constant ROI"):
        FunctionalConnectivity().fit_transform(series)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"kind": "spearman"}, "'kind' parameter of FunctionalConnectivity must"),
        ({"output": "flat"}, "'output' parameter of FunctionalConnectivity must"),
        ({"fisher_z": "yes"}, "'fisher_z' parameter of FunctionalConnectivity must"),
    ],
)
def test_fc_bad_params(series, params, match):
    with pytest.raises(ValueError, match=match):
        FunctionalConnectivity(**params).fit(series)


# ------------------------------------------------------------ SubjectRobustScaler


def test_subject_robust_scaler_equals_streaming_form_and_definition(series):
    out = SubjectRobustScaler().fit_transform(series)
    assert out.dtype == np.float32 and out.shape == series.shape
    per_subject = SubjectRobustScaling()
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
    lazily = ScaledSource(series, SubjectRobustScaling())
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
    assert_array_equal(pipe[:1].transform(X[8:]), SubjectRobustScaling()(X[8:]))


def test_readme_pipeline_scales_each_subject_then_pretrains(rng):
    # The README's Pipeline (scale, crop, pretrain, classify) at test size.
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
                    n_timepoints=32,
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
    assert_array_equal(out[1], SubjectRobustScaling()(series[1][:, :30]))


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


def test_pipeline_set_output_pandas_gives_a_frame_of_features(series):
    def make():
        return Pipeline(
            [
                ("scale", SubjectRobustScaler()),
                ("crop", TemporalResampler(n_timepoints=40)),
                ("fc", FunctionalConnectivity(output="vector")),
            ]
        )

    frame = make().set_output(transform="pandas").fit_transform(series)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns[:3]) == ["fc_0_1", "fc_0_2", "fc_0_3"]
    assert_array_equal(frame.to_numpy(), make().fit_transform(series))
    # A global pandas output leaves time series as arrays, which no frame holds.
    with sklearn.config_context(transform_output="pandas"):
        scaled = SubjectRobustScaler().fit_transform(series)
        assert isinstance(make().fit_transform(series), pd.DataFrame)
    assert isinstance(scaled, np.ndarray) and scaled.shape == series.shape
    with pytest.raises(ValueError, match="transform must be one of"):
        SubjectRobustScaler().set_output(transform="xarray")


def test_fc_matrix_output_has_no_feature_names_and_stays_an_array(series):
    fc = FunctionalConnectivity().fit(series)
    with pytest.raises(AttributeError, match="get_feature_names_out"):
        fc.get_feature_names_out()
    # Under a global pandas output (as the pretrainer's own gradient fit runs
    # it), 3-D matrices stay arrays; vectors become a frame.
    with sklearn.config_context(transform_output="pandas"):
        matrices = FunctionalConnectivity().fit_transform(series)
        vectors = FunctionalConnectivity(output="vector").fit_transform(series)
    assert isinstance(matrices, np.ndarray) and matrices.shape == (5, 4, 4)
    assert isinstance(vectors, pd.DataFrame) and vectors.shape == (5, 6)


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
