"""An encoder for inputs with missing values: it sees them imputed, beside where they are."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MissingValueEncoder"]


class MissingValueEncoder(nn.Module):
    """Wraps an encoder of twice the input's width: values (NaN set to 0) then the mask.

    As in MIWAE (Mattei & Frellsen, 2019) and HI-VAE (Nazábal et al., 2020), the
    encoder is told which values are observed, so a 0 that stands for a missing
    value (the mean, in standardised units) is not read as an observation.
    Flattened images and windows stay channel-major: the mask follows as as many
    channels again.

    Parameters
    ----------
    encoder : torch.nn.Module
        Takes ``(batch, 2 * n_features)``; ``features`` is passed on too.

    Examples
    --------
    >>> import torch
    >>> from anomaly.networks import MLP
    >>> encoder = MissingValueEncoder(MLP(2 * 3, (8,), 4))
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
