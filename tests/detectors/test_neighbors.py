"""Scoring by distance to the training data in the encoder's feature space (n_neighbors)."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors

from anomaly import GANDetector, TimeSeriesDetector, VAEDetector, VAEGANDetector, load
from anomaly.adapters import PyODStyle
from anomaly.detectors import neighbors
from anomaly.detectors.neighbors import neighbor_distance, reference_index
from tests.conftest import bar_images

DETECTORS = [VAEDetector, GANDetector, VAEGANDetector]
SMALL = dict(conv_channels=(8, 16), hidden_sizes=(16,), latent_dim=4, random_state=0)


def test_neighbor_distance_is_the_mean_over_the_nearest_references():
    references = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0], [10.0, 0.0]])
    features = torch.tensor([[0.0, 0.0], [9.0, 0.0]])
    distances = neighbor_distance(features, references, 2)
    torch.testing.assert_close(distances, torch.tensor([1.5, 3.5], dtype=torch.float64))
    # A training sample is not its own neighbour.
    excluded = torch.tensor([[True, False, False, False], [False] * 4])
    torch.testing.assert_close(
        neighbor_distance(features, references, 2, excluded),
        torch.tensor([3.5, 3.5], dtype=torch.float64),
    )
    # More neighbours than references: the mean over all of them.
    torch.testing.assert_close(
        neighbor_distance(features, references[:1], 5)[:1], torch.zeros(1, dtype=torch.float64)
    )


def test_exclusions_that_leave_a_row_nothing_are_dropped():
    references = torch.tensor([[0.0], [2.0]])
    everything = torch.tensor([[True, True]])
    distance = neighbor_distance(torch.tensor([[0.0]]), references, 1, everything)
    torch.testing.assert_close(distance, torch.zeros(1, dtype=torch.float64))


def test_each_row_leaves_out_only_its_own_exclusions():
    references = torch.tensor([[0.0], [1.0], [3.0]])
    features = torch.tensor([[0.0], [0.0], [0.0]])
    excluded = torch.tensor([[True, False, False], [True, True, False], [True, True, True]])
    distances = neighbor_distance(features, references, 2, excluded)
    # Nearest two of 1 and 3; the one left; none left, so all three's nearest two.
    torch.testing.assert_close(distances, torch.tensor([2.0, 3.0, 0.5], dtype=torch.float64))
    alone = neighbor_distance(features[:1], references, 2, excluded[:1])
    torch.testing.assert_close(alone, distances[:1])


def test_a_refit_without_neighbors_keeps_no_references(bars):
    images, _, _ = bars
    detector = VAEDetector(epochs=1, **SMALL).fit(images[:50])
    assert hasattr(detector, "neighbor_features_")
    detector.set_params(n_neighbors=None).fit(images[:50])
    assert not hasattr(detector, "neighbor_features_")


def test_references_are_all_samples_or_a_seeded_sample(monkeypatch):
    np.testing.assert_array_equal(reference_index(5, seed=0), np.arange(5))
    monkeypatch.setattr(neighbors, "MAX_REFERENCES", 3)
    kept = reference_index(10, seed=1)
    assert len(kept) == 3 and (np.diff(kept) > 0).all()
    np.testing.assert_array_equal(kept, reference_index(10, seed=1))


@pytest.fixture(scope="module")
def bars():
    return bar_images()


@pytest.mark.parametrize("detector_class", DETECTORS)
def test_whole_images_score_by_their_nearest_training_images(detector_class, bars):
    images, labels, _ = bars
    detector = detector_class(epochs=3, **SMALL).fit(images[:200])
    assert detector.n_neighbors_ == 5
    # What the docstring says: minus the mean distance of the encoder's features to those
    # of the 5 nearest training images (here every training image is a reference).
    features = detector._blockwise(images.reshape(len(images), -1), detector._features_batch, "")
    reference = features[:200]
    np.testing.assert_allclose(detector.neighbor_features_, reference, rtol=1e-6)
    distances, _ = NearestNeighbors(n_neighbors=5).fit(reference).kneighbors(features)
    scores = detector.score_samples(images)
    np.testing.assert_allclose(scores, -distances.mean(axis=1), rtol=1e-4, atol=1e-4)
    # The bright square is far from every training image.
    assert roc_auc_score(labels, -scores) > 0.9
    # offset_ comes from the training images scored without themselves, as PyOD's KNN does.
    own_out, _ = NearestNeighbors(n_neighbors=6).fit(reference).kneighbors(reference)
    q1, q3 = np.percentile(-own_out[:, 1:].mean(axis=1), [25, 75])
    assert detector.offset_ == pytest.approx(q1 - 1.5 * (q3 - q1), rel=1e-4)


def test_none_scores_by_the_scoring_rule(bars):
    images, _, _ = bars
    by_rule = VAEDetector(epochs=2, n_neighbors=None, **SMALL).fit(images[:200])
    assert by_rule.n_neighbors_ is None and not hasattr(by_rule, "neighbor_features_")
    # The maps are the scoring rule's, with or without neighbours.
    by_neighbors = VAEDetector(epochs=2, **SMALL).fit(images[:200])
    np.testing.assert_array_equal(
        by_neighbors.anomaly_map(images[:3]), by_rule.anomaly_map(images[:3])
    )
    np.testing.assert_allclose(
        -by_rule.anomaly_map(images[:3]).sum(axis=(1, 2)),
        by_rule.score_samples(images[:3]),
        rtol=1e-5,
    )


def test_auto_keeps_rows_patches_and_several_variables_on_the_scoring_rule():
    rng = np.random.default_rng(0)
    assert VAEDetector(epochs=1, **SMALL).fit(rng.normal(size=(50, 4))).n_neighbors_ is None
    patched = VAEDetector(epochs=1, patch_size=16, n_draws=2, **SMALL)
    assert patched.fit(rng.normal(size=(3, 40, 40))).n_neighbors_ is None
    series = rng.normal(size=(300, 2))
    windows = TimeSeriesDetector(VAEDetector(epochs=1, **SMALL)).fit(series)
    assert windows.window_shape_ == (2, 32) and windows.detector_.n_neighbors_ is None


def test_windows_of_one_variable_score_by_neighbors():
    t = np.arange(600)
    series = np.sin(t / 5)[:, None] + 0.05 * np.random.default_rng(0).normal(size=(600, 1))
    detector = TimeSeriesDetector(VAEDetector(epochs=3, **SMALL)).fit(series[:400])
    assert detector.window_shape_ == (1, 64) and detector.step_scoring_ == "window"
    assert detector.detector_.n_neighbors_ == 5
    test = series[400:].copy()
    test[100:110] = 1.5  # a plateau where the sine should turn
    scores = -detector.score_samples(test)
    labels = np.zeros(len(test), dtype=bool)
    labels[100:110] = True
    assert roc_auc_score(labels, scores) > 0.9
    # offset_ leaves out each training window's near copies (its shifts by a few steps), so
    # the fitted series is not flagged wholesale, nor is a new stretch of the same sine.
    assert (detector.predict(series[:400]) == -1).mean() < 0.05
    assert (detector.predict(series[400:500]) == -1).mean() < 0.05
    # window_size stays what the user sets.
    fixed = TimeSeriesDetector(VAEDetector(epochs=1, **SMALL), window_size=20).fit(series)
    assert fixed.window_shape_ == (1, 20)


@pytest.mark.parametrize("contamination", [0.1, 0.2])
def test_fit_predict_flags_the_contamination_share_of_the_training_images(bars, contamination):
    # Each training image is left out of its own neighbours there, as offset_ is set; predict
    # afterwards counts it among them (at distance 0) and flags fewer.
    images = bars[0][:60]
    detector = VAEDetector(epochs=1, contamination=contamination, **SMALL)
    labels = detector.fit_predict(images)
    assert detector.n_neighbors_ == 5
    assert (labels == -1).mean() == pytest.approx(contamination, abs=0.02)
    assert (detector.predict(images) == -1).mean() < contamination
    styled = PyODStyle(VAEDetector(epochs=1, contamination=contamination, **SMALL)).fit(images)
    np.testing.assert_array_equal(styled.labels_, labels == -1)


def test_rows_score_by_neighbors_when_asked():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 4))
    detector = VAEDetector(epochs=2, n_neighbors=3, **SMALL).fit(X)
    assert detector.neighbor_features_.shape == (100, 16)
    scores = detector.score_samples(np.r_[X[:5], [[9.0, -9.0, 9.0, -9.0]]])
    assert scores[-1] < scores[:5].min()


def test_neighbors_with_patches_is_a_clear_error():
    images = np.random.default_rng(0).normal(size=(3, 40, 40))
    with pytest.raises(ValueError, match="cut into patches and scored by their maps"):
        VAEDetector(epochs=1, patch_size=16, n_neighbors=5, **SMALL).fit(images)


@pytest.mark.parametrize("detector_class", DETECTORS)
def test_save_load_and_pickle_keep_the_references(detector_class, bars, tmp_path):
    images, _, _ = bars
    detector = detector_class(epochs=1, **SMALL).fit(images[:100])
    expected = detector.score_samples(images)
    detector.save(tmp_path / "model.safetensors")
    loaded = load(tmp_path / "model.safetensors")
    assert loaded.n_neighbors_ == 5
    np.testing.assert_array_equal(loaded.score_samples(images), expected)
    copy = pickle.loads(pickle.dumps(detector))
    np.testing.assert_array_equal(copy.score_samples(images), expected)


def test_models_from_before_neighbors_score_by_their_rule(bars, tmp_path):
    images, _, _ = bars
    detector = VAEDetector(epochs=1, n_neighbors=None, **SMALL).fit(images[:100])
    expected = detector.score_samples(images)
    state = detector.__getstate__()
    del state["n_neighbors"], state["n_neighbors_"]
    state["fitted_params_"] = {
        k: v for k, v in state["fitted_params_"].items() if k != "n_neighbors"
    }
    old = VAEDetector.__new__(VAEDetector)
    old.__setstate__(state)
    assert old.get_params()["n_neighbors"] is None and old.n_neighbors_ is None
    np.testing.assert_array_equal(old.score_samples(images), expected)
