"""An encoder for inputs with missing values: it sees them at the mean, shifted where they are."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MaskBesideValuesEncoder", "MissingValueEncoder"]


class MissingValueEncoder(nn.Module):
    """Wraps an encoder of the input's own width: values with NaN set to 0, each channel
    shifted by a learned mix of which channels are missing at that position.

    As in MIWAE (Mattei & Frellsen, 2019) and HI-VAE (Nazábal et al., 2020), the
    encoder is told which values are missing, so a 0 that stands for one (the
    mean, in standardised units) is not read as an observation. The mask enters
    as a shift of the values, ``mixing @ missing`` at each position (each row for
    rows, where every feature is a channel; each pixel of an image, each step of a
    window), with ``mixing`` (channels, channels) starting at zero: on complete
    rows the wrapped encoder is the one a detector without missing values builds,
    from the same initial weights, and trains as that one does. (A mask beside
    the values, as :class:`MaskBesideValuesEncoder`, doubles the first layer's
    inputs; on ADBench's satellite set that alone, fitted on complete rows, cost
    0.07 PR-AUC, benchmarks/README.md.)

    Parameters
    ----------
    encoder : torch.nn.Module
        Takes ``(batch, n_features)``, channel-major; ``features`` is passed on too.
    channels : int
        Features of rows, channels of images, variables of windows.

    Examples
    --------
    >>> import torch
    >>> from anomaly.networks import MLP
    >>> encoder = MissingValueEncoder(MLP(3, (8,), 4), channels=3)
    >>> encoder(torch.tensor([[0.5, float("nan"), 1.0]])).shape
    torch.Size([1, 4])
    """

    def __init__(self, encoder: nn.Module, channels: int) -> None:
        super().__init__()
        self.encoder = encoder
        # Zeros, not a random initialisation: the wrapped encoder's draws stay as without it.
        self.mixing = nn.Parameter(torch.zeros(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(self._shifted(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder.features(self._shifted(x))

    def _shifted(self, x: torch.Tensor) -> torch.Tensor:
        missing = torch.isnan(x)
        channels = self.mixing.shape[0]
        shift = self.mixing @ missing.to(x.dtype).view(len(x), channels, -1)
        return torch.where(missing, 0.0, x) + shift.flatten(1)


class MaskBesideValuesEncoder(nn.Module):
    """Wraps an encoder of twice the input's width: values (NaN set to 0) then the mask of
    observed values, as many channels again. The encoder of models saved before
    :class:`MissingValueEncoder`, kept so that they score as they were saved.

    Parameters
    ----------
    encoder : torch.nn.Module
        Takes ``(batch, 2 * n_features)``; ``features`` is passed on too.

    Examples
    --------
    >>> import torch
    >>> from anomaly.networks import MLP
    >>> encoder = MaskBesideValuesEncoder(MLP(2 * 3, (8,), 4))
    >>> encoder(torch.tensor([[0.5, float("nan"), 1.0]])).shape
    torch.Size([1, 4])
    """

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(_with_mask(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder.features(_with_mask(x))


def _with_mask(x: torch.Tensor) -> torch.Tensor:
    observed = ~torch.isnan(x)
    return torch.cat([torch.where(observed, x, 0.0), observed.to(x.dtype)], dim=1)
