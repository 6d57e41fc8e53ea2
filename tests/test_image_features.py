"""The image classifier whose features judge generated images (anomaly/image_features.py)."""

import numpy as np
import pytest

from anomaly import image_features
from anomaly.image_features import ImageFeatures, classifier_features, train_classifier


def _halves(n_images: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images bright on the left (class 0) or on the right (class 1), with noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n_images)
    images = 0.2 * rng.random((n_images, 12, 12)).astype(np.float32)
    for image, label in zip(images, labels):
        image[:, 6 * label : 6 * label + 6] += 0.8
    return images, labels


def test_the_classifier_learns_a_clear_task_and_gives_features():
    images, labels = _halves(400, 0)
    extractor = ImageFeatures(train_classifier(images, labels, epochs=3, batch_size=32))
    test_images, test_labels = _halves(200, 1)
    assert np.mean(extractor.predict(test_images) == test_labels) > 0.95
    assert extractor.features(test_images[:, None]).shape == (200, 128)


def test_training_is_reproducible():
    images, labels = _halves(100, 0)
    first = ImageFeatures(train_classifier(images, labels, epochs=1, random_state=3))
    second = ImageFeatures(train_classifier(images, labels, epochs=1, random_state=3))
    assert np.array_equal(first.features(images), second.features(images))


@pytest.mark.parametrize("dataset", ["fashion_mnist", "mnist"])
def test_a_classifier_is_trained_once_per_set_and_cached(tmp_path, monkeypatch, dataset):
    # Small stand-ins for the set's two splits: the caching is what is tested.
    calls = []

    def load(subset, data_home=None, return_X_y=True):
        calls.append(subset)
        images, labels = _halves(64, 0 if subset == "train" else 1)
        return np.pad(images, ((0, 0), (8, 8), (8, 8))), labels * 9  # 28 x 28, classes 0 and 9

    monkeypatch.setitem(image_features.LABELLED_IMAGE_SETS, dataset, load)
    trained = classifier_features(dataset, tmp_path, epochs=1)
    assert calls == ["train", "test"] and 0 <= trained.test_accuracy <= 1
    assert (tmp_path / "models" / f"{dataset}_classifier.safetensors").exists()
    cached = classifier_features(dataset, tmp_path, epochs=1)
    assert calls == ["train", "test"]  # not trained again
    assert cached.test_accuracy == trained.test_accuracy
    images, _ = load("test")
    assert np.array_equal(cached.features(images), trained.features(images))


def test_an_unknown_set_is_refused():
    with pytest.raises(ValueError, match="dataset must be one of"):
        classifier_features("cifar10")


def test_images_of_another_shape_are_refused():
    with pytest.raises(ValueError, match=r"\(n, H, W\) or \(n, C, H, W\)"):
        ImageFeatures(train_classifier(*_halves(20, 0), epochs=1)).features(np.zeros((2, 3)))
