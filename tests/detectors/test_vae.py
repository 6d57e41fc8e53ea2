"""VAEDetector and its losses and scoring rules (anomaly/detectors/vae.py)."""

import copy
import pickle

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch.distributions import Normal, kl_divergence

import anomaly
from anomaly import VAEDetector
from anomaly.detectors.likelihood import (
    TRAINING_IMPUTATION_ROUNDS,
    filled_in,
    kl_to_standard_normal,
    negative_elbo,
    observed_log_prob,
    reconstruction_log_prob,
)
from anomaly.detectors.vae import reconstruction_error
from anomaly.networks import MLP, VAE, MissingValueEncoder
from tests.conftest import clear_anomalies, fast_vae

SCORES = ["reconstruction_probability", "elbo", "reconstruction_error", "standardized_residual"]


@pytest.fixture(scope="module")
def clear_case():
    X, y = clear_anomalies()
    # The scoring rule does not change training: with one random_state these
    # detectors share their network and differ only in how they score.
    return X, y, {score: fast_vae(epochs=40, scoring_rule=score).fit(X) for score in SCORES}


@pytest.mark.parametrize("score", SCORES)
def test_each_score_ranks_clear_anomalies_far_above_chance(clear_case, score):
    X, y, detectors = clear_case
    assert roc_auc_score(y, -detectors[score].score_samples(X)) > 0.95


def test_scoring_rule_does_not_change_training(clear_case):
    _, _, detectors = clear_case
    histories = [detector.history_ for detector in detectors.values()]
    assert all(history == histories[0] for history in histories)


def test_reconstruction_probability_uses_the_variance_head():
    # Feature 1 follows feature 0 closely, feature 2 is pure noise. Anomalies break
    # the tight link by less than the noise feature's typical residual: a squared
    # error cannot see them, a likelihood with a learned variance per feature can.
    rng = np.random.default_rng(0)
    n, n_anomalous = 600, 30
    base = rng.normal(size=n)
    X = np.c_[base, base + 0.05 * rng.normal(size=n), rng.normal(size=n)]
    X[-n_anomalous:, 1] += rng.choice([-0.8, 0.8], size=n_anomalous)
    y = np.r_[np.zeros(n - n_anomalous), np.ones(n_anomalous)]
    params = dict(hidden_sizes=(32,), latent_dim=1, epochs=150)
    probability = fast_vae(**params).fit(X).score_samples(X)
    error = fast_vae(**params, scoring_rule="reconstruction_error").fit(X).score_samples(X)
    standardized = fast_vae(**params, scoring_rule="standardized_residual").fit(X)
    assert roc_auc_score(y, -probability) > 0.9
    assert roc_auc_score(y, -error) < 0.75
    # One variance per feature, fitted on the residuals, is enough here.
    assert roc_auc_score(y, -standardized.score_samples(X)) > 0.9


def test_standardized_residual_divides_by_each_features_training_mean_of_it(clear_case):
    X, _, detectors = clear_case
    detector = detectors["standardized_residual"]
    x = torch.from_numpy(detector._standardize(X))
    with torch.no_grad():
        squared = (x - detector.network_.likelihood(detector.network_.posterior(x).loc).mean) ** 2
    variance = squared.double().mean(dim=0).numpy()
    np.testing.assert_allclose(detector.residual_variance_, variance, rtol=1e-5)
    expected = -(squared / torch.from_numpy(variance).float()).sum(dim=1).numpy()
    np.testing.assert_allclose(detector.score_samples(X), expected, rtol=1e-5)
    np.testing.assert_allclose(
        detector.feature_scores(X).sum(axis=1), -detector.score_samples(X), rtol=1e-6
    )
    assert detectors["reconstruction_probability"].residual_variance_ is None


def test_standardized_residual_pools_a_windows_variable_over_its_steps():
    rng = np.random.default_rng(0)
    windows = np.c_[rng.normal(size=(200, 5)), 3 * rng.normal(size=(200, 5))]
    detector = fast_vae(window_shape=(2, 5), scoring_rule="standardized_residual").fit(windows)
    first, second = detector.residual_variance_[:5], detector.residual_variance_[5:]
    assert np.all(first == first[0]) and np.all(second == second[0])


def test_scores_are_deterministic_and_depend_on_the_draws(clear_case):
    X, _, detectors = clear_case
    detector = detectors["reconstruction_probability"]
    np.testing.assert_array_equal(detector.score_samples(X), detector.score_samples(X))
    more_draws = fast_vae(epochs=40, n_draws=64).fit(X)
    assert not np.array_equal(more_draws.score_samples(X), detector.score_samples(X))


def test_elbo_subtracts_the_kl_term(clear_case):
    X, _, detectors = clear_case
    network = detectors["elbo"].network_
    with torch.no_grad():
        kl = kl_to_standard_normal(
            network.posterior(torch.from_numpy(detectors["elbo"]._standardize(X)))
        )
    np.testing.assert_allclose(
        detectors["elbo"].score_samples(X),
        detectors["reconstruction_probability"].score_samples(X) - kl.double().numpy(),
        rtol=1e-5,
    )


