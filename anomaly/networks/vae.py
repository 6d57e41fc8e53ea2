"""Variational autoencoder whose decoder outputs a distribution over the input."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.distributions import Normal
from torch.nn import functional as F


class VAEOutput(NamedTuple):
    """What one forward pass of :class:`VAE` computes."""

    posterior: Normal
    """q(z|x), one diagonal Gaussian per row."""
    z: torch.Tensor
    """One reparameterised draw from the posterior."""
    likelihood: Normal
    """p(x|z) at that draw, one diagonal Gaussian per row."""


class VAE(nn.Module):
    """Gaussian VAE over any encoder and decoder backbones.

    The encoder maps a batch ``x`` to ``2 * latent_dim`` channels (mean and
    scale of q(z|x)); the decoder maps ``z`` to twice the channels of ``x``
    (mean and scale of p(x|z) for every input value). Both are split along
    dimension 1, so convolutional backbones fit the same contract.

    Parameters
    ----------
    encoder : torch.nn.Module
        ``x -> (batch, 2 * latent_dim)``.
    decoder : torch.nn.Module
        ``z -> (batch, 2 * channels, ...)`` matching the shape of ``x``.
    min_std : float, default=1e-2
        Floor on the decoder's standard deviation. Without it the likelihood of
        a value the decoder reproduces exactly (a constant column, a discrete
        level) grows without bound and training diverges.

    Examples
    --------
    >>> import torch
    >>> from anomaly.networks import MLP, VAE
    >>> vae = VAE(MLP(5, (16,), 2 * 3), MLP(3, (16,), 2 * 5))
    >>> out = vae(torch.zeros(4, 5))
    >>> out.z.shape, out.likelihood.mean.shape
    (torch.Size([4, 3]), torch.Size([4, 5]))
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, *, min_std: float = 1e-2) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.min_std = min_std

    def posterior(self, x: torch.Tensor) -> Normal:
        """q(z|x)."""
        mean, raw_scale = self.encoder(x).chunk(2, dim=1)
        return Normal(mean, F.softplus(raw_scale) + 1e-4, validate_args=False)

    def likelihood(self, z: torch.Tensor) -> Normal:
        """p(x|z)."""
        mean, raw_scale = self.decoder(z).chunk(2, dim=1)
        return Normal(mean, F.softplus(raw_scale) + self.min_std, validate_args=False)

    def forward(self, x: torch.Tensor) -> VAEOutput:
        posterior = self.posterior(x)
        z = posterior.rsample()
        return VAEOutput(posterior, z, self.likelihood(z))
