"""VAE, GAN and VAE-GAN compared as generative models: samples, latent space and detection.

The claims usually made about the two families (sharper GAN samples, GAN mode
collapse, a structured VAE latent space, stabler VAE training), each turned into
measures of models fitted here, beside detection ROC-AUC.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_scalar

from anomaly.adapters import anomaly_scores
from anomaly.generative_metrics import (
    class_coverage,
    density_coverage,
    frechet_distance,
    parzen_log_likelihood,
    precision_recall,
)
from anomaly.metrics import roc_auc

__all__ = ["compare_generative"]

COLUMNS = ["detector", "seed", "metric", "value"]


def compare_generative(
    detectors: Mapping[str, Any],
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    features: Any = None,
    seeds: Sequence[int] = (0,),
    n_samples: int = 1000,
    n_pairs: int = 20,
    dequantize: float | None = None,
) -> pd.DataFrame:
    """Fit each detector with each seed and measure it as a generative model and a detector.

    The classes of ``y_test`` absent from ``y_train`` are the anomalies (e.g.
    Fashion-MNIST with one class left out of training); the other test
    samples are the real data that samples are compared with.

    Measures, one row each (``value``; higher is better unless said):

    - sample quality: ``frechet_distance`` (lower is better; the FID formula
      on ``features``, not Inception's), ``precision``, ``recall`` (k-NN,
      k=3), ``density``, ``coverage`` (k=5), between ``n_samples`` samples
      and as many real test samples;
    - mode coverage, with ``features.predict`` (a classifier): ``class_coverage``
      (share of the classes the samples fall in) and ``class_kl`` (KL of the
      samples' class histogram to the training data's; lower is better);
    - latent structure, on ``transform``'s codes: ``latent_knn_accuracy``
      (5-NN classifier of test classes fitted on training codes) and
      ``latent_linear_probe`` (logistic regression, the same split), NaN
      where ``y_train`` holds one class;
      ``interpolation_path_ratio``: for ``n_pairs`` pairs of test samples,
      the length of the path their latent line decodes to, in feature
      space, over the distance between its ends (1 for a straight path;
      lower is smoother);
    - likelihood of the real test samples, in nats per value of the input's
      units: ``log_likelihood``, the model's own (importance-weighted, 100
      draws; only for models that define one: the VAE-type ones), and
      ``parzen_log_likelihood``, a Gaussian kernel density on the samples,
      its bandwidth chosen on half of the real samples and scored on the
      other half (as Goodfellow et al. 2014 did for GANs; a loose estimate in
      many dimensions, for all three families alike); ``log_likelihood`` is
      taken on that same half; both on the real samples plus uniform noise of
      width ``dequantize`` where given;
    - detection: ``roc_auc`` of the unseen classes against the rest;
    - ``fit_seconds``.

    Parameters
    ----------
    detectors : mapping of str to estimator
        Our detectors (they need ``sample`` and ``transform``), cloned and
        seeded for each run.
    X_train, y_train : training samples and their classes
    X_test, y_test : test samples and their classes
    features : object with ``features(X)`` (and optionally ``predict(X)``), optional
        The feature space of the sample measures, e.g.
        :func:`anomaly.image_features.classifier_features`; by default the
        samples' values standardised on the training data (rows).
    seeds : sequence of int
    n_samples : int, default=1000
    n_pairs : int, default=20
    dequantize : float, optional
        Width of the uniform noise added to the real samples before the
        likelihood measures: a density measured on values that lie on a grid
        (8-bit pixels) grows without bound as the model narrows onto the grid
        points, so 1/256 for 8-bit images (Theis et al. 2016).

    Returns
    -------
    table : pandas.DataFrame
        Columns ``detector``, ``seed``, ``metric``, ``value``.
    """
    # Arrays, so that samples are picked by position from DataFrames too.
    X_train, X_test = np.asarray(X_train), np.asarray(X_test)
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    # The density and coverage take each sample's 5 nearest others: 6 samples at least.
    check_scalar(n_samples, "n_samples", Integral, min_val=6)
    check_scalar(n_pairs, "n_pairs", Integral, min_val=1)
    unseen = ~np.isin(y_test, np.unique(y_train))
    if not unseen.any() or (~unseen).sum() < 6:
        raise ValueError(
            f"y_test holds {unseen.sum()} of {len(unseen)} samples of classes absent from "
            "y_train: the comparison needs some (the anomalies) and at least 6 of the "
            "training classes (the real data)."
        )
    # In a seeded random order, so that the real samples compared with the model's (the first
    # n_samples) and the likelihoods' halves do not depend on how X_test is sorted.
    order = np.random.default_rng(0).permutation(np.flatnonzero(~unseen))
    real_X, real_y = X_test[order], y_test[order]
    embed = _embedding(features, X_train)
    noisy_X = real_X
    if dequantize is not None:
        noise = np.random.default_rng(0).uniform(0.0, dequantize, real_X.shape)
        # Integer pixels become floats, or the noise would be rounded away.
        noisy_X = (real_X + noise).astype(np.result_type(real_X.dtype, np.float32))
    rows = []
    for name, detector in detectors.items():
        for seed in seeds:
            model = clone(detector).set_params(random_state=seed)
            start = time.perf_counter()
            model.fit(X_train)
            measures = {"fit_seconds": time.perf_counter() - start}
            measures.update(_sample_measures(model, embed, features, real_X, y_train, n_samples))
            measures.update(_latent_measures(model, X_train, y_train, real_X, real_y))
            order = np.random.default_rng(seed).permutation(len(real_X))
            pairs = order[: 2 * min(n_pairs, len(real_X) // 2)].reshape(-1, 2)
            measures["interpolation_path_ratio"] = _path_ratio(model, embed, real_X, pairs)
            measures.update(_likelihood_measures(model, noisy_X, n_samples))
            measures["roc_auc"] = roc_auc(unseen.astype(int), anomaly_scores(model, X_test))
            rows += [(name, seed, metric, float(value)) for metric, value in measures.items()]
    return pd.DataFrame(rows, columns=COLUMNS)


def _embedding(features: Any, X_train: np.ndarray):
    """The feature map the sample measures work in."""
    if features is not None:
        return features.features
    scaler = StandardScaler().fit(np.asarray(X_train).reshape(len(X_train), -1))
    return lambda X: scaler.transform(np.asarray(X).reshape(len(X), -1))


def _sample_measures(model, embed, features, real_X, y_train, n_samples) -> dict[str, float]:
    samples = model.sample(n_samples, random_state=0)
    real = embed(real_X[:n_samples])
    generated = embed(samples)
    precision, recall = precision_recall(real, generated, n_neighbors=3)
    density, coverage = density_coverage(real, generated, n_neighbors=5)
    measures = dict(
        frechet_distance=frechet_distance(real, generated),
        precision=precision,
        recall=recall,
        density=density,
        coverage=coverage,
    )
    if hasattr(features, "predict"):
        predicted = features.predict(samples)
        _, kl = class_coverage(predicted, y_train, int(max(y_train.max(), predicted.max())) + 1)
        # The share of the training classes that samples fall in (an unseen class is no mode).
        measures.update(class_coverage=np.isin(np.unique(y_train), predicted).mean(), class_kl=kl)
    return measures


def _latent_measures(model, X_train, y_train, real_X, real_y) -> dict[str, float]:
    if len(np.unique(y_train)) < 2:  # one class: nothing for the codes to tell apart
        return dict(latent_knn_accuracy=np.nan, latent_linear_probe=np.nan)
    train_codes, test_codes = model.transform(X_train), model.transform(real_X)
    knn = KNeighborsClassifier(5).fit(train_codes, y_train)
    probe = LogisticRegression(max_iter=1000).fit(train_codes, y_train)
    return dict(
        latent_knn_accuracy=knn.score(test_codes, real_y),
        latent_linear_probe=probe.score(test_codes, real_y),
    )


def _path_ratio(model, embed, real_X, pairs: np.ndarray, n_steps: int = 8) -> float:
    ratios = []
    for first, second in pairs:
        path = embed(model.interpolate(real_X[first], real_X[second], n_steps=n_steps))
        steps = np.linalg.norm(np.diff(path, axis=0), axis=1).sum()
        ratios.append(steps / max(np.linalg.norm(path[-1] - path[0]), 1e-12))
    return float(np.median(ratios))


def _likelihood_measures(model: Any, real_X: np.ndarray, n_samples: int) -> dict[str, float]:
    half = len(real_X) // 2
    validation, test = real_X[:half], real_X[half:]
    n_values = np.prod(real_X.shape[1:])
    samples = model.sample(n_samples, random_state=0)  # those the sample measures compare
    parzen, _ = parzen_log_likelihood(_flat(samples), _flat(validation), _flat(test))
    measures = {"parzen_log_likelihood": parzen / n_values}
    if hasattr(model, "log_likelihood"):
        own = model.log_likelihood(test, random_state=0)
        measures["log_likelihood"] = own.mean() / n_values
    return measures


def _flat(X: np.ndarray) -> np.ndarray:
    """Samples as rows of values (images flattened)."""
    return np.asarray(X).reshape(len(X), -1)
