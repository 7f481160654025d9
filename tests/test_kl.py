"""The KL approximation against a numerical integration of the true KL."""

import math

import numpy as np
import keras
import pytest
from scipy import integrate
from scipy import stats

from keras_svd import kl as kl_lib

EULER_GAMMA = 0.5772156649015329


def _expected_log_abs(log_alpha):
    """E log|eps| for eps ~ N(1, alpha), by adaptive quadrature."""
    s = math.exp(0.5 * log_alpha)
    singular = -1.0 / s

    def integrand(z):
        return stats.norm.pdf(z) * math.log(abs(1.0 + s * z))

    left, _ = integrate.quad(integrand, -np.inf, singular, limit=200)
    right, _ = integrate.quad(integrand, singular, np.inf, limit=200)
    return left + right


def _true_kl(log_alpha):
    """KL(N(theta, alpha theta^2) || log-uniform), constant so KL -> 0.

    -KL = 0.5 log alpha - E log|eps| + C (Molchanov et al. 2017, eq. 13);
    as alpha -> inf, E log|eps| -> 0.5 log alpha - (gamma + log 2) / 2, so
    C = -(gamma + log 2) / 2 makes the divergence vanish there.
    """
    c = -(EULER_GAMMA + math.log(2.0)) / 2
    return -(0.5 * log_alpha - _expected_log_abs(log_alpha) + c)


def test_approximation_matches_numerical_integration():
    grid = np.linspace(-8.0, 8.0, 33)
    approx = keras.ops.convert_to_numpy(kl_lib.kl_divergence(grid))
    exact = np.array([_true_kl(la) for la in grid])
    np.testing.assert_allclose(approx, exact, atol=0.01)


def test_divergence_vanishes_for_pure_noise_and_grows_for_precise_weights():
    values = keras.ops.convert_to_numpy(
        kl_lib.kl_divergence(np.array([-8.0, 0.0, 8.0, 50.0], "float32"))
    )
    assert values[0] > values[1] > values[2] > 0
    assert values[3] == pytest.approx(0.0, abs=1e-6)


def test_paper_constants():
    assert (kl_lib.K1, kl_lib.K2, kl_lib.K3) == (0.63576, 1.87320, 1.48695)


def test_log_alpha_is_clipped():
    kernel = np.array([1.0, 1.0, 1e-6], "float32")
    log_sigma2 = np.array([-20.0, 20.0, 0.0], "float32")
    log_alpha = keras.ops.convert_to_numpy(
        kl_lib.clipped_log_alpha(kernel, log_sigma2)
    )
    np.testing.assert_allclose(log_alpha, [-8.0, 8.0, 8.0])
