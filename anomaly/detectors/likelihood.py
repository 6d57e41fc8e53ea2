"""The likelihood side shared by the VAE-type detectors: KL, reconstruction probability, draws.

Used by :class:`anomaly.VAEDetector` and :class:`anomaly.VAEGANDetector`, whose
decoders output a distribution over the input.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.distributions import Normal

from anomaly.networks import VAE

__all__ = [
    "REAL_LIKELIHOODS",
    "LikelihoodMixin",
    "check_unit_interval",
    "kl_to_standard_normal",
    "reconstruction",
    "reconstruction_log_prob",
    "reconstruction_log_prob_map",
    "scoring_draws",
]


def kl_to_standard_normal(posterior: Normal) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) per row, in closed form."""
    mean, std = posterior.loc, posterior.scale
    return (0.5 * (mean.square() + std.square() - 1) - std.log()).sum(dim=1)


def reconstruction_log_prob_map(vae: VAE, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """An & Cho's reconstruction probability of each value, shape (batch, n_features).

    The mean over draws ``z = mu(x) + sigma(x) * noise[l]`` of ``log p(x_j|z)``
    for every value ``x_j``; summed over a row, :func:`reconstruction_log_prob`.
    """
    return _log_prob_per_draw(vae, x, noise).mean(dim=0)


def reconstruction_log_prob(vae: VAE, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """An & Cho's reconstruction probability, in log space, per row.

    The mean over draws ``z = mu(x) + sigma(x) * noise[l]`` of ``log p(x|z)``.
    The same ``noise`` (shape ``(n_draws, latent_dim)``) is used for every row,
    so a row's score depends on nothing else in its batch.
    """
    return _log_prob_per_draw(vae, x, noise).sum(dim=2).mean(dim=0)


def _log_prob_per_draw(vae: VAE, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    # log p(x_j | z_l) of every draw l, row and value j: (n_draws, batch, n_features).
    posterior = vae.posterior(x)
    z = posterior.loc + posterior.scale * noise[:, None, :]  # (n_draws, batch, latent)
    likelihood = vae.likelihood(z.flatten(0, 1))
    repeated_x = x.expand(len(noise), *x.shape).flatten(0, 1)
    return likelihood.log_prob(repeated_x).view(len(noise), len(x), -1)


def scoring_draws(n_draws: int, latent_dim: int, seed: int, device: torch.device) -> torch.Tensor:
    """The standard-normal draws shared by every row when scoring, fixed by ``seed``."""
    return torch.randn(n_draws, latent_dim, generator=torch.Generator().manual_seed(seed)).to(
        device
    )


def reconstruction(vae: VAE, x: torch.Tensor) -> torch.Tensor:
    """The decoded mean of the posterior mean of each row."""
    return vae.decoded_mean(vae.posterior(x).loc)


# Likelihoods of real values, which are standardised; the others model values in [0, 1].
REAL_LIKELIHOODS = ("student_t", "gaussian")


def check_unit_interval(X: np.ndarray | list[np.ndarray], likelihood: str) -> None:
    """Bernoulli-type likelihoods model values in [0, 1]: say so clearly for any other.

    ``X`` is an array, or a list of images (to be cut into patches).
    """
    arrays = [np.asarray(a) for a in X] if isinstance(X, list) else [X]
    arrays = [a for a in arrays if a.size]
    if likelihood in REAL_LIKELIHOODS or not arrays:
        return
    low, high = min(a.min() for a in arrays), max(a.max() for a in arrays)
    if low < 0 or high > 1:
        raise ValueError(
            f"likelihood={likelihood!r} models values in [0, 1] but X has values in "
            f"[{low:g}, {high:g}]; scale the data to [0, 1] (e.g. divide 8-bit images by "
            "255) or use likelihood='student_t'."
        )


class LikelihoodMixin:
    """Input handling of detectors with a ``likelihood`` parameter.

    A Bernoulli-type likelihood models the raw values, so they must lie in
    [0, 1] (at fit and at scoring) and are not standardised.
    """

    def _validate_input(self, X: Any, *, reset: bool) -> np.ndarray | list[np.ndarray]:
        X = super()._validate_input(X, reset=reset)
        check_unit_interval(X, self.likelihood if reset else self.fitted_params_["likelihood"])
        return X

    def _standardizes(self) -> bool:
        params = self.fitted_params_
        return bool(params["standardize"]) and params["likelihood"] in REAL_LIKELIHOODS
