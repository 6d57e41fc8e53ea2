"""log_likelihood of the VAE-type detectors (anomaly/detectors/likelihood.py)."""

import numpy as np
import pytest

from anomaly import VAEDetector
from tests.conftest import fast_gan, fast_vae, fast_vaegan

SCALES = np.array([1.0, 2.0, 0.5, 1.0, 3.0])


def _gaussian_rows(n_samples=1000, seed=0):
    return np.random.default_rng(seed).normal(size=(n_samples, 5)) * SCALES


@pytest.mark.parametrize("factory", [fast_vae, fast_vaegan], ids=["vae", "vaegan"])
def test_the_likelihood_is_a_density_in_the_inputs_units(factory):
    X = _gaussian_rows(300)
    values = factory().fit(X).log_likelihood(X[:20], random_state=0)
    assert values.shape == (20,) and np.isfinite(values).all()
    # Fitted on the data in units ten times smaller: standardised, the same model, and
    # each of the 5 densities is ten times lower.
    scaled = factory().fit(10 * X).log_likelihood(10 * X[:20], random_state=0)
    np.testing.assert_allclose(values - scaled, 5 * np.log(10), atol=1e-3)


def test_the_estimate_comes_close_to_the_true_density_and_tightens_with_draws():
    X = _gaussian_rows()
    detector = fast_vae(hidden_sizes=(32,), epochs=30).fit(X)
    test = _gaussian_rows(500, seed=1)
    # Minus the entropy of the data's Gaussian: the best mean log-likelihood any model gets.
    best = -0.5 * 5 * np.log(2 * np.pi * np.e) - np.log(SCALES).sum()
    estimate = detector.log_likelihood(test, n_draws=100, random_state=0).mean()
    assert best - 0.3 < estimate < best + 0.1
    one_draw = np.mean([detector.log_likelihood(test, n_draws=1, random_state=s) for s in range(5)])
    assert one_draw < estimate  # the ELBO, looser than 100 draws' bound
    outliers = detector.log_likelihood(test[:20] + 6 * SCALES, random_state=0)
    assert outliers.max() < np.median(detector.log_likelihood(test, random_state=0))


def test_draws_are_seeded_and_patches_refused():
    X = _gaussian_rows(300)
    detector = fast_vae().fit(X)
    first = detector.log_likelihood(X[:10], n_draws=8, random_state=3)
    assert np.array_equal(first, detector.log_likelihood(X[:10], n_draws=8, random_state=3))
    assert not np.array_equal(first, detector.log_likelihood(X[:10], n_draws=8, random_state=4))
    assert not hasattr(fast_gan(), "log_likelihood")  # a GAN defines no density
    tiles = [np.random.default_rng(0).random((40, 40)).astype(np.float32) for _ in range(4)]
    patched = VAEDetector(epochs=1, patch_size=16, random_state=0).fit(tiles)
    with pytest.raises(ValueError, match="patches of larger images.*log_likelihood needs"):
        patched.log_likelihood(tiles)


def test_images_with_a_bernoulli_likelihood():
    images = np.random.default_rng(0).random((40, 1, 8, 8)).astype(np.float32)
    detector = fast_vae(likelihood="continuous_bernoulli").fit(images)
    assert detector.log_likelihood(images[:5], n_draws=4).shape == (5,)
