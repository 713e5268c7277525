"""Anti-collapse terms of the JEPA objective."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from sk_brainjepa.training import (
    consistency_terms,
    epps_pulley,
    expected_epps_pulley_under_null,
    sigreg,
    standardize_over_batch,
    variance_covariance_terms,
)

from ._helpers import _gen


# ----------------------------------------------------------------- terms
def test_standardize_over_batch_removes_what_samples_share():
    g = _gen()
    position = torch.randn(1, 6, 4, generator=g) * 10  # shared by every sample
    content = torch.randn(32, 6, 4, generator=g)
    out = standardize_over_batch(position + content)
    torch.testing.assert_close(out.mean(0), torch.zeros(6, 4), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        out.std(0, unbiased=False), torch.ones(6, 4), atol=1e-3, rtol=0
    )
    # Only the content is left: the positional code changes nothing.
    torch.testing.assert_close(out, standardize_over_batch(content), atol=1e-4, rtol=0)
    single = torch.randn(1, 6, 4, generator=g)
    assert torch.equal(standardize_over_batch(single), single)


def test_variance_covariance_terms_known_values():
    g = _gen()
    white = torch.randn(20000, 8, generator=g) * 2.0  # std 2 > 1, uncorrelated
    variance, covariance = variance_covariance_terms(white)
    assert float(variance) == 0.0
    assert float(covariance) < 0.01
    collapsed = torch.ones(16, 8)
    variance, covariance = variance_covariance_terms(collapsed)
    assert float(variance) == pytest.approx(1 - math.sqrt(1e-4))
    assert float(covariance) == 0.0
    # Two copies of one unit-variance feature: off-diagonal cov 1 twice, / D.
    z = torch.randn(20000, 1, generator=g)
    _, covariance = variance_covariance_terms(torch.cat([z, z], dim=1))
    assert float(covariance) == pytest.approx(1.0, rel=0.05)
    with pytest.raises(ValueError, match=r"shape \(batch, dim\)"):
        variance_covariance_terms(torch.ones(2, 3, 4))


def test_epps_pulley_matches_the_closed_form():
    # Against a direct numerical integration of the definition.
    rng = np.random.default_rng(0)
    x = rng.standard_t(df=3, size=200)
    t = np.linspace(-3, 3, 6001)
    phi_n = np.exp(1j * np.outer(t, x)).mean(axis=1)
    integrand = np.abs(phi_n - np.exp(-(t**2) / 2)) ** 2 * np.exp(-(t**2) / 2)
    expected = len(x) * np.trapezoid(integrand, t)
    got = float(epps_pulley(torch.tensor(x[:, None]), n_knots=401)[0])
    assert got == pytest.approx(expected, rel=1e-3)


def test_epps_pulley_small_for_normal_large_otherwise():
    g = _gen()
    normal = torch.randn(512, 200, generator=g)
    mean_stat = float(epps_pulley(normal).mean())
    # The expectation under the null is about 1.06 whatever n (a little less
    # after truncating the integral at t = 3).
    assert 0.8 < mean_stat < expected_epps_pulley_under_null() * 1.1
    assert float(epps_pulley(torch.zeros(512, 1))[0]) > 100  # a point mass
    assert float(epps_pulley(3 * torch.randn(512, 1, generator=g))[0]) > 20
    skewed = torch.from_numpy(stats.expon.rvs(size=(512, 1), random_state=0) - 1.0)
    assert float(epps_pulley(skewed)[0]) > 5 * mean_stat


def test_sigreg_is_low_for_isotropic_gaussian_and_has_gradients():
    g = _gen()
    iso = torch.randn(256, 16, generator=g)
    collapsed = torch.randn(256, 1, generator=g) * torch.ones(1, 16)  # rank 1
    low = float(sigreg(iso, 128, _gen(1)))
    high = float(sigreg(collapsed, 128, _gen(1)))
    assert low < 2.0 < 10 * low < high
    z = torch.randn(64, 8, generator=g, requires_grad=True)
    sigreg(z, 32, _gen(2)).backward()
    assert z.grad is not None and torch.isfinite(z.grad).all()
    # Same generator state, same directions: reproducible.
    assert float(sigreg(iso, 16, _gen(3))) == float(sigreg(iso, 16, _gen(3)))


def test_consistency_terms_known_values():
    g = _gen()
    z = torch.randn(4000, 6, generator=g) * 2.0
    invariance, variance, covariance = consistency_terms(z, z)
    assert float(invariance) == 0.0 and float(variance) == 0.0
    assert float(covariance) < 0.05
    shifted = consistency_terms(z, z + 1.0)[0]
    assert float(shifted) == pytest.approx(1.0)
    # Agreement by collapse is not free: every subject on one vector.
    same = torch.ones(16, 6)
    invariance, variance, _ = consistency_terms(same, same)
    assert float(invariance) == 0.0 and float(variance) > 0.98
    with pytest.raises(ValueError, match="same shape"):
        consistency_terms(z, z[:, :3])
