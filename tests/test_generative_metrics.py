"""Distances between sets of features (anomaly/generative_metrics.py)."""

import numpy as np
import pytest

from anomaly.generative_metrics import (
    class_coverage,
    density_coverage,
    frechet_distance,
    parzen_log_likelihood,
    precision_recall,
)


def _whitened(n_samples: int, n_features: int, seed: int) -> np.ndarray:
    """Samples of mean exactly 0 and sample covariance exactly the identity."""
    Z = np.random.default_rng(seed).normal(size=(n_samples, n_features))
    Z -= Z.mean(axis=0)
    return Z @ np.linalg.inv(np.linalg.cholesky(np.cov(Z, rowvar=False))).T


def test_frechet_distance_of_a_set_to_itself_is_zero():
    X = np.random.default_rng(0).normal(size=(300, 5))
    assert frechet_distance(X, X) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_matches_the_closed_form_of_two_gaussians():
    # Diagonal covariances: ||mu1 - mu2||^2 + sum((s1 - s2)^2).
    mean_a, mean_b = np.array([0.0, 1.0, -2.0]), np.array([3.0, 1.0, 0.5])
    scale_a, scale_b = np.array([1.0, 2.0, 0.5]), np.array([2.0, 2.0, 1.5])
    A = mean_a + _whitened(400, 3, 0) * scale_a
    B = mean_b + _whitened(700, 3, 1) * scale_b
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum((scale_a - scale_b) ** 2)
    assert frechet_distance(A, B) == pytest.approx(expected, rel=1e-9)


def test_precision_and_recall_on_hand_made_sets():
    grid = np.array([[x, y] for x in range(10) for y in range(10)], dtype=float)
    # Samples on the left half of the grid: all realistic, half the data covered.
    precision, recall = precision_recall(grid, grid[grid[:, 0] < 5] + 0.1, n_neighbors=3)
    assert precision == 1.0 and 0.45 <= recall <= 0.6
    precision, recall = precision_recall(grid, grid + 100, n_neighbors=3)
    assert precision == 0.0 and recall == 0.0


def test_density_and_coverage_on_hand_made_sets():
    grid = np.array([[x, y] for x in range(10) for y in range(10)], dtype=float)
    density, coverage = density_coverage(grid, grid, n_neighbors=4)
    assert coverage == 1.0 and density >= 1.0
    density, coverage = density_coverage(grid, np.repeat(grid[:1], 50, axis=0), n_neighbors=4)
    assert coverage <= 0.05


def test_copies_of_duplicated_samples_far_from_the_origin_are_inside():
    # Five copies of each row: every radius is 0, and a copy lies at distance exactly 0.
    real = np.repeat(np.random.default_rng(0).normal(size=(10, 8)) * 300 + 1000, 5, axis=0)
    assert precision_recall(real, real.copy()) == (1.0, 1.0)
    assert density_coverage(real, real.copy(), n_neighbors=3)[1] == 1.0


def test_a_collapsed_generator_covers_few_modes():
    reference = np.repeat(np.arange(10), 100)
    covered, kl = class_coverage(np.full(500, 3), reference, n_classes=10)
    assert covered == 0.1 and kl == pytest.approx(np.log(10))
    covered, kl = class_coverage(np.tile(np.arange(10), 50), reference, n_classes=10)
    assert covered == 1.0 and kl == pytest.approx(0.0)


def test_features_of_different_widths_are_refused():
    with pytest.raises(ValueError, match="same extractor"):
        frechet_distance(np.zeros((5, 2)), np.zeros((5, 3)))


@pytest.mark.parametrize("n_neighbors", [0, -1, 2.0, True])
def test_fewer_than_one_neighbour_or_no_integer_is_refused(n_neighbors):
    X = np.random.default_rng(0).normal(size=(10, 2))
    with pytest.raises(ValueError, match="an integer of at least 1"):
        precision_recall(X, X, n_neighbors=n_neighbors)


def test_class_coverage_refuses_no_samples_and_unknown_classes():
    assert class_coverage(np.array([0.0, 1.0]), [0, 1], n_classes=2) == (1.0, 0.0)
    with pytest.raises(ValueError, match="no samples"):
        class_coverage(np.array([], dtype=int), [0, 1], n_classes=2)
    with pytest.raises(ValueError, match="classes 0 to 1"):
        class_coverage([0, 5], [0, 1], n_classes=2)


def test_parzen_scores_one_test_row_and_names_what_it_refuses():
    rng = np.random.default_rng(0)
    generated, validation = rng.normal(size=(200, 2)), rng.normal(size=(50, 2))
    value, bandwidth = parzen_log_likelihood(generated, validation, np.zeros((1, 2)))
    assert np.isfinite(value) and bandwidth > 0
    with pytest.raises(ValueError, match="test has 3 features and generated 2"):
        parzen_log_likelihood(generated, validation, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="validation has 3 features"):
        parzen_log_likelihood(generated, np.zeros((4, 3)), validation)
    for bandwidths in ([], [0.0, 1.0], [np.nan]):
        with pytest.raises(ValueError, match="bandwidths must be positive"):
            parzen_log_likelihood(generated, validation, validation, bandwidths=bandwidths)
