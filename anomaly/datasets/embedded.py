"""Small anomaly-detection sets that need no download: scikit-learn's bundled data, or generated.

Each is ``(X, y)`` with ``y`` 1 for the anomalies, built the usual way from a
classification set: one or more classes are normal and a small seeded sample
of another class plays the anomalies. They run in seconds, for first looks
and for ``anomaly compare``; real benchmarks use the loaders of real data.

``python -m anomaly.datasets.embedded DIR`` writes them as CSV files (features,
then ``label``) into DIR; the repository keeps that output in ``datasets/embedded/``
for reading without Python, and a test checks it against the generators.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_digits, load_wine, make_blobs

__all__ = ["load_embedded", "make_clusters"]


def make_clusters(
    n_normal: int = 1000, n_anomalies: int = 50, n_features: int = 10, random_state: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Three Gaussian clusters (normal) and points uniform over their bounding box (anomalies).

    Examples
    --------
    >>> X, y = make_clusters(n_normal=100, n_anomalies=5)
    >>> X.shape, int(y.sum())
    ((105, 10), 5)
    """
    rng = np.random.default_rng(random_state)
    normal, _ = make_blobs(
        n_samples=n_normal, n_features=n_features, centers=3, random_state=random_state
    )
    low, high = normal.min(axis=0), normal.max(axis=0)
    anomalies = rng.uniform(low, high, size=(n_anomalies, n_features))
    X = np.r_[normal, anomalies]
    y = np.r_[np.zeros(n_normal, dtype=int), np.ones(n_anomalies, dtype=int)]
    return X, y


def _minority(
    X: np.ndarray, target: np.ndarray, normal: list[int], anomalous: int, n: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """All samples of the ``normal`` classes and ``n`` seeded ones of the ``anomalous`` class."""
    rng = np.random.default_rng(seed)
    inliers = np.flatnonzero(np.isin(target, normal))
    outliers = rng.choice(np.flatnonzero(target == anomalous), size=n, replace=False)
    rows = np.r_[inliers, outliers]
    return X[rows].astype(float), np.r_[np.zeros(len(inliers)), np.ones(n)].astype(int)


def load_embedded(random_state: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Four small sets as ``{name: (X, y)}``, with no download.

    - ``breast_cancer``: the 357 benign tumours and 20 malignant ones (30 features);
    - ``wine``: cultivars 0 and 1 (130 wines) and 10 of cultivar 2 (13 features);
    - ``digits``: the 178 zeros and 20 other digits (8 x 8 pixels as 64 features);
    - ``clusters``: :func:`make_clusters`, 1,000 normal points and 50 anomalies.

    Examples
    --------
    >>> sets = load_embedded()
    >>> {name: (X.shape, int(y.sum())) for name, (X, y) in sets.items()}["wine"]
    ((140, 13), 10)
    """
    cancer, wine, digits = load_breast_cancer(), load_wine(), load_digits()
    rng = np.random.default_rng(random_state)
    # Digits other than 0, as one "anomalous class" for _minority.
    digit_labels = np.where(digits.target == 0, 0, 1)
    seeds = rng.integers(2**31 - 1, size=4)
    return {
        "breast_cancer": _minority(cancer.data, cancer.target, [1], 0, 20, seeds[0]),
        "wine": _minority(wine.data, wine.target, [0, 1], 2, 10, seeds[1]),
        "digits": _minority(digits.data, digit_labels, [0], 1, 20, seeds[2]),
        "clusters": make_clusters(random_state=int(seeds[3])),
    }


def write_embedded(folder: str | Path) -> list[Path]:
    """Write every set of :func:`load_embedded` to ``folder/<name>.csv``; the paths written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, (X, y) in load_embedded().items():
        frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]).assign(label=y)
        paths.append(folder / f"{name}.csv")
        frame.to_csv(paths[-1], index=False, float_format="%.10g")
    return paths


if __name__ == "__main__":
    for path in write_embedded(sys.argv[1] if len(sys.argv) > 1 else "datasets/embedded"):
        print(path)
