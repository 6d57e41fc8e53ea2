"""VAEDetector: a variational autoencoder scored by reconstruction probability."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch.distributions import Normal

from anomaly.base import BaseDeepDetector
from anomaly.networks import VAE
from anomaly.networks.vae import LIKELIHOOD_OUTPUTS
from anomaly.training import Objective, Phase

__all__ = [
    "VAEDetector",
    "kl_to_standard_normal",
    "negative_elbo",
    "reconstruction",
    "reconstruction_error",
    "reconstruction_log_prob",
    "reconstruction_log_prob_map",
    "reconstruction_residual",
    "scoring_draws",
]


def kl_to_standard_normal(posterior: Normal) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) per row, in closed form."""
    mean, std = posterior.loc, posterior.scale
    return (0.5 * (mean.square() + std.square() - 1) - std.log()).sum(dim=1)


def negative_elbo(vae: VAE, x: torch.Tensor, beta: float) -> torch.Tensor:
    """Batch mean of ``-E_q[log p(x|z)] + beta * KL(q(z|x) || p(z))``, one draw of z."""
    out = vae(x)
    log_likelihood = out.likelihood.log_prob(x).flatten(1).sum(dim=1)
    return (beta * kl_to_standard_normal(out.posterior) - log_likelihood).mean()


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
    return vae.likelihood(vae.posterior(x).loc).mean


def reconstruction_residual(vae: VAE, x: torch.Tensor) -> torch.Tensor:
    """Squared difference of each value from the decoded mean of its posterior mean."""
    return (x - reconstruction(vae, x)).square()


def reconstruction_error(vae: VAE, x: torch.Tensor) -> torch.Tensor:
    """Squared distance between ``x`` and the decoded mean of its posterior mean, per row."""
    return reconstruction_residual(vae, x).flatten(1).sum(dim=1)


def check_unit_interval(X: np.ndarray, likelihood: str) -> None:
    """Bernoulli-type likelihoods model values in [0, 1]: say so clearly for any other."""
    if likelihood == "gaussian" or X.size == 0:
        return
    low, high = X.min(), X.max()
    if low < 0 or high > 1:
        raise ValueError(
            f"likelihood={likelihood!r} models values in [0, 1] but X has values in "
            f"[{low:g}, {high:g}]; scale the data to [0, 1] (e.g. divide 8-bit images by "
            "255) or use likelihood='gaussian'."
        )


class LikelihoodMixin:
    """Input handling of detectors with a ``likelihood`` parameter.

    A Bernoulli-type likelihood models the raw values, so they must lie in
    [0, 1] (at fit and at scoring) and are not standardised.
    """

    def _validate_input(self, X: Any, *, reset: bool) -> np.ndarray:
        X = super()._validate_input(X, reset=reset)
        check_unit_interval(X, self.likelihood if reset else self.fitted_params_["likelihood"])
        return X

    def _standardizes(self) -> bool:
        params = self.fitted_params_
        return bool(params["standardize"]) and params["likelihood"] == "gaussian"


