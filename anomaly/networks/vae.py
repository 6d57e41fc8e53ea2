"""Variational autoencoder whose decoder outputs a distribution over the input."""

from __future__ import annotations

import math
from functools import cached_property
from typing import NamedTuple

import torch
from torch import nn
from torch.distributions import (
    Bernoulli,
    Chi2,
    ContinuousBernoulli,
    Distribution,
    Normal,
    StudentT,
)
from torch.nn import functional as F

# Decoder outputs per input value for each likelihood: a mean and a scale, or one logit.
LIKELIHOOD_OUTPUTS = {"gaussian": 2, "student_t": 2, "bernoulli": 1, "continuous_bernoulli": 1}
# Degrees of freedom of the Student-t likelihood: tails heavy enough that a few
# extreme values of one column do not dominate a row's likelihood; on ADBench 8
# ranked anomalies a little better than 4, and 2 worse (see benchmarks/README.md).
STUDENT_T_DF = 8.0


class FixedDfStudentT(StudentT):
    """torch's Student-t with one fixed ``df``, whose log-density costs a few operations per value.

    torch's own broadcasts ``df`` to every value, so each log-density took two
    ``lgamma`` and a Chi2 per value: as long as the network's forward pass
    when scoring windows. Here the terms of ``df`` are computed once, by the
    same float32 operations, so log-densities equal torch's to the bit.
    """

    def __init__(self, df: float, loc: torch.Tensor, scale: torch.Tensor) -> None:
        Distribution.__init__(self, loc.shape, validate_args=False)
        self.loc, self.scale = loc, scale
        self._df = torch.tensor(df, dtype=loc.dtype, device=loc.device)  # torch's device too
        self.df = self._df.expand_as(loc)

    @cached_property
    def _chi2(self) -> Chi2:  # only sampling needs it
        return Chi2(self.df)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        df = self._df
        y = (value - self.loc) / self.scale
        # torch's terms in torch's order: scale's log first, then each term of df.
        log_normalizer = (
            self.scale.log()
            + 0.5 * df.log()
            + 0.5 * math.log(math.pi)
            + torch.lgamma(0.5 * df)
            - torch.lgamma(0.5 * (df + 1.0))
        )
        return -0.5 * (df + 1.0) * torch.log1p(y**2.0 / df) - log_normalizer


class VAEOutput(NamedTuple):
    """What one forward pass of :class:`VAE` computes."""

    posterior: Normal
    """q(z|x), one diagonal Gaussian per row."""
    z: torch.Tensor
    """One reparameterised draw from the posterior."""
    likelihood: Distribution
    """p(x|z) at that draw, independent over the values of a row."""


class VAE(nn.Module):
    """VAE over any encoder and decoder backbones, with a choice of likelihood.

    The encoder maps a batch ``x`` to ``2 * latent_dim`` values (mean and
    scale of q(z|x)). The decoder maps ``z`` to ``LIKELIHOOD_OUTPUTS[likelihood]``
    values per input value: for ``"gaussian"`` and ``"student_t"`` (8
    degrees of freedom) a location and a scale, split along dimension 1;
    for ``"bernoulli"`` and ``"continuous_bernoulli"`` (values in [0, 1],
    e.g. pixels) one logit.

    Parameters
    ----------
    encoder : torch.nn.Module
        ``x -> (batch, 2 * latent_dim)``.
    decoder : torch.nn.Module
        ``z -> (batch, 2 * channels, ...)`` matching the shape of ``x``.
    likelihood : {"gaussian", "student_t", "bernoulli", "continuous_bernoulli"}, \
            default="gaussian"
        Family of p(x|z). The Bernoulli log-probability of a grey level is
        minus the binary cross-entropy (not a normalised density on [0, 1]);
        the continuous Bernoulli (Loaiza-Ganem & Cunningham, 2019) is one.
    min_std : float, default=1e-2
        Floor on the Gaussian (or Student-t) decoder's scale. Without it the
        likelihood of a value the decoder reproduces exactly (a constant
        column, a discrete level) grows without bound and training diverges.

    Examples
    --------
    >>> import torch
    >>> from anomaly.networks import MLP, VAE
    >>> vae = VAE(MLP(5, (16,), 2 * 3), MLP(3, (16,), 2 * 5))
    >>> out = vae(torch.zeros(4, 5))
    >>> out.z.shape, out.likelihood.mean.shape
    (torch.Size([4, 3]), torch.Size([4, 5]))
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        *,
        likelihood: str = "gaussian",
        min_std: float = 1e-2,
    ) -> None:
        super().__init__()
        if likelihood not in LIKELIHOOD_OUTPUTS:
            raise ValueError(f"likelihood must be one of {sorted(LIKELIHOOD_OUTPUTS)}")
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood_kind = likelihood
        self.min_std = min_std

    def posterior(self, x: torch.Tensor) -> Normal:
        """q(z|x)."""
        mean, raw_scale = self.encoder(x).chunk(2, dim=1)
        return Normal(mean, F.softplus(raw_scale) + 1e-4, validate_args=False)

    def likelihood(self, z: torch.Tensor) -> Distribution:
        """p(x|z)."""
        out = self.decoder(z)
        if self.likelihood_kind == "bernoulli":
            return Bernoulli(logits=out, validate_args=False)
        if self.likelihood_kind == "continuous_bernoulli":
            return ContinuousBernoulli(logits=out, validate_args=False)
        mean, raw_scale = out.chunk(2, dim=1)
        scale = F.softplus(raw_scale) + self.min_std
        if self.likelihood_kind == "student_t":
            return FixedDfStudentT(STUDENT_T_DF, mean, scale)
        return Normal(mean, scale, validate_args=False)

    def decoded_mean(self, z: torch.Tensor) -> torch.Tensor:
        """The mean of p(x|z), without the scale that only the likelihood needs."""
        if self.likelihood_kind in ("gaussian", "student_t"):  # Student-t's df > 1: mean = loc
            return self.decoder(z).chunk(2, dim=1)[0]
        return self.likelihood(z).mean

    def forward(self, x: torch.Tensor) -> VAEOutput:
        posterior = self.posterior(x)
        z = posterior.rsample()
        return VAEOutput(posterior, z, self.likelihood(z))
