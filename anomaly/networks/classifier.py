"""A small convolutional image classifier, whose penultimate layer serves as image features."""

from __future__ import annotations

import torch
from torch import nn


class ImageClassifier(nn.Module):
    """Two convolution blocks, pooled to 4 x 4, then ``n_features`` features and the classes.

    Parameters
    ----------
    in_channels : int
        Channels of the images, of any height and width (at least 4 x 4).
    n_classes : int
        Classes to predict.
    n_features : int, default=128
        Width of the penultimate layer, the features :meth:`features` returns.

    Examples
    --------
    >>> import torch
    >>> net = ImageClassifier(1, 10)
    >>> net(torch.zeros(2, 1, 28, 28)).shape, net.features(torch.zeros(2, 1, 28, 28)).shape
    (torch.Size([2, 10]), torch.Size([2, 128]))
    """

    def __init__(self, in_channels: int, n_classes: int, n_features: int = 128) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),  # any image size to a fixed grid
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, n_features),
            nn.ReLU(),
        )
        self.head = nn.Linear(n_features, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate layer's activations, shape (batch, n_features)."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))
