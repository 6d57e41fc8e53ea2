"""Encoders for inputs with missing values: told where they are, by a shift of the values
or by a mask beside them."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MaskBesideValuesEncoder", "MissingValueEncoder"]


class MissingValueEncoder(nn.Module):
    """Wraps an encoder of rows of the input's own width: values with NaN set to 0, each
    shifted by a learned mix of which values in the row are missing.

    As in MIWAE (Mattei & Frellsen, 2019) and HI-VAE (Nazábal et al., 2020), the
    encoder is told which values are missing, so a 0 that stands for one (the
    mean, in standardised units) is not read as an observation. The mask enters
    as a shift of the values, ``mixing @ missing``, with ``mixing`` (n_features,
    n_features) starting at zero: on complete rows the wrapped encoder is the one
    a detector without missing values builds, from the same initial weights, and
    trains as that one does. (A mask beside the values, as
    :class:`MaskBesideValuesEncoder`, doubles the first layer's inputs; on
    ADBench's satellite set that alone, fitted on complete rows, cost 0.07
    PR-AUC, benchmarks/README.md.) Images and windows keep their mask beside the
    values, as channels: with one channel, a shift would only move a gap to
    another value. ``mixing`` holds n_features² weights: for rows of thousands of
    features, more than a default encoder's first layer.

    Parameters
    ----------
    encoder : torch.nn.Module
        Takes ``(batch, n_features)``; ``features`` is passed on too.
    n_features : int

    Examples
    --------
    >>> import torch
    >>> from anomaly.networks import MLP
    >>> encoder = MissingValueEncoder(MLP(3, (8,), 4), n_features=3)
    >>> encoder(torch.tensor([[0.5, float("nan"), 1.0]])).shape
    torch.Size([1, 4])
    """

    def __init__(self, encoder: nn.Module, n_features: int) -> None:
        super().__init__()
        self.encoder = encoder
        # Zeros, not a random initialisation: the wrapped encoder's draws stay as without it.
        self.mixing = nn.Parameter(torch.zeros(n_features, n_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(self._shifted(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder.features(self._shifted(x))

    def _shifted(self, x: torch.Tensor) -> torch.Tensor:
        missing = torch.isnan(x)
        if not missing.any():
            # Left out of the graph, so ``mixing`` gets no gradient: a zero one would still
            # enter gradient clipping's total norm and move every weight by a rounding.
            return x
        shift = self.mixing @ missing.to(x.dtype)[:, :, None]
        return torch.where(missing, 0.0, x) + shift.flatten(1)


class MaskBesideValuesEncoder(nn.Module):
    """Wraps an encoder of twice the input's width: values (NaN set to 0) then the mask of
    observed values, as many channels again: the encoder of images and windows with missing
    values, and of rows in models saved before :class:`MissingValueEncoder` shifted the
    values (so that they score as they were saved).

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
