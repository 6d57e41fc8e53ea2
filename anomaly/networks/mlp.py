"""Fully connected backbone for tabular rows."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class MLP(nn.Sequential):
    """Linear layers with ReLU between them and a linear output layer.

    Parameters
    ----------
    in_features : int
        Width of the input.
    hidden_sizes : sequence of int
        Widths of the hidden layers, in order; may be empty.
    out_features : int
        Width of the output.

    Examples
    --------
    >>> import torch
    >>> MLP(4, (8, 6), 2)(torch.zeros(3, 4)).shape
    torch.Size([3, 2])
    """

    def __init__(self, in_features: int, hidden_sizes: Sequence[int], out_features: int) -> None:
        widths = [in_features, *hidden_sizes]
        layers: list[nn.Module] = []
        for width_in, width_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(width_in, width_out), nn.ReLU()]
        layers.append(nn.Linear(widths[-1], out_features))
        super().__init__(*layers)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer's activations (the input itself without hidden layers)."""
        for layer in list(self)[:-1]:
            x = layer(x)
        return x
