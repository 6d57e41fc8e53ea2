"""Image features for judging generated images, with no download: a small classifier of ours.

FID and its kin compare samples in the feature space of Inception-v3, trained on
ImageNet, which would mean a download. Here a small convolutional classifier
(:class:`anomaly.networks.ImageClassifier`) is trained by our one training loop on
the labelled training split; its penultimate layer gives the features for
:mod:`anomaly.generative_metrics` and its predictions the classes for mode
coverage. Distances in this space are not Inception's: compare them only with
each other.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from anomaly.datasets import get_data_home, load_fashion_mnist, load_mnist
from anomaly.model_file import read_model_file, write_model_file
from anomaly.networks import ImageClassifier
from anomaly.training import Objective, Phase, TrainingConfig, seeded, train

__all__ = ["LABELLED_IMAGE_SETS", "ImageFeatures", "classifier_features", "train_classifier"]

# Images scored at a time: bounded memory.
_BLOCK = 1024
# The labelled image sets a classifier can be trained on, by name: their loaders.
LABELLED_IMAGE_SETS = {"fashion_mnist": load_fashion_mnist, "mnist": load_mnist}


@dataclass
class ImageFeatures:
    """A trained :class:`~anomaly.networks.ImageClassifier` and its accuracy on held-out images."""

    network: ImageClassifier
    test_accuracy: float | None = None

    def features(self, images: np.ndarray) -> np.ndarray:
        """Penultimate-layer features of images (n, H, W) or (n, C, H, W), shape (n, n_features)."""
        return self._blocks(images, self.network.features)

    def predict(self, images: np.ndarray) -> np.ndarray:
        """The class each image is given."""
        return self._blocks(images, self.network).argmax(axis=1)

    def _blocks(self, images: np.ndarray, function) -> np.ndarray:
        batch = _as_batch(images)
        self.network.eval()
        with torch.no_grad():
            parts = [function(batch[i : i + _BLOCK]).numpy() for i in range(0, len(batch), _BLOCK)]
        return np.concatenate(parts)


def train_classifier(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    epochs: int = 3,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    random_state: int = 0,
) -> ImageClassifier:
    """Train an :class:`~anomaly.networks.ImageClassifier` by cross-entropy.

    Parameters
    ----------
    images : ndarray of shape (n, H, W) or (n, C, H, W)
    labels : ndarray of int, shape (n,)
        Classes 0 to n_classes - 1.
    epochs, batch_size, learning_rate : training settings
    random_state : int
        Seeds the weights and the batch order.

    Returns
    -------
    network : ImageClassifier
    """
    batch = _as_batch(images)
    labels = np.asarray(labels)
    n_classes = int(labels.max()) + 1
    shape = batch.shape[1:]
    device = torch.device("cpu")
    with seeded(random_state, device):
        network = ImageClassifier(shape[0], n_classes)
        # The loop takes one tensor of rows: each image flattened, its label in the last column.
        rows = torch.cat(
            [batch.flatten(1), torch.as_tensor(labels, dtype=torch.float32)[:, None]], 1
        )

        def loss(rows: torch.Tensor) -> torch.Tensor:
            inputs = rows[:, :-1].reshape(len(rows), *shape)
            return F.cross_entropy(network(inputs), rows[:, -1].long(), reduction="none")

        objective = Objective("loss", list(network.parameters()), loss)
        config = TrainingConfig(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate)
        generator = torch.Generator().manual_seed(random_state)
        train(Phase(network, [objective]), rows, config, device=device, generator=generator)
    return network.eval()


def classifier_features(
    dataset: str = "fashion_mnist",
    data_home: str | os.PathLike | None = None,
    *,
    epochs: int = 3,
) -> ImageFeatures:
    """A classifier's features for a labelled image set, trained once and cached in the data home.

    Trained on the set's training images, its accuracy measured on its test
    images; kept in ``<data home>/models/<dataset>_classifier.safetensors`` and
    loaded from there afterwards (retrained if ``epochs`` differs).

    Parameters
    ----------
    dataset : {"fashion_mnist", "mnist"}, default="fashion_mnist"
        A key of :data:`LABELLED_IMAGE_SETS`.
    data_home : str or path-like, optional
        Where the set is, and where the classifier is kept.
    epochs : int, default=3
    """
    if dataset not in LABELLED_IMAGE_SETS:
        raise ValueError(f"dataset must be one of {sorted(LABELLED_IMAGE_SETS)}, got {dataset!r}.")
    load = LABELLED_IMAGE_SETS[dataset]
    path = get_data_home(data_home) / "models" / f"{dataset}_classifier.safetensors"
    if path.exists():
        content = read_model_file(path)
        header = json.loads(content.fields["classifier"])
        if header["epochs"] == epochs:
            network = ImageClassifier(1, 10)
            network.load_state_dict(content.tensors)
            return ImageFeatures(network.eval(), header["test_accuracy"])
    images, labels = load("train", data_home=data_home, return_X_y=True)
    network = train_classifier(images, labels, epochs=epochs)
    test_images, test_labels = load("test", data_home=data_home, return_X_y=True)
    extractor = ImageFeatures(network)
    extractor.test_accuracy = float(np.mean(extractor.predict(test_images) == test_labels))
    Path(path.parent).mkdir(parents=True, exist_ok=True)
    header = {"epochs": epochs, "test_accuracy": extractor.test_accuracy}
    write_model_file(path, {"classifier": json.dumps(header)}, network.state_dict())
    return extractor


def _as_batch(images: np.ndarray) -> torch.Tensor:
    """Images as a float32 tensor of shape (n, C, H, W)."""
    array = np.asarray(images, dtype=np.float32)
    if array.ndim == 3:
        array = array[:, None]
    if array.ndim != 4:
        raise ValueError(f"Expected images of shape (n, H, W) or (n, C, H, W), got {array.shape}.")
    return torch.from_numpy(np.ascontiguousarray(array))
