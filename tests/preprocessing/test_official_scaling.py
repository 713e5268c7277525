"""The official Brain-JEPA input scaling: per-sample z-score and the pretraining preset.

The references below are written out from docs/differences-from-official.md,
"Input scaling" (UK Biobank pretraining: median / IQR over subjects of
per-subject ROI means; HCP-Aging downstream: ``(x - x.mean()) / x.std()`` over
the whole sample, torch's unbiased std, before the crop).
"""

import pickle

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline

from sk_brainjepa import (
    ROIRobustScaler,
    SampleZScore,
    TemporalResampler,
    official_scaling,
)
from sk_brainjepa.sources import ScaledSource


# ------------------------------------------------------------- z-score values
@pytest.mark.parametrize("ddof", [0, 1])
def test_sample_zscore_gives_mean_0_std_1_per_sample(cohort, ddof):
    Z = SampleZScore(ddof=ddof).fit_transform(cohort)
    assert Z.shape == cohort.shape and Z.dtype == np.float32
    assert_allclose(Z.mean(axis=(1, 2), dtype=np.float64), 0.0, atol=1e-5)
    assert_allclose(Z.std(axis=(1, 2), ddof=ddof, dtype=np.float64), 1.0, rtol=1e-5)
    # One statistic per sample, not per ROI: ROI means stay apart.
    assert Z.mean(axis=2).std() > 0.5


def test_sample_zscore_equals_numpy_and_official_torch_reference(cohort):
    Z = SampleZScore().fit_transform(cohort)
    X64 = cohort.astype(np.float64)
    mean = X64.mean(axis=(1, 2), keepdims=True)
    std = X64.std(axis=(1, 2), ddof=1, keepdims=True)
    assert_allclose(Z, (X64 - mean) / std, rtol=1e-4, atol=1e-4)
    # The official loader's lines, in float32 torch, one sample at a time.
    for x, z in zip(cohort, Z, strict=True):
        t = torch.from_numpy(x).float()
        official = ((t - t.mean()) / t.std()).numpy()
        assert_allclose(z, official, rtol=1e-4, atol=2e-4)
    # float64 input stays float64 and matches to machine precision.
    assert_allclose(SampleZScore().fit_transform(X64), (X64 - mean) / std, rtol=1e-12)


def test_sample_zscore_ragged_list_scales_each_run(cohort):
    runs = [cohort[0], cohort[1, :, :60], cohort[2, :, :75]]
    out = SampleZScore().fit_transform(runs)
    assert isinstance(out, list) and [o.shape for o in out] == [r.shape for r in runs]
    for run, o in zip(runs, out, strict=True):
        assert_array_equal(o, SampleZScore().fit_transform(run[np.newaxis])[0])


def test_constant_sample_raises_naming_it(cohort):
    X = cohort.copy()
    X[3] = 5.0
    with pytest.raises(ValueError, match=r"1 constant sample.*sample index 3"):
        SampleZScore().fit_transform(X)
    with pytest.raises(ValueError, match=r"X\[1\] is constant"):
        SampleZScore().fit(X).transform([X[0], X[3]])
    with pytest.raises(ValueError, match=r"constant"):
        SampleZScore().to_window_transform()(X[3])


# ------------------------------------------------ official pretraining preset
def test_official_pretrain_statistic_equals_hand_computation():
    # Subject means of ROI 0 are 1, 2, 3, 10: median 2.5; linear percentiles
    # 25th = 1.75, 75th = 4.75, so IQR = 3. ROI 1 has means 0, 0, 4, 4: median 2,
    # 25th = 0, 75th = 4, IQR = 4. The fluctuations (mean 0) must not matter.
    wiggle = np.array([1.0, -1.0, 2.0, -2.0, 0.0])
    means = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 4.0], [10.0, 4.0]])
    X = means[:, :, None] + 100.0 * wiggle  # (4 subjects, 2 ROIs, 5 frames)
    scaler = official_scaling("pretrain").fit(X)
    assert isinstance(scaler, ROIRobustScaler)
    assert_allclose(scaler.center_, [2.5, 2.0])
    assert_allclose(scaler.scale_, [3.0, 4.0])
    expected = (X - np.array([2.5, 2.0])[:, None]) / np.array([3.0, 4.0])[:, None]
    assert_allclose(scaler.transform(X), expected)


def test_official_pretrain_matches_the_official_formula(cohort):
    # ukbiobank_scale.py: statistics of the (n_subjects, n_rois) matrix of means.
    subject_means = np.mean(cohort.astype(np.float64), axis=2)
    medians = np.median(subject_means, axis=0)
    iqrs = np.percentile(subject_means, 75, axis=0) - np.percentile(
        subject_means, 25, axis=0
    )
    scaler = official_scaling("pretrain").fit(cohort)
    assert_allclose(scaler.center_, medians, rtol=1e-12)
    assert_allclose(scaler.scale_, iqrs, rtol=1e-12)
    expected = (cohort - medians[:, None]) / iqrs[:, None]
    assert_allclose(scaler.transform(cohort), expected, rtol=1e-4, atol=1e-4)
    # Streamed: the same statistics through the scaler's window transform.
    scaled = ScaledSource(cohort, scaler.to_window_transform())
    assert_allclose(scaled.window(1, 20, 30), expected[1, :, 20:50], rtol=1e-4)


