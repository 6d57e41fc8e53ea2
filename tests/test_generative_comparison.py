"""compare_generative: the three families measured as generative models and as detectors."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import BaseEstimator
from sklearn.neighbors import KNeighborsClassifier

from anomaly import VAEGANDetector
from anomaly.generative_comparison import compare_generative
from anomaly.generative_metrics import class_coverage
from tests.conftest import fast_gan, fast_vae

MEASURES = {
    "fit_seconds",
    "frechet_distance",
    "precision",
    "recall",
    "density",
    "coverage",
    "latent_knn_accuracy",
    "latent_linear_probe",
    "interpolation_path_ratio",
    "roc_auc",
    "parzen_log_likelihood",
}


def _blobs(n_per_class: int, classes, seed: int):
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(scale=4, size=(4, 6))
    X = np.concatenate([centres[c] + rng.normal(size=(n_per_class, 6)) for c in classes])
    return X, np.repeat(classes, n_per_class)


class RowFeatures:
    """Rows as their own features, and a classifier of the four blobs."""

    def __init__(self):
        X, y = _blobs(100, [0, 1, 2, 3], 5)
        self.classifier = KNeighborsClassifier(5).fit(X, y)

    def features(self, X):
        return np.asarray(X)

    def predict(self, X):
        return self.classifier.predict(X)


def test_every_measure_for_every_detector_and_seed():
    X_train, y_train = _blobs(150, [0, 1, 2], 0)
    X_test, y_test = _blobs(60, [0, 1, 2, 3], 1)  # class 3 unseen: the anomalies
    detectors = {
        "VAE": fast_vae(epochs=20),
        "GAN": fast_gan(epochs=20),
        "VAE-GAN": VAEGANDetector(hidden_sizes=(16,), latent_dim=2, epochs=20, device="cpu"),
    }
    table = compare_generative(
        detectors,
        X_train,
        y_train,
        X_test,
        y_test,
        features=RowFeatures(),
        seeds=[0, 1],
        n_samples=150,
        n_pairs=5,
    )
    assert set(table.metric) == MEASURES | {"class_coverage", "class_kl", "log_likelihood"}
    # Every measure of every run, but the GAN has no likelihood of its own.
    assert len(table) == 3 * 2 * 14 - 2 and table["value"].notna().all()
    assert "log_likelihood" not in set(table[table.detector == "GAN"].metric)
    values = table[table.detector == "VAE"].groupby("metric")["value"].mean()
    assert values["roc_auc"] > 0.9  # a far blob, never seen in training
    assert values["latent_knn_accuracy"] > 0.8  # the blobs stay apart in the latent space
    assert 0 <= values["class_coverage"] <= 1 and values["interpolation_path_ratio"] >= 1


def test_rows_are_compared_standardised_by_default():
    X_train, y_train = _blobs(100, [0, 1], 0)
    X_test, y_test = _blobs(40, [0, 1, 2], 1)
    table = compare_generative({"VAE": fast_vae()}, X_train, y_train, X_test, y_test, n_samples=60)
    assert set(table.metric) == MEASURES | {"log_likelihood"}


def test_one_training_class_and_data_frames():
    # The one-class protocol: no classes for the codes to tell apart, the rest measured;
    # DataFrames are read by position.
    X_train, y_train = _blobs(100, [0], 0)
    X_test, y_test = _blobs(40, [0, 2], 1)
    table = compare_generative(
        {"VAE": fast_vae()},
        pd.DataFrame(X_train),
        y_train,
        pd.DataFrame(X_test),
        y_test,
        n_samples=30,
        n_pairs=3,
    )
    values = table.set_index("metric")["value"]
    assert values[["latent_knn_accuracy", "latent_linear_probe"]].isna().all()
    assert values.drop(["latent_knn_accuracy", "latent_linear_probe"]).notna().all()
    assert values["roc_auc"] > 0.9


def test_integer_samples_are_dequantized_as_floats():
    X_train, y_train = _blobs(100, [0, 1], 0)
    X_test, y_test = _blobs(40, [0, 1, 2], 1)
    X_train, X_test = np.rint(X_train * 10).astype(int), np.rint(X_test * 10).astype(int)
    run = dict(n_samples=40, n_pairs=3)
    plain = compare_generative({"VAE": fast_vae()}, X_train, y_train, X_test, y_test, **run)
    noisy = compare_generative(
        {"VAE": fast_vae()}, X_train, y_train, X_test, y_test, dequantize=1.0, **run
    )
    likelihood = [t.set_index("metric").loc["log_likelihood", "value"] for t in (plain, noisy)]
    assert likelihood[0] != likelihood[1]


def test_a_collapsed_generator_gets_low_mode_coverage():
    X_train, y_train = _blobs(150, [0, 1, 2], 0)
    detector = fast_gan(epochs=20).fit(X_train)
    features = RowFeatures()
    healthy, healthy_kl = class_coverage(
        features.predict(detector.sample(300, random_state=0)), y_train, 4
    )
    # Collapse it: the generator's last layer then ignores z, and every sample is the same.
    last = [m for m in detector.network_.generator.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.zero_()
    samples = detector.sample(300, random_state=0)
    assert np.allclose(samples, samples[0])
    covered, kl = class_coverage(features.predict(samples), y_train, 4)
    assert covered == 0.25 and kl > 1.0  # one class of four, far from the data's three
    assert healthy > covered and healthy_kl < kl


class _TrueModel(BaseEstimator):
    """A generator that samples the training classes' true distribution of ``_blobs``."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X):
        return self

    def sample(self, n_samples, random_state=None):
        rng = np.random.default_rng(random_state)
        centres = np.random.default_rng(99).normal(scale=4, size=(4, 6))
        return centres[rng.integers(0, 3, n_samples)] + rng.normal(size=(n_samples, 6))

    def transform(self, X):
        return np.asarray(X)

    def interpolate(self, a, b, n_steps=8):
        return np.linspace(a, b, n_steps)

    def score_samples(self, X):
        return -np.abs(np.asarray(X)).sum(axis=1)


def test_real_samples_are_drawn_whatever_the_order_of_the_test_rows():
    X_train, y_train = _blobs(150, [0, 1, 2], 0)
    X_test, y_test = _blobs(200, [0, 1, 2, 3], 1)  # sorted by class, as loaders often give
    table = compare_generative(
        {"true": _TrueModel()}, X_train, y_train, X_test, y_test, n_samples=200, n_pairs=3
    )
    values = table.set_index("metric")["value"]
    # The first 200 real rows would be one class: far from samples of all three.
    assert values["frechet_distance"] < 0.5 and values["coverage"] > 0.9


def test_a_comparison_without_anomalies_or_pairs_is_refused_before_training():
    X_train, y_train = _blobs(50, [0, 1], 0)
    X_test, y_test = _blobs(20, [0, 1], 1)
    with pytest.raises(ValueError, match="classes absent from y_train"):
        compare_generative({"true": _TrueModel()}, X_train, y_train, X_test, y_test)
    X_test, y_test = _blobs(20, [0, 1, 2], 1)
    with pytest.raises(ValueError, match="n_pairs"):
        compare_generative({"true": _TrueModel()}, X_train, y_train, X_test, y_test, n_pairs=0)
