"""VAEDetector: a variational autoencoder scored by reconstruction probability."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions

from anomaly.detectors.base import BaseDeepDetector
from anomaly.detectors.generative import GenerativeMixin
from anomaly.detectors.likelihood import (
    LikelihoodMixin,
    filled_in,
    kl_to_standard_normal,
    negative_elbo,
    observed_share,
    reconstruction,
    reconstruction_log_prob,
    reconstruction_log_prob_map,
    scoring_draws,
    scoring_posterior,
)
from anomaly.networks import VAE
from anomaly.networks.vae import LIKELIHOOD_OUTPUTS
from anomaly.training import Objective, Phase

__all__ = [
    "VAEDetector",
    "reconstruction_error",
    "reconstruction_residual",
    "residual_variance",
]


def reconstruction_residual(vae: VAE, x: torch.Tensor) -> torch.Tensor:
    """Squared difference of each value from the decoded mean of its posterior mean (0 for a
    missing value)."""
    return torch.where(torch.isnan(x), 0.0, (x - reconstruction(vae, x)).square())


def reconstruction_error(vae: VAE, x: torch.Tensor) -> torch.Tensor:
    """Squared distance between ``x`` and the decoded mean of its posterior mean, per row (over
    the observed values, scaled by :func:`~anomaly.detectors.likelihood.observed_share`)."""
    return reconstruction_residual(vae, x).flatten(1).sum(dim=1) * observed_share(x)


# Rows per block of residual_variance: fixed, so that the sums do not depend on a setting.
_RESIDUAL_BLOCK_ROWS = 1024


def residual_variance(vae: VAE, X: torch.Tensor, channels: int | None) -> np.ndarray:
    """Mean squared residual of each feature over the rows of ``X``.

    Pooled over each of ``channels`` (an image's channel, a window's variable)
    when given, as standardisation pools; at least ``vae.min_std ** 2``
    (1e-4 in standardised units), so that a feature the decoder reproduced
    exactly in training (e.g. a constant one) does not divide by zero: any
    change in it then weighs 1e4 times its square.
    """
    device = next(vae.parameters()).device
    total = torch.zeros(X.shape[1], dtype=torch.float64)
    observed = torch.zeros(X.shape[1], dtype=torch.float64)  # missing values are left out
    with torch.no_grad():
        for rows in X.split(_RESIDUAL_BLOCK_ROWS):
            total += reconstruction_residual(vae, rows.to(device)).double().sum(dim=0).cpu()
            observed += (~torch.isnan(rows)).sum(dim=0)
    variance = total.numpy() / np.maximum(observed.numpy(), 1)
    if channels is not None:
        variance = np.repeat(variance.reshape(channels, -1).mean(axis=1), len(variance) // channels)
    return np.maximum(variance, vae.min_std**2)


class VAEDetector(GenerativeMixin, LikelihoodMixin, BaseDeepDetector):
    """Variational autoencoder anomaly detector for tabular rows and images.

    The encoder and decoder are MLPs for rows and convolutional networks for
    images (see ``backbone``); the decoder outputs a distribution over the
    input (by default a Student-t: a location and a scale for every value),
    trained by maximising the ELBO with the KL term weighted by ``beta``, on
    all but the worst-fitted ``trim_fraction`` of each batch. By default a
    sample is scored by its reconstruction probability (An & Cho, 2015): the
    Monte-Carlo mean over ``n_draws`` draws z ~ q(z|x) of log p(x|z). Unlike
    a plain reconstruction error, it weighs each value's residual by how well
    the model can predict that value.

    Parameters
    ----------
    hidden_sizes : tuple of int, default=(64, 32)
        Widths of the MLP encoder's hidden layers; the decoder mirrors them.
    latent_dim : int, default=8
        Size of the latent space.
    beta : float, default=1.0
        Weight of the KL term of the loss (1 is the standard VAE).
    likelihood : {"student_t", "gaussian", "bernoulli", "continuous_bernoulli"}, \
            default="student_t"
        Family of the decoder's p(x|z). The Student-t (8 degrees of freedom)
        has heavy tails, so a few extreme values in one column do not dominate
        the likelihood of every row, as they do a Gaussian's. The Bernoulli
        ones model values in [0, 1] (pixel intensities): X must lie there, and
        is not standardised.
    scoring_rule : {"reconstruction_probability", "elbo", "reconstruction_error", \
            "standardized_residual"}, default="reconstruction_probability"
        Scoring rule. ``"elbo"`` subtracts KL(q(z|x) || p(z)) from the
        reconstruction probability (a lower bound on log p(x));
        ``"reconstruction_error"`` is the negated squared distance between a
        sample and the decoded mean of its posterior mean;
        ``"standardized_residual"`` divides each value's squared residual by
        its feature's mean squared residual on the training data (pooled per
        channel for images, per variable for windows: ``residual_variance_``),
        i.e. a Gaussian log-likelihood with one variance per feature, fitted
        after training, up to constants. Unlike the reconstruction
        probability, whose heavy-tailed log-density grows only with the log
        of a residual, it lets one large residual dominate.
    n_draws : int, default=16
        Monte-Carlo draws of z per sample when scoring. The draws come from a
        seed fixed at fit time, so a fitted model always gives the same scores.
    missing : {"error", "marginalize"}, default="error"
        Missing values (NaN). "error" refuses them. "marginalize" lets them in,
        at fit and when scoring (not in images cut into patches: a model fitted
        on them sets scikit-learn's ``allow_nan`` tag False): the encoder is
        told where they are (as in MIWAE and HI-VAE): in rows it sees them at
        the feature's mean, each value shifted by a learned mix of which are
        missing (zero at first, so that on complete rows the model fits as with
        "error"), in images and windows at the mean beside their mask, as
        channels; training leaves them out of the likelihood; the encoder sees
        them filled in from the observed values by the model, in training (one
        round of decoding and encoding again) and when scoring (five rounds;
        ``feature_scores``, ``transform``, ``reconstruct``, ``log_likelihood``
        too), and every scoring rule takes the observed values only, scaled by
        the number of values over the number observed so that rows missing
        values compare with complete ones (a missing value's ``feature_scores``
        is 0);
        ``log_likelihood`` is then of the observed values. Standardisation uses
        the observed values. A sample (or a feature, at fit) with no observed
        value is refused.
    standardize : bool, default=True
        Standardise the input inside the detector with the training mean and
        standard deviation: of each feature for rows (constant features are
        left unscaled), of each channel for images, of each variable for
        windows.
    contamination : "auto" or float in (0, 0.5], default="auto"
        Sets ``offset_``: with a float, that share of the training data falls
        below it; with ``"auto"``, it is Tukey's lower fence of the training
        scores (first quartile minus 1.5 interquartile ranges).
    trim_fraction : float in [0, 0.5), default=0.2
        Share of each training batch left out of the gradient step: the rows
        the model fits worst, once a warm-up of the first tenth of the epochs
        is over. Anomalies in the training data then do not teach the model
        to fit them. Keep it above the share of anomalies you expect in the
        training data; 0 trains on every row.
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
        At random, but fitted by :class:`anomaly.TimeSeriesDetector` the last
        windows, those before them that share a step with a held-out one
        left out (at most half the others, on a short series).
    n_iter_no_change : int, default=10
        Epochs without a better validation loss before training stops.
    tol : float, default=0.0
        Relative improvement of the validation loss that counts: an epoch
        whose loss is not below ``best - tol * |best|`` counts towards
        ``n_iter_no_change``.
    clip_grad_norm : float or None, default=10.0
        Maximum norm of the gradient; None disables clipping.
    device : str, default="auto"
        Torch device; ``"auto"`` uses CUDA when available (with bfloat16
        mixed precision for training) and the CPU otherwise.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batch order, the random draws of
        training and the seed of scoring's draws, fixed at fit so that a
        fitted model always gives the same scores. With an int, fitting on
        the CPU is reproducible to the bit.
    verbose : bool or int, default=False
        Show progress bars: the losses per epoch while fitting, and the
        blocks while scoring many samples.
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
        rows, variable-major; set by :class:`anomaly.TimeSeriesDetector`.
    conv_channels : tuple of int, default=(32, 64)
        Channels of the convolutional encoder's stride-2 stages (each halves
        the height and width); the decoder mirrors them.
    patch_size : int, (height, width) or None, default=64
        Working size of the network for large images. Images larger than
        it are cut into patches: training takes random patches (about each
        image's area in all), scoring slides the patch over an image at
        half-patch strides, averages the overlapping patches' values into a
        full-resolution anomaly map (``anomaly_map``: see
        ``synthetic_defects``) and scores the image by the maximum of that
        map (a defect is as abnormal as its worst region, however small;
        with a defect segmenter, plus the image's profile steps and darkest
        line: see ``synthetic_defects``).
        Such images are normalised per image for lighting (with
        ``standardize`` and a real-valued likelihood) and may differ in size
        (pass a list of arrays). Images narrower than the patch on a side,
        and any images when ``image_shape`` is set, go through the network
        whole; None takes every image whole.
    synthetic_defects : bool, default=True
        With patches (see ``patch_size``), also train a defect segmenter: a
        small U-Net that learns to outline synthetic defects (blobs, thin
        lines, irregular regions of shifted brightness or foreign texture)
        pasted afresh in each batch into half of twice as many training
        patches (2,048 to 16,384), for 3 epochs, as DRAEM does (Zavrtanik et
        al., ICCV 2021), though from the patch alone. Its per-pixel
        defect probability (the larger of the image's and of its
        half-resolution copy's) is then the anomaly map and the image scores
        by the map's maximum away from its edges (an eighth of the patch
        side is left out at each, where the object's rim and shadow lie),
        plus the steps in its row and column profiles (brightness, local
        contrast and streaks), which find defects that span the image (the
        brightness and contrast steps mark them on the map), its darkest
        thin line, which finds cracks along its streaks, and the largest
        break in its streaks, which finds regions that cut them off (see
        ``image_score_scales_``);
        with False, the map is the per-pixel part of ``scoring_rule``, and
        the image scores by its maximum after a Gaussian smoothing (sigma 4
        pixels). Whole images ignore it.
    n_neighbors : "auto", int or None, default="auto"
        Score whole samples by their distance to the training data in the
        encoder's feature space (its last hidden layer): minus the mean
        Euclidean distance of a sample's features to those of its
        ``n_neighbors`` nearest training samples (of at most 4,096, drawn at
        fit), as PyOD's KNN does on raw values. ``"auto"`` does so with 5
        neighbours for whole images and for windows of one variable, where it
        ranks better than the likelihood (Fashion-MNIST and NAB in
        ``benchmarks/``), and otherwise scores by ``scoring_rule``; None
        always scores by ``scoring_rule`` (an int with images cut into
        patches is an error: they score by their maps). Anomaly maps and
        ``feature_scores`` come from ``scoring_rule`` either way.

    Attributes
    ----------
    network_ : anomaly.networks.VAE
        The trained network, in eval mode on its device.
    fitted_params_ : dict
        The parameters at fit time. Scoring, saving and pickling use these, so
        ``set_params`` (e.g. another ``scoring_rule``) takes effect at the next fit.
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
    residual_variance_ : ndarray of shape (n_features_in_,) or None
        Each feature's mean squared residual on the training data, which
        ``scoring_rule="standardized_residual"`` divides by; None for the other rules.
    image_shape_ : tuple of int or None
        ``(channels, height, width)`` of the fitted images, or of their
        patches (see ``patch_size_``); None for rows.
    patch_size_ : tuple of int or None
        ``(height, width)`` of the patches the images are cut into; None
        when images go whole (``image_shape_`` is then the image's).
    image_score_scales_ : ndarray of shape (2, 2 + 9 * channels) or None
        With a defect segmenter, the means (row 0) and standard deviations
        (row 1) of the training images' evidence (``fit``'s; ``partial_fit``
        keeps them): their maps' peak, profile steps, darkest line, streak
        steps and streak breaks, as
        :func:`anomaly.detectors.segmenter.image_evidence` defines them and
        :func:`~anomaly.detectors.segmenter.image_scores` and
        :func:`~anomaly.detectors.segmenter.banded_map` use them (fewer
        columns in a model fitted before the streak breaks, the streak steps
        or the line: see ``image_scores``). None without a segmenter.
    segmenter_standardization_ : ndarray of shape (2, channels) or None
        With a defect segmenter on inputs the network takes unstandardised
        (``standardize=False``, or a Bernoulli likelihood where there is one), the mean (row 0) and
        standard deviation (row 1) of each channel of the training patches,
        which standardise the segmenter's input: its synthetic defects are
        drawn in those units. None otherwise.
    n_neighbors_ : int or None
        Neighbours that ``score_samples`` averages the distance over (see
        ``n_neighbors``); None when it scores by ``scoring_rule``.
    neighbor_features_ : ndarray of shape (n_references, n_encoder_features)
        Encoder features of the training samples kept as references, when
        ``n_neighbors_`` is not None.
    window_shape_ : tuple of int or None
        ``(variables, length)`` of the fitted windows; None otherwise.
    backbone_ : {"mlp", "conv", "gru"}
        The network type in use.
    n_features_in_ : int
        Number of features seen during fit (values per image for images,
        per patch for images cut into patches).
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during fit, when ``X`` had string column names.

    See Also
    --------
    sklearn.ensemble.IsolationForest : A tree-based detector with the same API.

    Notes
    -----
    ``score(X)`` is the mean of ``score_samples(X)`` (here the mean
    reconstruction log-probability; minus the mean neighbour distance
    when ``n_neighbors_`` is set), as ``GaussianMixture.score`` is the mean
    log-likelihood: ``GridSearchCV`` without ``scoring`` picks the model that
    finds held-out data most likely. Compare models of one scoring rule,
    likelihood and ``standardize`` only: these change the scores' units.

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
        "scoring_rule": [
            StrOptions(
                {
                    "reconstruction_probability",
                    "elbo",
                    "reconstruction_error",
                    "standardized_residual",
                }
            )
        ],
        "n_draws": [Interval(Integral, 1, None, closed="left")],
        "missing": [StrOptions({"error", "marginalize"})],
    }
    _persisted_attributes = (*BaseDeepDetector._persisted_attributes, "residual_variance_")
    _added_parameters: ClassVar[dict] = {"missing": "error"}
    # Models saved or pickled before residual_variance_ existed score by another rule.
    residual_variance_: np.ndarray | None = None

    def __init__(
        self,
        *,
        hidden_sizes: Sequence[int] = (64, 32),
        latent_dim: int = 8,
        beta: float = 1.0,
        likelihood: str = "student_t",
        scoring_rule: str = "reconstruction_probability",
        n_draws: int = 16,
        missing: str = "error",
        standardize: bool = True,
        contamination: str | float = "auto",
        trim_fraction: float = 0.2,
        epochs: int = 50,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        validation_fraction: float | None = None,
        n_iter_no_change: int = 10,
        tol: float = 0.0,
        clip_grad_norm: float | None = 10.0,
        device: str = "auto",
        random_state: int | None = None,
        verbose: bool = False,
        backbone: str = "auto",
        image_shape: Sequence[int] | None = None,
        window_shape: Sequence[int] | None = None,
        conv_channels: Sequence[int] = (32, 64),
        patch_size: int | Sequence[int] | None = 64,
        synthetic_defects: bool = True,
        n_neighbors: str | int | None = "auto",
    ) -> None:
        self.hidden_sizes = hidden_sizes
        self.latent_dim = latent_dim
        self.beta = beta
        self.likelihood = likelihood
        self.scoring_rule = scoring_rule
        self.n_draws = n_draws
        self.missing = missing
        self.standardize = standardize
        self.contamination = contamination
        self.trim_fraction = trim_fraction
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.clip_grad_norm = clip_grad_norm
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.backbone = backbone
        self.image_shape = image_shape
        self.window_shape = window_shape
        self.conv_channels = conv_channels
        self.patch_size = patch_size
        self.synthetic_defects = synthetic_defects
        self.n_neighbors = n_neighbors

    def _build_network(self) -> VAE:
        params = self.fitted_params_
        latent_dim, likelihood = params["latent_dim"], params["likelihood"]
        backbone = self._backbone()
        encoder = self._encoder(2 * latent_dim)
        return VAE(
            encoder=encoder,
            decoder=backbone.decoder(latent_dim, LIKELIHOOD_OUTPUTS[likelihood]),
            likelihood=likelihood,
        )

    def _phases(self, network: VAE) -> list[Phase]:
        beta, missing = self.fitted_params_["beta"], self._allows_missing(reset=False)
        loss = Objective(
            "loss", list(network.parameters()), lambda x: negative_elbo(network, x, beta, missing)
        )
        return [Phase(network, [loss])]

    def _after_training(self, vae: VAE, X: torch.Tensor) -> None:
        self.residual_variance_ = None
        if self.fitted_params_["scoring_rule"] == "standardized_residual":
            shape = self._input_shape().sample_shape
            channels = None if shape is None else shape[0]
            self.residual_variance_ = residual_variance(vae, X, channels)

    def _standardized_residual(self, batch: torch.Tensor) -> torch.Tensor:
        """Each value's squared residual over its feature's training mean of it (scaled by
        the row's :func:`~anomaly.detectors.likelihood.observed_share`)."""
        variance = torch.as_tensor(self.residual_variance_, dtype=batch.dtype, device=batch.device)
        residual = reconstruction_residual(self.network_, batch) / variance
        return residual * observed_share(batch)[:, None]

    def _score_batch(self, batch: torch.Tensor) -> torch.Tensor:
        params = self.fitted_params_
        if params["scoring_rule"] == "reconstruction_error":
            return -reconstruction_error(self.network_, batch).double()
        if params["scoring_rule"] == "standardized_residual":
            return -self._standardized_residual(batch).flatten(1).sum(dim=1).double()
        noise = scoring_draws(
            params["n_draws"], params["latent_dim"], self.scoring_seed_, batch.device
        )
        posterior = scoring_posterior(self.network_, batch)
        scores = reconstruction_log_prob(self.network_, batch, noise, posterior)
        if params["scoring_rule"] == "elbo":
            scores = scores - kl_to_standard_normal(posterior)
        return scores.double()

    def _reconstruct_batch(self, batch: torch.Tensor) -> torch.Tensor:
        return reconstruction(self.network_, batch)

    def _likelihood_model(self) -> VAE:
        return self.network_

    def _encode_batch(self, batch: torch.Tensor) -> torch.Tensor:
        return scoring_posterior(self.network_, batch).loc

    def _decode_batch(self, codes: torch.Tensor) -> torch.Tensor:
        return self.network_.decoded_mean(codes)

    def _features_batch(self, batch: torch.Tensor) -> torch.Tensor:
        return self.network_.encoder.features(filled_in(self.network_, batch))

    def _map_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """Minus each value's reconstruction log-probability (its squared residual with
        ``scoring_rule="reconstruction_error"``, over its feature's training mean of it with
        ``"standardized_residual"``; the ELBO's KL term has no pixels)."""
        params = self.fitted_params_
        if params["scoring_rule"] == "reconstruction_error":
            return reconstruction_residual(self.network_, batch) * observed_share(batch)[:, None]
        if params["scoring_rule"] == "standardized_residual":
            return self._standardized_residual(batch)
        noise = scoring_draws(
            params["n_draws"], params["latent_dim"], self.scoring_seed_, batch.device
        )
        return -reconstruction_log_prob_map(self.network_, batch, noise)

    def _scoring_row_bytes(self) -> int:
        # float32 activations of every Monte-Carlo draw through the decoder.
        params = self.fitted_params_
        widths = (
            self._backbone().activation_width() + params["latent_dim"] + 4 * self.n_features_in_
        )
        return 4 * params["n_draws"] * widths
