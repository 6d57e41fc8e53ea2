"""Shared fixtures: small synthetic data and a quickly fitted detector."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from anomaly import GANDetector, VAEDetector, VAEGANDetector

# Real data: $ANOMALY_DATA, else the development machines' copy beside the repository.
SHARED_DATASETS = Path(
    os.environ.get("ANOMALY_DATA") or Path(__file__).resolve().parents[2] / "shared" / "datasets"
)

# Tiny network, few epochs: what the tests need to exercise the code paths.
FAST = dict(hidden_sizes=(16,), latent_dim=2, epochs=5, n_draws=4, device="cpu")


def fast_vae(**params) -> VAEDetector:
    return VAEDetector(**{**FAST, "random_state": 0, **params})


def fast_gan(**params) -> GANDetector:
    fast = dict(hidden_sizes=(16,), latent_dim=2, epochs=5, anogan_steps=10, device="cpu")
    return GANDetector(**{**fast, "random_state": 0, **params})


def clear_anomalies(n_normal: int = 400, n_anomalous: int = 20, seed: int = 0):
    """Normal rows on a 2-D plane inside 6-D space; anomalies far off it."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n_normal + n_anomalous, 2))
    X = latent @ rng.normal(size=(2, 6)) + 0.05 * rng.normal(size=(n_normal + n_anomalous, 6))
    X[n_normal:] += rng.choice([-4.0, 4.0], size=(n_anomalous, 6))
    y = np.r_[np.zeros(n_normal, dtype=int), np.ones(n_anomalous, dtype=int)]
    return X, y


@pytest.fixture(scope="session")
def blobs():
    return np.random.default_rng(0).normal(size=(120, 4))


def fast_vaegan(**params) -> VAEGANDetector:
    return VAEGANDetector(**{**FAST, "random_state": 0, **params})


DETECTOR_FACTORIES = {
    "VAEDetector": fast_vae,
    "GANDetector": fast_gan,
    "VAEGANDetector": fast_vaegan,
}


@pytest.fixture(params=list(DETECTOR_FACTORIES))
def make(request):
    """A factory of small, seeded detectors, one per detector class."""
    return DETECTOR_FACTORIES[request.param]


@pytest.fixture(scope="session", params=list(DETECTOR_FACTORIES))
def fitted(request, blobs):
    """A small detector of each class fitted on ``blobs`` (do not modify it)."""
    return DETECTOR_FACTORIES[request.param]().fit(blobs)


@pytest.fixture
def shared_datasets() -> Path:
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATASETS}")
    return SHARED_DATASETS


def bar_images(n_normal: int = 200, n_anomalous: int = 20, size=(12, 10), channels=None, seed=0):
    """Images in [0, 1]: a bright horizontal bar at a random row; anomalies also hold a
    bright 3x3 square away from the bar. Returns images, labels and the squares' masks."""
    rng = np.random.default_rng(seed)
    n, (height, width) = n_normal + n_anomalous, size
    images = 0.05 * rng.uniform(size=(n, height, width))
    rows = rng.integers(1, height - 1, size=n)
    images[np.arange(n), rows, :] = 0.9
    masks = np.zeros((n, height, width), dtype=bool)
    for i in range(n_normal, n):
        top = rng.choice([t for t in range(height - 2) if abs(t + 1 - rows[i]) > 2])
        left = rng.integers(0, width - 2)
        masks[i, top : top + 3, left : left + 3] = True
    images[masks] = 1.0
    if channels is not None:
        images = np.repeat(images[:, None], channels, axis=1)
    labels = np.r_[np.zeros(n_normal, dtype=int), np.ones(n_anomalous, dtype=int)]
    return images, labels, masks