class VAEDetector(LikelihoodMixin, BaseDeepDetector):
    """Variational autoencoder anomaly detector for tabular rows and images.

    The encoder and decoder are MLPs for rows and convolutional networks for
    images (see ``backbone``); the decoder outputs a distribution over the
    input (by default a Gaussian: a mean and a standard deviation for every
    value), trained by maximising the ELBO with the KL term weighted by
    ``beta``. By default a sample is scored by its reconstruction probability
    (An & Cho, 2015): the Monte-Carlo mean over ``n_samples`` draws
    z ~ q(z|x) of log p(x|z). Unlike a plain reconstruction error, it weighs
    each value's residual by how well the model can predict that value.

    Parameters
    ----------
    hidden_sizes : tuple of int, default=(64, 32)
        Widths of the MLP encoder's hidden layers; the decoder mirrors them.
    latent_dim : int, default=8
        Size of the latent space.
    beta : float, default=1.0
        Weight of the KL term of the loss (1 is the standard VAE).
    likelihood : {"gaussian", "bernoulli", "continuous_bernoulli"}, default="gaussian"
        Family of p(x|z). The Bernoulli ones model values in [0, 1] (pixel
        intensities): X must lie there, and is not standardised.
    score : {"reconstruction_probability", "elbo", "reconstruction_error"}, \
            default="reconstruction_probability"
        Scoring rule. ``"elbo"`` subtracts KL(q(z|x) || p(z)) from the
        reconstruction probability (a lower bound on log p(x));
        ``"reconstruction_error"`` is the negated squared distance between a
        sample and the decoded mean of its posterior mean.
    n_samples : int, default=16
        Monte-Carlo draws of z per sample when scoring. The draws come from a
        seed fixed at fit time, so a fitted model always gives the same scores.
    standardize : bool, default=True
        Standardise the input inside the detector with the training mean and
        standard deviation: of each feature for rows (constant features are
        left unscaled), of each channel for images. Not done with a
        Bernoulli-type likelihood.
    contamination : "auto" or float in (0, 0.5], default="auto"
        Sets ``offset_``: with a float, that share of the training data falls
        below it; with ``"auto"``, it is Tukey's lower fence of the training
        scores (first quartile minus 1.5 interquartile ranges).
    epochs : int, default=50
        Passes over the training data.
    batch_size : int, default=128
        Rows per training step.
    learning_rate : float, default=1e-3
        Adam's step size.
    weight_decay : float, default=0.0
        Adam's L2 penalty.
    validation_fraction : float in (0, 1) or None, default=None
        Share of the training rows held out for early stopping; None trains
        for all ``epochs``.
    n_iter_no_change : int, default=10
        Epochs without a better validation loss before training stops.
    clip_grad_norm : float or None, default=10.0
        Maximum norm of the gradient; None disables clipping.
    device : str, default="auto"
        Torch device; ``"auto"`` uses CUDA when available (with bfloat16
        mixed precision for training) and the CPU otherwise.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batch order, sampling and the scoring
        draws. With an int, fitting on the CPU is reproducible to the bit.
    verbose : bool or int, default=False
        Show a progress bar with the loss per epoch.
    backbone : {"auto", "mlp", "conv", "gru"}, default="auto"
        Network type: ``"auto"`` takes convolutions for images (3-D or 4-D X,
        or rows with ``image_shape``) and for windows (``window_shape``), an
        MLP otherwise; ``"mlp"`` flattens images and windows; ``"gru"`` reads
        windows with a recurrent network.
    image_shape : tuple of int or None, default=None
        ``(height, width)`` or ``(channels, height, width)`` of the images
        when X holds them flattened as rows.
    window_shape : tuple of int or None, default=None
        ``(variables, length)`` of time-series windows held flattened as
        rows, variable-major; set by :class:`anomaly.timeseries.TimeSeriesDetector`.
    conv_channels : tuple of int, default=(32, 64)
        Channels of the convolutional encoder's stride-2 stages (each halves
        the height and width); the decoder mirrors them.

    Attributes
    ----------
    network_ : anomaly.networks.VAE
        The trained network, in eval mode on its device.
    fitted_params_ : dict
        The parameters at fit time. Scoring, saving and pickling use these, so
        ``set_params`` (e.g. another ``score``) takes effect at the next fit.
    history_ : dict of str to list of float
        Per-epoch training loss (``"loss"``) and, with a validation fraction,
        validation loss (``"val_loss"``).
    offset_ : float
        ``decision_function = score_samples - offset_``.
    feature_mean_ : ndarray of shape (n_features_in_,)
        Mean subtracted from each feature (zeros when ``standardize=False``).
    feature_scale_ : ndarray of shape (n_features_in_,)
        Scale each feature is divided by (ones when ``standardize=False``).
    scoring_seed_ : int
        Seed of the Monte-Carlo draws used by ``score_samples``.
    image_shape_ : tuple of int or None
        ``(channels, height, width)`` of the fitted images; None for rows.
    window_shape_ : tuple of int or None
        ``(variables, length)`` of the fitted windows; None otherwise.
    backbone_ : {"mlp", "conv", "gru"}
        The network type in use.
    n_features_in_ : int
        Number of features seen during fit (values per image for images).
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during fit, when ``X`` had string column names.

    See Also
    --------
    sklearn.ensemble.IsolationForest : A tree-based detector with the same API.

    Notes
    -----
    The scoring rule is the parameter ``score``, so the detector has no
    ``score(X, y)`` method: give ``GridSearchCV`` or ``cross_val_score`` a
    ``scoring=`` (see the README).

    Pickling works and follows scikit-learn; like every pickle it can run
    code when loaded, so only unpickle files you trust. :meth:`save` and
    :func:`anomaly.load` use a format that runs no code.

    References
    ----------
    .. [1] J. An and S. Cho, "Variational Autoencoder based Anomaly Detection
       using Reconstruction Probability", SNU Data Mining Center, 2015.
    .. [2] D. P. Kingma and M. Welling, "Auto-Encoding Variational Bayes",
       ICLR 2014.

    Examples
    --------
    >>> import numpy as np
    >>> from anomaly import VAEDetector
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4))
    >>> detector = VAEDetector(epochs=5, random_state=0).fit(X)
    >>> detector.predict([[0.0, 0.0, 0.0, 0.0], [8.0, -8.0, 8.0, -8.0]])
    array([ 1, -1])

    Images, with a map of each pixel's abnormality:

    >>> images = rng.uniform(size=(100, 12, 10))
    >>> detector = VAEDetector(likelihood="bernoulli", epochs=2, random_state=0)
    >>> detector.fit(images).anomaly_map(images[:3]).shape
    (3, 12, 10)
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseDeepDetector._parameter_constraints,
        "hidden_sizes": ["array-like"],
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "beta": [Interval(Real, 0, None, closed="left")],
        "likelihood": [StrOptions(set(LIKELIHOOD_OUTPUTS))],
        "score": [StrOptions({"reconstruction_probability", "elbo", "reconstruction_error"})],
        "n_samples": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        hidden_sizes: Sequence[int] = (64, 32),
        latent_dim: int = 8,
        beta: float = 1.0,
        likelihood: str = "gaussian",
        score: str = "reconstruction_probability",
        n_samples: int = 16,
        standardize: bool = True,
        contamination: str | float = "auto",
        epochs: int = 50,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        validation_fraction: float | None = None,
        n_iter_no_change: int = 10,
        clip_grad_norm: float | None = 10.0,
        device: str = "auto",
        random_state: int | None = None,
        verbose: bool = False,
        backbone: str = "auto",
        image_shape: Sequence[int] | None = None,
        window_shape: Sequence[int] | None = None,
        conv_channels: Sequence[int] = (32, 64),
    ) -> None:
        self.hidden_sizes = hidden_sizes
        self.latent_dim = latent_dim
        self.beta = beta
        self.likelihood = likelihood
        self.score = score
        self.n_samples = n_samples
        self.standardize = standardize
        self.contamination = contamination
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.clip_grad_norm = clip_grad_norm
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.backbone = backbone
        self.image_shape = image_shape
        self.window_shape = window_shape
        self.conv_channels = conv_channels

    def _build_network(self) -> VAE:
        params = self.fitted_params_
        latent_dim, likelihood = params["latent_dim"], params["likelihood"]
        return VAE(
            encoder=self._encoder(2 * latent_dim),
            decoder=self._decoder(latent_dim, LIKELIHOOD_OUTPUTS[likelihood]),
            likelihood=likelihood,
        )

    def _phases(self, network: VAE) -> list[Phase]:
        beta = self.fitted_params_["beta"]
        loss = Objective(
            "loss", list(network.parameters()), lambda x: negative_elbo(network, x, beta)
        )
        return [Phase(network, [loss])]

    def _score_batch(self, batch: torch.Tensor) -> torch.Tensor:
        params = self.fitted_params_
        if params["score"] == "reconstruction_error":
            return -reconstruction_error(self.network_, batch).double()
        noise = scoring_draws(
            params["n_samples"], params["latent_dim"], self.scoring_seed_, batch.device
        )
        scores = reconstruction_log_prob(self.network_, batch, noise)
        if params["score"] == "elbo":
            scores = scores - kl_to_standard_normal(self.network_.posterior(batch))
        return scores.double()

    def _reconstruct_batch(self, batch: torch.Tensor) -> torch.Tensor:
        return reconstruction(self.network_, batch)

    def _map_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """Minus each value's reconstruction log-probability (its squared residual with
        ``score="reconstruction_error"``; the ELBO's KL term has no pixels)."""
        params = self.fitted_params_
        if params["score"] == "reconstruction_error":
            return reconstruction_residual(self.network_, batch)
        noise = scoring_draws(
            params["n_samples"], params["latent_dim"], self.scoring_seed_, batch.device
        )
        return -reconstruction_log_prob_map(self.network_, batch, noise)

    def _scoring_row_bytes(self) -> int:
        # float32 activations of every Monte-Carlo draw through the decoder.
        params = self.fitted_params_
        widths = self._backbone_width() + params["latent_dim"] + 4 * self.n_features_in_
        return 4 * params["n_samples"] * widths
