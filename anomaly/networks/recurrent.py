"""Recurrent (GRU) backbones for time-series windows, on flattened input and output.

The recurrent alternative to the 1-D convolutions of :mod:`anomaly.networks.conv`,
with the same flattened, variable-major layout: one window of shape
``(variables, length)`` is a row of ``variables * length`` values. The GRU reads
the window step by step, so it suits series whose anomalies are in the order of
events more than in local shapes; it is slower than the convolutions on a CPU.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["GRUDecoder", "GRUDiscriminator", "GRUEncoder"]


def _steps(x: torch.Tensor, window_shape: Sequence[int]) -> torch.Tensor:
    """Flattened windows to (batch, length, variables), the GRU's batch-first layout."""
    return x.unflatten(1, tuple(window_shape)).transpose(1, 2)


class GRUEncoder(nn.Module):
    """A GRU over the window, its last hidden state mapped to ``out_features``.

    Parameters
    ----------
    window_shape : (variables, length)
        Shape of one window.
    hidden_size : int
        Width of the GRU's state.
    out_features : int
        Width of the output.

    Examples
    --------
    >>> import torch
    >>> GRUEncoder((3, 20), 16, 4)(torch.zeros(2, 60)).shape
    torch.Size([2, 4])
    """

    def __init__(self, window_shape: Sequence[int], hidden_size: int, out_features: int) -> None:
        super().__init__()
        self.window_shape = tuple(window_shape)
        self.gru = nn.GRU(self.window_shape[0], hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, out_features)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The GRU's last hidden state."""
        _, last = self.gru(_steps(x, self.window_shape))
        return last[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class GRUDecoder(nn.Module):
    """A GRU unrolled over the window from a code: ``in_features`` to flattened windows.

    The code sets the initial state and is fed at every step; a linear layer
    maps each step's state to ``out_channels`` values (e.g. a mean and a
    scale per variable).

    Parameters
    ----------
    in_features : int
        Width of the input (the latent code).
    hidden_size : int
        Width of the GRU's state.
    window_shape : (variables, length)
        Shape of one window.
    out_channels : int
        Values per step of the output.

    Examples
    --------
    >>> import torch
    >>> GRUDecoder(4, 16, (3, 20), 6)(torch.zeros(2, 4)).shape
    torch.Size([2, 120])
    """

    def __init__(
        self, in_features: int, hidden_size: int, window_shape: Sequence[int], out_channels: int
    ) -> None:
        super().__init__()
        self.length = int(window_shape[1])
        self.initial_state = nn.Linear(in_features, hidden_size)
        self.gru = nn.GRU(in_features, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, out_channels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        state = torch.tanh(self.initial_state(z)).unsqueeze(0)
        steps, _ = self.gru(z.unsqueeze(1).expand(-1, self.length, -1).contiguous(), state)
        # (batch, length, channels) to channel-major rows, as the other backbones.
        return self.head(steps).transpose(1, 2).flatten(1)


class GRUDiscriminator(nn.Module):
    """A GRU critic over the window: ``features(x)`` its last state, ``forward(x)`` a logit.

    The GRU is left as it is and the layers after it are spectral-normalised,
    which bounds the critic's slope in its features as in the other critics.

    Parameters
    ----------
    window_shape : (variables, length)
        Shape of one window.
    hidden_size : int
        Width of the GRU's state.

    Examples
    --------
    >>> import torch
    >>> critic = GRUDiscriminator((3, 20), 16)
    >>> critic(torch.zeros(2, 60)).shape, critic.features(torch.zeros(2, 60)).shape
    (torch.Size([2]), torch.Size([2, 16]))
    """

    def __init__(self, window_shape: Sequence[int], hidden_size: int) -> None:
        super().__init__()
        self.window_shape = tuple(window_shape)
        self.gru = nn.GRU(self.window_shape[0], hidden_size, batch_first=True)
        self.body = nn.Sequential(
            spectral_norm(nn.Linear(hidden_size, hidden_size)), nn.LeakyReLU(0.2)
        )
        self.head = spectral_norm(nn.Linear(hidden_size, 1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The critic's hidden representation of ``x``, shape (batch, hidden_size)."""
        _, last = self.gru(_steps(x, self.window_shape))
        return self.body(last[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)
