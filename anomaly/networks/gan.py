"""Generative adversarial network parts: a critic with features, and the GAN container."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from anomaly.networks.vae import VAE


class Discriminator(nn.Module):
    """MLP critic with spectral-normalised layers.

    ``features(x)`` is the last hidden layer (used for feature matching and
    feature-space residuals); ``forward(x)`` is one real-vs-generated logit
    per row, higher for rows that look real.

    Parameters
    ----------
    in_features : int
        Width of the input.
    hidden_sizes : sequence of int
        Widths of the hidden layers (LeakyReLU between them).

    Examples
    --------
    >>> import torch
    >>> critic = Discriminator(5, (8, 4))
    >>> critic(torch.zeros(3, 5)).shape, critic.features(torch.zeros(3, 5)).shape
    (torch.Size([3]), torch.Size([3, 4]))
    """

    def __init__(self, in_features: int, hidden_sizes: Sequence[int]) -> None:
        super().__init__()
        widths = [in_features, *hidden_sizes]
        layers: list[nn.Module] = []
        for width_in, width_out in zip(widths[:-1], widths[1:]):
            layers += [spectral_norm(nn.Linear(width_in, width_out)), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)
        self.head = spectral_norm(nn.Linear(widths[-1], 1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden representation of ``x``, shape (batch, hidden_sizes[-1])."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).squeeze(1)


class GAN(nn.Module):
    """A generator, its discriminator and an encoder back to the latent space.

    A container: each part is called directly (``gan.generator(z)``,
    ``gan.discriminator(x)``, ``gan.encoder(x)``).

    Parameters
    ----------
    generator : torch.nn.Module
        ``z (batch, latent_dim) -> x``.
    discriminator : Discriminator
        ``x -> logit``, with a ``features`` method.
    encoder : torch.nn.Module
        ``x -> z``, trained after the GAN (f-AnoGAN).
    latent_dim : int
        Size of z.
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: Discriminator,
        encoder: nn.Module,
        latent_dim: int,
    ) -> None:
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.encoder = encoder
        self.latent_dim = latent_dim


class VAEGAN(nn.Module):
    """A VAE whose decoder doubles as the generator of a GAN (Larsen et al., 2016).

    A container: ``vaegan.vae`` is an :class:`anomaly.networks.VAE`,
    ``vaegan.discriminator`` a :class:`Discriminator` that judges the VAE's
    reconstructions and samples, and whose features measure reconstructions.
    """

    def __init__(self, vae: VAE, discriminator: Discriminator, latent_dim: int) -> None:
        super().__init__()
        self.vae = vae
        self.discriminator = discriminator
        self.latent_dim = latent_dim
