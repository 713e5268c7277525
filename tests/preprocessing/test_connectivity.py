"""FunctionalConnectivity and the Fisher-z group mean."""

import numpy as np
import pandas as pd
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal

from sk_brainjepa.preprocessing import (
    FunctionalConnectivity,
    fisher_z,
    fisher_z_mean,
    sym_matrix_to_vec,
    vec_to_sym_matrix,
)


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


N_ROIS = 30


def make_fc(seed, n_rois=N_ROIS, n_timepoints=200, noise=1.0):
    """Correlation matrix of ROIs driven by two factors whose mix varies along an
    axis, so the leading gradients are well separated (as in real FC)."""
    rng = np.random.default_rng(seed)
    position = np.linspace(0, np.pi, n_rois)
    factors = rng.standard_normal((2, n_timepoints))
    loadings = np.stack([np.cos(position), np.sin(position)], axis=1)
    series = loadings @ factors + noise * rng.standard_normal((n_rois, n_timepoints))
    return np.corrcoef(series)


# ------------------------------------------------------------ Fisher-z group mean
def test_fisher_z_mean():
    a = make_fc(1, n_rois=6)
    b = make_fc(2, n_rois=6)
    group = fisher_z_mean(np.stack([a, b]))
    off = ~np.eye(6, dtype=bool)
    expected = np.tanh((np.arctanh(a[off]) + np.arctanh(b[off])) / 2)
    assert_allclose(group[off], expected, rtol=1e-12)
    # The diagonal is the plain mean of the inputs' (1 up to rounding).
    assert_allclose(np.diag(group), 1.0, rtol=0, atol=1e-15)
    # The mean of identical matrices is that matrix.
    assert_allclose(fisher_z_mean(np.stack([a, a, a])), a, atol=1e-12)
    # Perfectly correlated ROI pairs are clipped, not turned into inf or NaN.
    assert_allclose(fisher_z_mean(np.ones((2, 3, 3))), 1.0, atol=1e-6)
    # Matrices streamed one at a time give the stack's floats.
    assert_array_equal(fisher_z_mean(iter([a, b])), group)
