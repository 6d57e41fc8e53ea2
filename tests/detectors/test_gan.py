"""GANDetector, its losses, the batched AnoGAN search and the collapse check."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

import anomaly
from anomaly.detectors.gan import anogan_residual, latent_search
from tests.conftest import clear_anomalies, fast_gan

SCORES = ["encoder", "anogan", "discriminator"]
# The discriminator is the weakest rule, here and on ADBench (benchmarks/results/tabular.md):
# trimmed training never shows it the far-off rows as real, so its view of them is arbitrary.
MIN_ROC_AUC = {"encoder": 0.9, "anogan": 0.9, "discriminator": 0.8}


@pytest.fixture(scope="module")
def clear_case():
    X, y = clear_anomalies()
    return (
        X,
        y,
        {
            score: fast_gan(hidden_sizes=(64, 32), latent_dim=8, epochs=50, scoring_rule=score).fit(
                X
            )
            for score in SCORES
        },
    )


@pytest.mark.parametrize("score", SCORES)
def test_each_score_ranks_clear_anomalies_far_above_chance(clear_case, score):
    X, y, detectors = clear_case
    assert roc_auc_score(y, -detectors[score].score_samples(X)) > MIN_ROC_AUC[score]


def test_history_has_both_phases(clear_case):
    _, _, detectors = clear_case
    history = detectors["encoder"].history_
    assert list(history) == ["discriminator", "generator", "encoder"]
    assert all(len(losses) == 50 for losses in history.values())
    assert history["encoder"][-1] < history["encoder"][0]


def test_batched_search_equals_a_per_sample_loop(clear_case):
    X, _, detectors = clear_case
    gan = detectors["anogan"].network_
    x = torch.from_numpy(detectors["anogan"]._standardize(X[::20]))
    z_start = torch.randn(gan.latent_dim, generator=torch.Generator().manual_seed(0))
    search = dict(steps=30, weight=0.1, learning_rate=0.05)
    batched = latent_search(gan, x, z_start, **search)
    # The reference: one independent search per row, as AnoGAN describes it.
    looped = torch.cat([latent_search(gan, row[None], z_start, **search) for row in x])
    torch.testing.assert_close(batched, looped, rtol=1e-4, atol=1e-4)


def test_search_lowers_the_anogan_loss(clear_case):
    X, _, detectors = clear_case
    gan = detectors["anogan"].network_
    x = torch.from_numpy(detectors["anogan"]._standardize(X))
    z_start = torch.zeros(gan.latent_dim)
    start = anogan_residual(gan, x, z_start.expand(len(x), -1), 0.1)
    found = latent_search(gan, x, z_start, steps=50, weight=0.1, learning_rate=0.05)
    assert (found < start).float().mean() > 0.95


def test_discriminator_score_is_distance_from_the_training_median(clear_case):
    X, _, detectors = clear_case
    detector = detectors["discriminator"]
    with torch.no_grad():
        logits = detector.network_.discriminator(torch.from_numpy(detector._standardize(X)))
    assert detector.discriminator_center_ == pytest.approx(logits.median().item())
    np.testing.assert_allclose(
        detector.score_samples(X),
        -np.abs(logits.double().numpy() - detector.discriminator_center_),
        rtol=1e-5,
    )


def test_healthy_generator_does_not_warn(clear_case):
    X, _, detectors = clear_case
    assert detectors["encoder"].generator_diversity_ > 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fast_gan(hidden_sizes=(64, 32), latent_dim=8, epochs=50).fit(X)


class _Squash(nn.Module):
    def forward(self, z):
        return 0 * z  # every z becomes the same point, yet stays in the graph


def test_collapse_warning_fires_on_a_collapsed_generator(monkeypatch):
    X, _ = clear_anomalies()
    build = anomaly.GANDetector._build_network

    def collapsed(self):
        gan = build(self)
        # Every z is mapped to the same point: a generator with no diversity at all.
        gan.generator = nn.Sequential(_Squash(), gan.generator)
        return gan

    monkeypatch.setattr(anomaly.GANDetector, "_build_network", collapsed)
    with pytest.warns(
        UserWarning, match="generator collapsed: its samples spread 0 times"
    ) as caught:
        detector = fast_gan(epochs=2).fit(X)
    assert detector.generator_diversity_ == pytest.approx(0.0, abs=1e-6)
    # The warning points at the caller's line, by every path that trains.
    assert caught[0].filename == __file__
    with pytest.warns(UserWarning, match="generator collapsed") as caught:
        detector.partial_fit(X)
    assert caught[0].filename == __file__
    with pytest.warns(UserWarning, match="generator collapsed") as caught:
        make_pipeline(StandardScaler(), fast_gan(epochs=2)).fit(X)
    assert caught[0].filename == __file__


@pytest.mark.parametrize("score", SCORES)
def test_reproducible_and_persistent(score, tmp_path):
    X, _ = clear_anomalies(n_normal=100, n_anomalous=5)
    first, second = fast_gan(scoring_rule=score).fit(X), fast_gan(scoring_rule=score).fit(X)
    expected = first.score_samples(X)
    np.testing.assert_array_equal(second.score_samples(X), expected)
    assert first.history_ == second.history_
    first.save(tmp_path / "gan")
    loaded = anomaly.load(tmp_path / "gan")
    assert loaded.discriminator_center_ == first.discriminator_center_
    np.testing.assert_array_equal(loaded.score_samples(X), expected)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(first)).score_samples(X), expected)


@pytest.mark.parametrize("score", SCORES)
def test_scores_do_not_depend_on_how_rows_are_grouped(clear_case, score):
    X, _, detectors = clear_case
    detector = detectors[score]
    full = detector.score_samples(X)
    # Backward passes round by a row's position in the block: the search is
    # exact only to float32 precision; the one-pass rules are exact to the bit.
    check = np.testing.assert_allclose if score == "anogan" else np.testing.assert_array_equal
    tolerance = {"rtol": 1e-6} if score == "anogan" else {}
    check(detector.score_samples(X[5:6]), full[5:6], **tolerance)
    check(detector.score_samples(X[::-1]), full[::-1], **tolerance)


def test_raw_discriminator_logit_ranks_rare_rows_as_real(clear_case):
    # Why the discriminator score is two-sided (see GANDetector's docstring):
    # the generator misses the rare rows, so the critic calls them the most real.
    X, y, detectors = clear_case
    detector = detectors["discriminator"]
    with torch.no_grad():
        logits = detector.network_.discriminator(torch.from_numpy(detector._standardize(X)))
    assert roc_auc_score(y, -logits.numpy()) < 0.1
