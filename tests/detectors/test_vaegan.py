"""VAEGANDetector and its losses and scoring rules (anomaly/detectors/vaegan.py)."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import anomaly
from anomaly.detectors.likelihood import (
    TRAINING_IMPUTATION_ROUNDS,
    filled_in,
    kl_to_standard_normal,
    reconstruction_log_prob,
    scoring_draws,
)
from anomaly.detectors.vaegan import feature_log_prob, vaegan_encoder_loss
from anomaly.networks import MLP, VAE, VAEGAN, Discriminator, MissingValueEncoder
from tests.conftest import clear_anomalies, fast_vaegan

SCORES = ["reconstruction_probability", "feature_reconstruction", "discriminator"]


@pytest.fixture(scope="module")
def clear_case():
    X, y = clear_anomalies()
    detectors = {
        score: fast_vaegan(hidden_sizes=(64, 32), latent_dim=8, epochs=40, scoring_rule=score).fit(
            X
        )
        for score in SCORES
    }
    return X, y, detectors


@pytest.mark.parametrize("score", SCORES)
def test_each_score_ranks_clear_anomalies_far_above_chance(clear_case, score):
    X, y, detectors = clear_case
    assert roc_auc_score(y, -detectors[score].score_samples(X)) > 0.95


def test_three_objectives_are_trained_together(clear_case):
    _, _, detectors = clear_case
    history = detectors["reconstruction_probability"].history_
    assert list(history) == ["discriminator", "encoder", "decoder"]
    assert all(len(losses) == 40 for losses in history.values())
    assert history["encoder"][-1] < history["encoder"][0]


def test_early_stopping_watches_the_vaes_elbo_not_the_adversarial_losses():
    X, _ = clear_anomalies(n_normal=200, n_anomalous=5)
    detector = fast_vaegan(
        epochs=60, validation_fraction=0.25, n_iter_no_change=3, learning_rate=1e-2
    ).fit(X)
    history = detector.history_
    assert list(history) == [
        *["discriminator", "encoder", "decoder"],
        *["val_discriminator", "val_encoder", "val_decoder", "val_elbo"],
    ]
    # Stopped n_iter_no_change epochs after the best held-out ELBO (or at the last epoch).
    best = int(np.argmin(history["val_elbo"]))
    assert len(history["val_elbo"]) == min(60, best + 1 + 3)


@pytest.fixture
def model():
    torch.manual_seed(0)
    vae = VAE(MLP(3, (8,), 2 * 2), MLP(2, (8,), 2 * 3))
    return VAEGAN(vae, Discriminator(3, (5,)), latent_dim=2)


def test_encoder_loss_applies_the_kl_term(model):
    x = torch.randn(16, 3)
    torch.manual_seed(1)
    without = vaegan_encoder_loss(model, x, beta=0.0)
    torch.manual_seed(1)
    with_kl = vaegan_encoder_loss(model, x, beta=1.0)
    torch.testing.assert_close(with_kl - without, kl_to_standard_normal(model.vae.posterior(x)))


def test_the_encoder_reads_the_row_with_its_gaps_filled_in():
    torch.manual_seed(0)
    vae = VAE(MissingValueEncoder(MLP(3, (8,), 2 * 2), n_features=3), MLP(2, (8,), 2 * 3))
    model = VAEGAN(vae, Discriminator(3, (5,)), latent_dim=2)
    x = torch.randn(16, 3)
    x[::2, 1] = float("nan")
    torch.manual_seed(1)
    without = vaegan_encoder_loss(model, x, beta=0.0, missing=True)
    torch.manual_seed(1)
    with_kl = vaegan_encoder_loss(model, x, beta=1.0, missing=True)
    torch.testing.assert_close(
        with_kl - without,
        kl_to_standard_normal(vae.posterior(filled_in(vae, x, TRAINING_IMPUTATION_ROUNDS))),
    )
    # The gradient runs through the filling: the gaps' shift learns how to read them.
    with_kl.mean().backward()
    assert vae.encoder.mixing.grad.abs().sum() > 0


def test_feature_log_prob_is_the_mean_feature_likelihood_over_draws(model):
    x, noise = torch.randn(4, 3), torch.randn(6, 2)
    posterior, features = model.vae.posterior(x), model.discriminator.features
    per_draw = [
        -0.5
        * (features(x) - features(model.vae.likelihood(posterior.loc + posterior.scale * e).mean))
        .square()
        .sum(1)
        for e in noise
    ]
    torch.testing.assert_close(feature_log_prob(model, x, noise), torch.stack(per_draw).mean(0))


def test_reconstruction_probability_matches_the_vae_rule(clear_case):
    X, _, detectors = clear_case
    detector = detectors["reconstruction_probability"]
    n_draws = detector.fitted_params_["n_draws"]
    noise = scoring_draws(n_draws, 8, detector.scoring_seed_, torch.device("cpu"))
    with torch.no_grad():
        x = torch.from_numpy(detector._standardize(X))
        expected = reconstruction_log_prob(detector.network_.vae, x, noise).double().numpy()
    np.testing.assert_allclose(detector.score_samples(X), expected, rtol=1e-5)


@pytest.mark.parametrize("score", SCORES)
def test_reproducible_and_persistent(score, tmp_path):
    X, _ = clear_anomalies(n_normal=100, n_anomalous=5)
    first, second = fast_vaegan(scoring_rule=score).fit(X), fast_vaegan(scoring_rule=score).fit(X)
    expected = first.score_samples(X)
    np.testing.assert_array_equal(second.score_samples(X), expected)
    first.save(tmp_path / "vaegan")
    loaded = anomaly.load(tmp_path / "vaegan")
    np.testing.assert_array_equal(loaded.score_samples(X), expected)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(first)).score_samples(X), expected)
