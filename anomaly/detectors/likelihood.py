"""The likelihood side shared by the VAE-type detectors: KL, reconstruction probability, draws.

Used by :class:`anomaly.VAEDetector` and :class:`anomaly.VAEGANDetector`, whose
decoders output a distribution over the input.
"""

from __future__ import annotations

import math
from numbers import Integral
from typing import Any

import numpy as np
import torch
from sklearn.utils import check_random_state, check_scalar
from sklearn.utils.validation import check_is_fitted
from torch.distributions import Distribution, Normal

from anomaly.networks import VAE

__all__ = [
    "REAL_LIKELIHOODS",
    "LikelihoodMixin",
    "check_unit_interval",
    "filled_in",
    "importance_weighted_log_likelihood",
    "kl_to_standard_normal",
    "negative_elbo",
    "observed_log_prob",
    "observed_share",
    "reconstruction",
    "reconstruction_log_prob",
    "reconstruction_log_prob_map",
    "scoring_draws",
    "scoring_posterior",
]

# Rounds of filling in missing values before a row is scored: on ADBench at 10 % missing
# (seed 1), 0 / 1 / 5 / 20 rounds gave PR-AUC 0.571 / 0.575 / 0.577 / 0.577.
IMPUTATION_ROUNDS = 5
# Rounds when training reads a row: on ADBench at 10 % missing (seeds 1-18), one round
# trained models as good as five (PR-AUC +0.0014, standard error 0.0013) in 0.6 of the time.
TRAINING_IMPUTATION_ROUNDS = 1