def test_official_scaling_presets():
    pretrain = official_scaling("pretrain")
    downstream = official_scaling("downstream")
    assert pretrain.get_params()["statistics"] == "subject_mean"
    assert pretrain.get_params()["quantile_range"] == (25.0, 75.0)
    assert isinstance(downstream, SampleZScore) and downstream.ddof == 1
    assert official_scaling("downstream") is not downstream  # a new one each call
    with pytest.raises(ValueError, match=r"stage must be one of.*'finetune'"):
        official_scaling("finetune")


# ----------------------------------------------------------------- bad input
def test_bad_input_names_parameter_and_shape(cohort):
    with pytest.raises(ValueError, match=r"got a 2-D array.*X\[np.newaxis\]"):
        SampleZScore().fit(cohort[0])
    bad = cohort.copy()
    bad[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match="X contains 1 NaN or infinite"):
        SampleZScore().fit(bad)
    with pytest.raises(ValueError, match="X contains 1 NaN or infinite"):
        SampleZScore().fit(cohort).transform(bad)
    with pytest.raises(ValueError, match="7 ROIs.*SampleZScore expects 6 ROIs"):
        SampleZScore().fit(cohort).transform(np.ones((2, 7, 10)))
    # Streaming: NaN in a run, and arrays of the wrong rank.
    with pytest.raises(ValueError, match=r"^x contains NaN or infinite values;"):
        SampleZScore().to_window_transform()(bad[1])
    with pytest.raises(ValueError, match=r"NaN or infinite.*sample index 1"):
        SampleZScore().to_window_transform()(bad)
    with pytest.raises(ValueError, match=r"\(n_rois, n_timepoints\).*shape \(90,\)"):
        SampleZScore().to_window_transform()(cohort[0, 0])
    with pytest.raises(ValueError, match=r"shape \(5, 6, 90, 1\)"):
        SampleZScore().to_window_transform()(cohort[..., None])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"ddof": -1}, r"'ddof' parameter of SampleZScore must be an int .* Got -1"),
        ({"ddof": 1.5}, r"'ddof' parameter of SampleZScore must be an int"),
        # An Integral interval lets a bool through; the shared check does not.
        ({"ddof": True}, "ddof must be an integer >= 0; got True"),
        ({"min_std": -1.0}, r"'min_std' parameter of SampleZScore must be a float"),
        ({"min_std": "x"}, r"'min_std' parameter of SampleZScore must be a float"),
        ({"layout": "rois"}, r"'layout' parameter of SampleZScore must be a str"),
    ],
)
def test_bad_params(cohort, params, match):
    with pytest.raises(ValueError, match=match):
        SampleZScore(**params).fit(cohort)


def test_numpy_scalar_params(cohort):
    est = SampleZScore(ddof=np.int64(0), min_std=np.float32(1e-6))
    assert_allclose(
        est.fit_transform(cohort), SampleZScore(ddof=0).fit_transform(cohort)
    )


# --------------------------------------------------------- sklearn contract
def test_sklearn_contract(cohort):
    est = SampleZScore(ddof=0, min_std=1e-6)
    assert est.get_params() == {"ddof": 0, "min_std": 1e-6, "layout": "rois_x_time"}
    cloned = clone(est)
    assert cloned.get_params() == est.get_params()
    assert not [k for k in vars(cloned) if k.endswith("_")]
    with pytest.raises(NotFittedError):
        cloned.transform(cohort)
    assert cloned.fit(cohort) is cloned
    assert cloned.n_rois_ == cloned.n_features_in_ == 6
    restored = pickle.loads(pickle.dumps(cloned))
    assert_array_equal(restored.transform(cohort), cloned.transform(cohort))
    assert repr(SampleZScore()) == "SampleZScore()"
    assert repr(SampleZScore().to_window_transform(over="window")) == (
        "SampleZScore(ddof=1).to_window_transform(over='window')"
    )


def test_official_downstream_pipeline_scales_then_crops(cohort):
    # The official downstream order: z-score the run, then take the window.
    pipe = Pipeline(
        [
            ("scale", official_scaling("downstream")),
            ("crop", TemporalResampler(n_timepoints=60, crop="center")),
        ]
    )
    out = pipe.fit_transform(cohort)
    expected = TemporalResampler(n_timepoints=60, crop="center").fit_transform(
        SampleZScore().fit_transform(cohort)
    )
    assert out.shape == (5, 6, 60)
    assert_array_equal(out, expected)
    assert_array_equal(clone(pipe).fit_transform(cohort), out)