def test_set_params_after_fit_takes_effect_at_the_next_fit(clear_case):
    X, _, detectors = clear_case
    detector = copy.deepcopy(detectors["reconstruction_probability"])
    before = detector.score_samples(X)
    detector.set_params(scoring_rule="elbo", latent_dim=5, hidden_sizes=(8,), n_draws=2)
    np.testing.assert_array_equal(detector.score_samples(X), before)
    assert detector.fitted_params_["latent_dim"] == 2
    detector.fit(X)
    assert detector.fitted_params_["latent_dim"] == 5
    assert detector.network_.encoder[-1].out_features == 2 * 5


def test_constant_columns_give_finite_scores():
    X = np.c_[np.random.default_rng(0).normal(size=(100, 3)), np.full(100, 7.0)]
    detector = fast_vae().fit(X)
    assert np.isfinite(detector.feature_scale_).all() and detector.feature_scale_[3] == 1.0
    assert np.isfinite(detector.score_samples(X)).all()
    assert np.isfinite(detector.history_["loss"]).all()


@pytest.mark.parametrize("hidden_sizes", [(8, 0), (16.5,), ("8",)])
def test_invalid_hidden_sizes(hidden_sizes, blobs):
    with pytest.raises(ValueError, match="hidden_sizes must hold positive integer widths"):
        fast_vae(hidden_sizes=hidden_sizes).fit(blobs)


def test_network_shape_follows_parameters(blobs):
    detector = fast_vae(hidden_sizes=(12, 6), latent_dim=3).fit(blobs)
    widths = [m.out_features for m in detector.network_.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [12, 6, 2 * 3, 6, 12, 2 * 4]


# --- losses and scoring rules on a small untrained network --------------------------------


@pytest.fixture
def vae():
    torch.manual_seed(0)
    return VAE(MLP(3, (8,), 2 * 2), MLP(2, (8,), 2 * 3))


def test_kl_matches_torch_distributions(vae):
    posterior = vae.posterior(torch.randn(5, 3))
    expected = kl_divergence(posterior, Normal(torch.zeros(5, 2), torch.ones(5, 2))).sum(1)
    torch.testing.assert_close(kl_to_standard_normal(posterior), expected)


def test_kl_term_is_applied_with_beta(vae):
    x = torch.randn(16, 3)
    torch.manual_seed(1)
    without_kl = negative_elbo(vae, x, beta=0.0)
    torch.manual_seed(1)
    with_kl = negative_elbo(vae, x, beta=2.0)
    kl = kl_to_standard_normal(vae.posterior(x))
    assert (kl > 0).all()
    torch.testing.assert_close(with_kl - without_kl, 2.0 * kl)


def test_the_training_loss_encodes_the_row_with_its_gaps_filled_in():
    torch.manual_seed(0)
    vae = VAE(MissingValueEncoder(MLP(3, (8,), 2 * 2), n_features=3), MLP(2, (8,), 2 * 3))
    x = torch.randn(16, 3)
    x[::2, 1] = float("nan")
    torch.manual_seed(1)
    loss = negative_elbo(vae, x, beta=1.0, missing=True)
    torch.manual_seed(1)
    out = vae(filled_in(vae, x, TRAINING_IMPUTATION_ROUNDS))
    expected = kl_to_standard_normal(out.posterior) - observed_log_prob(out.likelihood, x).sum(1)
    torch.testing.assert_close(loss, expected)
    # The gradient runs through the filling: the gaps' shift learns how to read them.
    loss.mean().backward()
    assert vae.encoder.mixing.grad.abs().sum() > 0


def test_reconstruction_log_prob_is_the_mean_over_draws(vae):
    x, noise = torch.randn(4, 3), torch.randn(5, 2)
    posterior = vae.posterior(x)
    per_draw = [
        vae.likelihood(posterior.loc + posterior.scale * eps).log_prob(x).sum(1) for eps in noise
    ]
    torch.testing.assert_close(
        reconstruction_log_prob(vae, x, noise), torch.stack(per_draw).mean(0)
    )


def test_reconstruction_error_is_squared_distance_to_decoded_mean(vae):
    x = torch.randn(4, 3)
    decoded = vae.likelihood(vae.posterior(x).loc).mean
    torch.testing.assert_close(reconstruction_error(vae, x), ((x - decoded) ** 2).sum(1))


def test_decoder_scale_has_a_floor(vae):
    with torch.no_grad():
        vae.decoder[-1].bias.fill_(-1e4)
    assert torch.all(vae.likelihood(torch.zeros(2, 2)).scale >= vae.min_std)


def test_standardized_residual_survives_save_load_and_pickle(clear_case, tmp_path):
    X, _, detectors = clear_case
    detector = detectors["standardized_residual"]
    detector.save(tmp_path / "model")
    for restored in (anomaly.load(tmp_path / "model"), pickle.loads(pickle.dumps(detector))):
        np.testing.assert_array_equal(restored.residual_variance_, detector.residual_variance_)
        np.testing.assert_array_equal(restored.score_samples(X), detector.score_samples(X))


def test_models_from_before_residual_variance_have_none_and_score_as_they_did(clear_case):
    X, _, detectors = clear_case
    detector = detectors["reconstruction_probability"]
    state = pickle.loads(pickle.dumps(detector)).__dict__
    state.pop("residual_variance_")
    old = VAEDetector.__new__(VAEDetector)
    old.__setstate__(state)
    assert old.residual_variance_ is None
    np.testing.assert_array_equal(old.score_samples(X), detector.score_samples(X))
