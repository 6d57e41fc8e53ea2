"""How close generated samples come to real data: distances between two sets of feature vectors.

The features are whatever the caller chooses: standardised rows for tabular
data, a classifier's penultimate layer for images. With features other than
Inception-v3's pool layer, the Fréchet distance here is *not* the published FID
(Heusel et al. 2017), only the same formula; compare its values only with values
computed on the same features.
"""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from numpy.typing import ArrayLike
from scipy import linalg
from scipy.spatial.distance import cdist
from sklearn.neighbors import KernelDensity
from sklearn.utils import check_array

__all__ = [
    "class_coverage",
    "density_coverage",
    "frechet_distance",
    "parzen_log_likelihood",
    "precision_recall",
]


def frechet_distance(real: np.ndarray, generated: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two sets of feature vectors.

    ``||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2))``, with each set's
    mean and covariance (Dowson & Landau 1982), as FID computes it on its own
    features.

    Parameters
    ----------
    real, generated : array-like of shape (n_samples, n_features)

    Returns
    -------
    distance : float
        0 for two sets of the same mean and covariance.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(500, 3))
    >>> round(frechet_distance(X, X), 6), round(frechet_distance(X, X + 2), 6)
    (0.0, 12.0)
    """
    real, generated = _features(real, generated)
    mean_real, mean_generated = real.mean(axis=0), generated.mean(axis=0)
    cov_real = np.atleast_2d(np.cov(real, rowvar=False))
    cov_generated = np.atleast_2d(np.cov(generated, rowvar=False))
    root = _product_root(cov_real, cov_generated)
    distance = np.sum((mean_real - mean_generated) ** 2) + np.trace(
        cov_real + cov_generated - 2 * root
    )
    return float(max(distance, 0.0))


def precision_recall(
    real: np.ndarray, generated: np.ndarray, n_neighbors: int = 3
) -> tuple[float, float]:
    """k-NN precision and recall of generated samples (Kynkäänniemi et al. 2019).

    Each set's manifold is the union of balls around its points, each of
    radius the distance to the point's ``n_neighbors``-th nearest neighbour
    in its own set. Precision: the share of generated samples inside the
    real manifold (are samples realistic?); recall: the share of real samples
    inside the generated manifold (is the data covered?).

    Parameters
    ----------
    real, generated : array-like of shape (n_samples, n_features)
    n_neighbors : int, default=3
        The paper's k.

    Returns
    -------
    precision, recall : float
    """
    real, generated = _features(real, generated)
    return (
        float(_inside(generated, real, n_neighbors).any(axis=1).mean()),
        float(_inside(real, generated, n_neighbors).any(axis=1).mean()),
    )


def density_coverage(
    real: np.ndarray, generated: np.ndarray, n_neighbors: int = 5
) -> tuple[float, float]:
    """Density and coverage of generated samples (Naeem et al. 2020).

    Balls around the real points only (radius: the distance to the
    ``n_neighbors``-th nearest real neighbour), which a few outlying real
    points inflate less than precision and recall. Density: how many real
    balls hold each generated sample, over ``n_neighbors`` (about 1 when the
    two sets come from one distribution, above 1 for samples packed where the
    data is dense); coverage: the share of real points whose ball holds a
    generated sample.

    Returns
    -------
    density, coverage : float
    """
    real, generated = _features(real, generated)
    inside = _inside(generated, real, n_neighbors)  # (generated, real)
    return float(inside.sum() / (n_neighbors * len(generated))), float(inside.any(axis=0).mean())


def class_coverage(
    predicted: np.ndarray, reference: np.ndarray, n_classes: int
) -> tuple[float, float]:
    """Mode coverage of samples, from the classes a classifier gives them.

    Parameters
    ----------
    predicted : array-like of int
        The class predicted for each generated sample.
    reference : array-like of int
        The classes of real data, for the histogram samples should match.
    n_classes : int

    Returns
    -------
    covered : float
        The share of the ``n_classes`` classes that some sample falls in.
    kl : float
        KL(sample class histogram || reference histogram, each class
        counted once more), in nats: 0 when the samples spread over the
        classes as the data does, about ``log(n_classes)`` for a uniform
        reference when every sample falls in one class.
    """
    predicted, reference = (
        _class_labels(y, name, n_classes)
        for y, name in ((predicted, "predicted"), (reference, "reference"))
    )
    if not len(predicted):
        raise ValueError("predicted holds no samples: there is no histogram to compare.")
    counts = np.bincount(predicted, minlength=n_classes)
    # One more count per class (Laplace): a class absent from the data gives a finite KL.
    reference_counts = np.bincount(reference, minlength=n_classes) + 1
    p, q = counts / counts.sum(), reference_counts / reference_counts.sum()
    present = p > 0
    return float(present.mean()), float(np.sum(p[present] * np.log(p[present] / q[present])))


def _class_labels(labels: ArrayLike, name: str, n_classes: int) -> np.ndarray:
    """``labels`` as integers from 0 to ``n_classes`` - 1 (whole floats taken), or refused."""
    values = np.asarray(labels).ravel()
    with np.errstate(invalid="ignore"):  # NaN: refused below
        as_int = values.astype(np.int64)
    if np.any(as_int != values) or np.any((as_int < 0) | (as_int >= n_classes)):
        raise ValueError(f"{name} holds labels other than the classes 0 to {n_classes - 1}.")
    return as_int


def parzen_log_likelihood(
    generated: np.ndarray,
    validation: np.ndarray,
    test: np.ndarray,
    bandwidths: np.ndarray | None = None,
) -> tuple[float, float]:
    """Mean log-likelihood of test data under a Gaussian Parzen window on generated samples.

    What a model without a likelihood (a GAN) can offer in its place, as
    Goodfellow et al. (2014) reported for theirs: a Gaussian kernel density
    on the samples, its bandwidth chosen by the likelihood of a validation
    set. In many dimensions it is a poor estimate, far below a model's true
    likelihood (Theis et al., 2016): compare it between models, not with an
    explicit likelihood.

    Parameters
    ----------
    generated : array-like of shape (n_samples, n_features)
        The kernels' centres.
    validation, test : array-like of shape (n, n_features)
        Real data: one chooses the bandwidth, the other is scored.
    bandwidths : array-like, optional
        Candidates; by default 13 from 0.01 to 10 times the generated
        samples' mean standard deviation, evenly spaced on a log scale.

    Returns
    -------
    log_likelihood : float
        Mean over ``test`` of its log-density, in nats.
    bandwidth : float
        The one chosen.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> value, _ = parzen_log_likelihood(
    ...     rng.normal(size=(5000, 1)), rng.normal(size=(500, 1)), rng.normal(size=(5000, 1))
    ... )
    >>> round(value, 1)  # N(0, 1): -log(2 pi e) / 2 = -1.42
    -1.4
    """
    validation, generated = _features(validation, generated, names=("validation", "generated"))
    test, _ = _features(test, generated, names=("test", "generated"), min_samples=1)
    if bandwidths is None:
        # Identical samples have no spread to scale by: then candidates around 1.
        bandwidths = (generated.std(axis=0).mean() or 1.0) * np.logspace(-2, 1, 13)
    bandwidths = np.asarray(bandwidths, dtype=np.float64).ravel()
    if not len(bandwidths) or not np.all(bandwidths > 0) or not np.isfinite(bandwidths).all():
        raise ValueError(f"bandwidths must be positive and finite, at least one; got {bandwidths}.")
    best = max(
        (KernelDensity(bandwidth=float(b)).fit(generated).score(validation), float(b))
        for b in bandwidths
    )[1]
    return float(KernelDensity(bandwidth=best).fit(generated).score_samples(test).mean()), best


def _product_root(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """(first @ second)^(1/2), real up to rounding. Features with dead units (ReLU) give
    singular covariances, whose product scipy warns of but roots well; where the root is
    not finite, both get a small ridge, as common FID code does."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(first @ second)
        if not np.isfinite(root).all():
            ridge = 1e-6 * np.eye(len(first))
            root = linalg.sqrtm((first + ridge) @ (second + ridge))
    return root.real