def kl_to_standard_normal(posterior: Normal) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) per row, in closed form."""
    mean, std = posterior.loc, posterior.scale
    return (0.5 * (mean.square() + std.square() - 1) - std.log()).sum(dim=1)


def observed_log_prob(likelihood: Distribution, x: torch.Tensor) -> torch.Tensor:
    """log p(x_j|z) of every value, 0 where ``x_j`` is missing (NaN): marginalised out, since
    p(x|z) factorises over the values."""
    observed = ~torch.isnan(x)
    # The missing values are replaced before log_prob, so no NaN reaches a gradient.
    return torch.where(observed, likelihood.log_prob(torch.where(observed, x, 0.0)), 0.0)


def negative_elbo(vae: VAE, x: torch.Tensor, beta: float, missing: bool = False) -> torch.Tensor:
    """``-E_q[log p(x|z)] + beta * KL(q(z|x) || p(z))`` of each row, one draw of z.

    The VAE's training loss; the training loop averages it over the rows it keeps.
    Missing values (NaN) are left out of log p(x|z), as in MIWAE. With ``missing`` (a
    model that takes NaN), the encoder reads the row with its gaps filled in by the
    model (:func:`filled_in`), as it does when scoring (in fewer rounds), with the
    gradient through the filling, so that the encoder also learns to read rows with
    gaps (on ADBench with 10 % of the values missing, seeds 1-18, a PR-AUC loss of
    0.0113 against 0.0150 with the gaps at the mean; benchmarks/README.md, "Missing
    values"). Rows without missing values train as before, to the bit; without
    ``missing`` no batch is looked into for gaps (on a GPU, that look waits for the
    device).
    """
    out = vae(filled_in(vae, x, TRAINING_IMPUTATION_ROUNDS) if missing else x)
    log_likelihood = observed_log_prob(out.likelihood, x).flatten(1).sum(dim=1)
    return beta * kl_to_standard_normal(out.posterior) - log_likelihood


def observed_share(x: torch.Tensor) -> torch.Tensor:
    """Values per row over observed values per row: 1 without missing values, and the factor
    that puts a sum over a row's observed values on the scale of a complete row's."""
    observed = ~torch.isnan(x.flatten(1))
    return observed.shape[1] / observed.sum(dim=1)


def filled_in(vae: VAE, x: torch.Tensor, rounds: int | None = None) -> torch.Tensor:
    """``x`` with its missing values (NaN) filled in by the model from the observed ones.

    The encoder reads the row (its gaps at the feature's mean, told where they are),
    its posterior mean is decoded, the decoded values replace the gaps, and the
    row is encoded again: ``rounds`` times (:data:`IMPUTATION_ROUNDS` by default).
    This is pseudo-Gibbs imputation (Rezende et al., 2014; analysed by Mattei &
    Frellsen, 2018) with means in place of draws, so that scores stay deterministic.
    After the first round the mask marks the filled-in values as observed. Rows
    without missing values come back unchanged. Training reads rows through it
    too, in :data:`TRAINING_IMPUTATION_ROUNDS` rounds (:func:`negative_elbo`).
    """
    missing = torch.isnan(x)
    completed = x
    if missing.any():
        for _ in range(IMPUTATION_ROUNDS if rounds is None else rounds):
            completed = torch.where(missing, vae.decoded_mean(vae.posterior(completed).loc), x)
    return completed


def scoring_posterior(vae: VAE, x: torch.Tensor) -> Normal:
    """q(z|x) of the rows being scored: of :func:`filled_in`'s rows, so that the encoder
    reads what the observed values imply for the missing ones instead of the feature's
    mean, and its posterior comes closer to the complete row's. The filled-in values
    only steer the encoder: likelihoods stay over the observed values."""
    return vae.posterior(filled_in(vae, x))


def reconstruction_log_prob_map(vae: VAE, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """An & Cho's reconstruction probability of each value, shape (batch, n_features).

    The mean over draws ``z = mu(x) + sigma(x) * noise[l]`` of ``log p(x_j|z)``
    for every value ``x_j``; summed over a row, :func:`reconstruction_log_prob`. A
    missing value's is 0, the observed values' scaled by :func:`observed_share`; the
    posterior is :func:`scoring_posterior`'s.
    """
    z = _posterior_draws(scoring_posterior(vae, x), noise)
    per_value = _log_prob_per_draw(vae, x, z).mean(dim=0)
    return per_value * observed_share(x)[:, None]


def reconstruction_log_prob(
    vae: VAE, x: torch.Tensor, noise: torch.Tensor, posterior: Normal | None = None
) -> torch.Tensor:
    """An & Cho's reconstruction probability, in log space, per row.

    The mean over draws ``z = mu(x) + sigma(x) * noise[l]`` of ``log p(x|z)``.
    The same ``noise`` (shape ``(n_draws, latent_dim)``) is used for every row,
    so a row's score depends on nothing else in its batch. Over a row's observed values
    only, scaled by :func:`observed_share` so that rows missing values compare with full ones;
    the posterior is :func:`scoring_posterior`'s, or ``posterior`` where the caller has it
    already (filling in a row's gaps takes :data:`IMPUTATION_ROUNDS` passes).
    """
    if posterior is None:
        posterior = scoring_posterior(vae, x)
    z = _posterior_draws(posterior, noise)
    return _log_prob_per_draw(vae, x, z).sum(dim=2).mean(dim=0) * observed_share(x)


def importance_weighted_log_likelihood(
    vae: VAE, x: torch.Tensor, noise: torch.Tensor, chunk: int
) -> torch.Tensor:
    """log p(x) per row, estimated by importance sampling from q(z|x) (Burda et al., 2016).

    ``log mean_l p(x|z_l) p(z_l) / q(z_l|x)`` over the draws
    ``z_l = mu(x) + sigma(x) * noise[l]``: a lower bound on log p(x) in
    expectation that tightens as draws are added (with one draw, an estimate
    of the ELBO); of the observed values alone where some are missing, drawn
    from :func:`scoring_posterior` (any proposal gives a valid importance-sampling
    estimate). The draws go through the decoder ``chunk`` at a time.
    """
    posterior = scoring_posterior(vae, x)
    log_weights = []
    for part in noise.split(chunk):
        z = _posterior_draws(posterior, part)
        log_prior = -0.5 * (z.square() + math.log(2 * math.pi))
        log_weights.append(
            _log_prob_per_draw(vae, x, z).sum(dim=2)
            + (log_prior - posterior.log_prob(z)).sum(dim=2)
        )
    return torch.logsumexp(torch.cat(log_weights).double(), dim=0) - math.log(len(noise))


def _posterior_draws(posterior: Normal, noise: torch.Tensor) -> torch.Tensor:
    # z = mu + sigma * noise[l] for every draw l and row: (n_draws, batch, latent).
    return posterior.loc + posterior.scale * noise[:, None, :]


def _log_prob_per_draw(vae: VAE, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    # log p(x_j | z_l) of every draw l, row and value j: (n_draws, batch, n_features).
    likelihood = vae.likelihood(z.flatten(0, 1))
    repeated_x = x.expand(len(z), *x.shape).flatten(0, 1)
    return observed_log_prob(likelihood, repeated_x).view(len(z), len(x), -1)


def scoring_draws(n_draws: int, latent_dim: int, seed: int, device: torch.device) -> torch.Tensor:
    """The standard-normal draws shared by every row when scoring, fixed by ``seed``."""
    return torch.randn(n_draws, latent_dim, generator=torch.Generator().manual_seed(seed)).to(
        device
    )


def reconstruction(vae: VAE, x: torch.Tensor) -> torch.Tensor:
    """The decoded mean of the posterior mean (:func:`scoring_posterior`'s) of each row."""
    return vae.decoded_mean(scoring_posterior(vae, x).loc)


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
    # nanmin: missing values (where allowed) must not hide the observed ones' range.
    low, high = min(np.nanmin(a) for a in arrays), max(np.nanmax(a) for a in arrays)
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

    def log_likelihood(self, X: Any, *, n_draws: int = 100, random_state: Any = None) -> np.ndarray:
        """The model's log-likelihood of each sample, estimated by importance sampling.

        A VAE defines a density p(x) = E_p(z)[p(x|z)], which a GAN does not.
        It is estimated as ``log mean_l p(x|z_l) p(z_l) / q(z_l|x)`` over
        ``n_draws`` draws from the encoder's posterior (Burda et al., 2016): a
        lower bound in expectation, tighter with more draws; ``n_draws=1``
        gives an estimate of the ELBO (with ``beta=1``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or images
            Samples as for ``score_samples`` (not for a detector fitted on
            patches of images).
        n_draws : int, default=100
            Draws of z per sample; the same draws for every sample.
        random_state : int, RandomState instance or None, default=None
            Seeds the draws.

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,)
            In nats, as a density over the input's units: standardisation's
            change of variables is accounted for, so values compare across
            models fitted on the same data. With a Bernoulli likelihood it is
            the log-probability of the grey levels as Bernoulli outcomes, not
            a density.
        """
        check_is_fitted(self)
        check_scalar(n_draws, "n_draws", Integral, min_val=1)
        self._check_whole_samples("log_likelihood")
        X = self._validate_input(X, reset=False)
        seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
        latent_dim = self.fitted_params_["latent_dim"]
        noise = torch.randn(n_draws, latent_dim, generator=torch.Generator().manual_seed(seed))
        vae = self._likelihood_model()

        def estimate(batch: torch.Tensor) -> torch.Tensor:
            # As many draws at a time as scoring takes, which sized the blocks' memory.
            chunk = self.fitted_params_["n_draws"]
            return importance_weighted_log_likelihood(vae, batch, noise.to(batch.device), chunk)

        values = self._blockwise(X, estimate, "log-likelihood")
        # p(x) = p(standardised x) / prod(scale) over the observed values: in the input's units.
        log_scale = np.where(np.isnan(X), 0.0, np.log(self.feature_scale_))
        return values - log_scale.sum(axis=1)

    def _likelihood_model(self) -> VAE:
        """The VAE whose p(x|z) and q(z|x) define the likelihood."""
        raise NotImplementedError
