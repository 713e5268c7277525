"""Tests for ROIRobustScaler, TemporalResampler and FunctionalConnectivity."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from sk_brainjepa.preprocessing import (
    FunctionalConnectivity,
    ROIRobustScaler,
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
        ({"statistics": "mean"}, "statistics must be one of"),
        ({"quantile_range": (80, 20)}, "quantile_range must satisfy"),
        ({"quantile_range": "iqr"}, "quantile_range must be a pair"),
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
        ({"tr": -1.0}, "tr must be None or a positive"),
        ({"target_tr": 0}, "target_tr must be a positive"),
        ({"method": "cubic"}, "method must be one of"),
        ({"crop": "end"}, "crop must be one of"),
        ({"n_timepoints": 0}, "n_timepoints must be None or an int"),
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
        ({"kind": "spearman"}, "kind must be one of"),
        ({"output": "flat"}, "output must be one of"),
        ({"fisher_z": "yes"}, "fisher_z must be True or False"),
    ],
)
def test_fc_bad_params(series, params, match):
    with pytest.raises(ValueError, match=match):
        FunctionalConnectivity(**params).fit(series)