def _features(
    real: np.ndarray,
    generated: np.ndarray,
    names: tuple[str, str] = ("real", "generated"),
    min_samples: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    real = check_array(real, dtype=np.float64, ensure_min_samples=min_samples)
    generated = check_array(generated, dtype=np.float64, ensure_min_samples=2)
    if real.shape[1] != generated.shape[1]:
        raise ValueError(
            f"{names[0]} has {real.shape[1]} features and {names[1]} {generated.shape[1]}: "
            "features must come from the same extractor."
        )
    return real, generated


def _inside(points: np.ndarray, centres: np.ndarray, n_neighbors: int) -> np.ndarray:
    """Whether each point lies in each centre's ball (radius: its k-th neighbour among the
    centres), shape (n_points, n_centres)."""
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, Integral) or n_neighbors < 1:
        raise ValueError(f"n_neighbors must be an integer of at least 1, got {n_neighbors!r}.")
    if n_neighbors >= len(centres):
        raise ValueError(f"n_neighbors={n_neighbors} needs more than {len(centres)} samples.")
    # Distances from differences (not |a|^2 + |b|^2 - 2ab, which cancels), the radii's and
    # the points' alike: a copy of a centre, or its k-th neighbour, lands inside its ball.
    # A centre is its own nearest neighbour (at 0): its k-th other one is at index k.
    radii = np.partition(cdist(centres, centres), n_neighbors, axis=1)[:, n_neighbors]
    return cdist(points, centres) <= radii[None, :]
