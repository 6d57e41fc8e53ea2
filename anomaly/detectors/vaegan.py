"""VAEGANDetector: a VAE whose reconstructions are judged by a discriminator (Larsen et al.)."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real
from typing import ClassVar

import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch.nn import functional as F

from anomaly.detectors.adversarial import (
    check_generator,
    discriminator_median,
    discriminator_score,
    fill_missing,
    hide_like,
)
from anomaly.detectors.base import BaseDeepDetector
from anomaly.detectors.generative import GenerativeMixin
from anomaly.detectors.likelihood import (
    TRAINING_IMPUTATION_ROUNDS,
    LikelihoodMixin,
    filled_in,
    kl_to_standard_normal,
    negative_elbo,
    observed_log_prob,
    reconstruction,
    reconstruction_log_prob,
    reconstruction_log_prob_map,
    scoring_draws,
    scoring_posterior,
)
from anomaly.networks import VAE, VAEGAN
from anomaly.networks.vae import LIKELIHOOD_OUTPUTS
from anomaly.training import Objective, Phase

__all__ = [
    "VAEGANDetector",
    "vaegan_decoder_loss",
    "vaegan_discriminator_loss",
    "vaegan_encoder_loss",
    "feature_log_prob",
]


def _reconstruct(model: VAEGAN, x: torch.Tensor, missing: bool = False):
    """One pass: the posterior and the likelihood at a posterior draw, the decoded mean
    and a decoded prior draw as the discriminator sees them, and ``x`` so too.

    With ``missing``, rows may have gaps (NaN): the encoder reads them filled in by the
    model (:func:`~anomaly.detectors.likelihood.filled_in`, as the VAE's training does); the
    discriminator sees them at 0, the reconstruction with its row's gaps, the prior draw
    with a random row's (:func:`~anomaly.detectors.adversarial.hide_like`).
    """
    out = model.vae(filled_in(model.vae, x, TRAINING_IMPUTATION_ROUNDS) if missing else x)
    prior_z = torch.randn(len(x), model.latent_dim, device=x.device)
    decoded, sampled = out.likelihood.mean, model.vae.decoded_mean(prior_z)
    if missing:
        observed = ~torch.isnan(x)
        x, decoded, sampled = fill_missing(x), decoded * observed, hide_like(sampled, observed)
    return out, decoded, sampled, x


def _feature_residual(model: VAEGAN, x: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
    # Larsen's learned similarity: a unit-variance Gaussian on the discriminator's features.
    features = model.discriminator.features
    return 0.5 * (features(x) - features(reconstruction)).square().sum(dim=1)


def vaegan_discriminator_loss(
    model: VAEGAN, x: torch.Tensor, missing: bool = False
) -> torch.Tensor:
    """Real rows up; reconstructions and decoded prior draws down (non-saturating).

    One loss per row: its own real and reconstruction terms, plus the batch's
    mean loss on prior draws (which belong to no row). ``missing``: see
    :func:`_reconstruct`.
    """
    _, decoded, sampled, x = _reconstruct(model, x, missing)
    critic = model.discriminator
    return (
        F.softplus(-critic(x))
        + F.softplus(critic(decoded.detach()))
        + F.softplus(critic(sampled.detach())).mean()
    )


def vaegan_encoder_loss(
    model: VAEGAN, x: torch.Tensor, beta: float, missing: bool = False
) -> torch.Tensor:
    """``beta * KL + data-space NLL + feature-space NLL`` of the reconstruction, per row
    (the NLL of the observed values where rows have gaps)."""
    out, decoded, _, filled = _reconstruct(model, x, missing)
    data_nll = -observed_log_prob(out.likelihood, x).flatten(1).sum(dim=1)
    feature_nll = _feature_residual(model, filled, decoded)
    return beta * kl_to_standard_normal(out.posterior) + data_nll + feature_nll


def vaegan_decoder_loss(
    model: VAEGAN,
    x: torch.Tensor,
    feature_weight: float,
    adversarial_weight: float,
    missing: bool = False,
) -> torch.Tensor:
    """Data-space NLL, ``feature_weight`` x feature NLL, and fooling the discriminator, per row."""
    out, decoded, sampled, filled = _reconstruct(model, x, missing)
    data_nll = -observed_log_prob(out.likelihood, x).flatten(1).sum(dim=1)
    feature_nll = _feature_residual(model, filled, decoded)
    critic = model.discriminator
    # Prior draws belong to no row: their term is the batch's mean.
    adversarial = F.softplus(-critic(decoded)) + F.softplus(-critic(sampled)).mean()
    return data_nll + feature_weight * feature_nll + adversarial_weight * adversarial


def feature_log_prob(model: VAEGAN, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Reconstruction probability in the discriminator's feature space, per row.

    The mean over draws ``z = mu(x) + sigma(x) * noise[l]`` (of
    :func:`~anomaly.detectors.likelihood.scoring_posterior`) of the unit-variance
    Gaussian log-density (up to a constant) of the features of ``x`` around
    those of the decoded mean: the likelihood the VAE-GAN was trained with.
    Where ``x`` misses values, both are seen with its gaps at 0.
    """
    posterior = scoring_posterior(model.vae, x)
    z = posterior.loc + posterior.scale * noise[:, None, :]
    observed = ~torch.isnan(x)
    decoded = model.vae.decoded_mean(z.flatten(0, 1)) * observed.repeat(len(noise), 1)
    x = fill_missing(x)
    repeated_x = x.expand(len(noise), *x.shape).flatten(0, 1)
    return -_feature_residual(model, repeated_x, decoded).view(len(noise), len(x)).mean(dim=0)


class VAEGANDetector(GenerativeMixin, LikelihoodMixin, BaseDeepDetector):
    """VAE-GAN anomaly detector for tabular rows and images (Larsen et al., 2016).

    A VAE whose decoder outputs a distribution (by default a Student-t: a
    location and a scale per value) and a spectral-normalised discriminator
    (MLPs for rows, convolutional networks for images, see ``backbone``) are
    trained together,
    each batch stepping three objectives in turn:

    - discriminator: tell real rows from reconstructions and from decoded
      prior draws (non-saturating GAN loss);
    - encoder: ``beta`` x KL + the data-space negative log-likelihood + the
      reconstruction's negative log-likelihood in the discriminator's feature
      space (Larsen's learned similarity);
    - decoder: the data-space negative log-likelihood + ``feature_weight`` x
      the feature-space one + ``adversarial_weight`` x fooling the
      discriminator with reconstructions and samples.

    The data-space term keeps the decoder's variance head, so the default
    score is still An & Cho's reconstruction probability.

    Parameters
    ----------
    hidden_sizes : tuple of int, default=(64, 32)
        Hidden widths of the encoder and the discriminator; the decoder
        mirrors them.
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
    feature_weight : float, default=1.0
        Weight of the feature-space likelihood in the decoder's loss (gamma).
    adversarial_weight : float, default=1.0
        Weight of the adversarial term in the decoder's loss.
    scoring_rule : {"reconstruction_probability", "feature_reconstruction", "discriminator"}, \
            default="reconstruction_probability"
        Scoring rule:

        - ``"reconstruction_probability"``: mean over ``n_draws`` draws
          z ~ q(z|x) of the data-space log p(x|z), as in
          :class:`anomaly.VAEDetector`;
        - ``"feature_reconstruction"``: the same mean of the feature-space
          log-likelihood the hybrid was trained with;
        - ``"discriminator"``: minus the distance of the discriminator's
          logit from its median on the training data (as in
          :class:`anomaly.GANDetector`).
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
        channels; training leaves them out of the data-space likelihood, and the
        discriminator sees real rows and their reconstructions with the rows'
        gaps at the mean, and decoded prior draws with the gaps of random real
        rows (as MisGAN does), so that gaps tell it nothing. The encoder sees
        the gaps filled in by the model from the observed values, in training
        (one round of decoding and encoding again) and when scoring (five
        rounds; ``feature_scores``, ``transform``, ``reconstruct``,
        ``log_likelihood`` too). The reconstruction probability takes the
        observed values only, scaled by the number of values over the number
        observed so that rows missing values compare with complete ones (a
        missing value's ``feature_scores`` is 0); the feature-space rule
        compares both rows with the same gaps. Standardisation uses the observed
        values. A sample (or a feature, at fit) with no observed value is refused.
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
    learning_rate : float, default=5e-4
        Adam's step size (beta1 = 0.5) for all three objectives.
    weight_decay : float, default=0.0
        Adam's L2 penalty.
    validation_fraction : float in (0, 1) or None, default=None
        Share of rows held out for early stopping on the VAE's negative ELBO
        (``beta`` x KL plus the data-space NLL, ``val_elbo`` in ``history_``):
        the adversarial losses measure a race, not the fit.
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
        Channels of the convolutional stages of the encoder and the
        discriminator; the decoder mirrors them.
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
    network_ : anomaly.networks.VAEGAN
        The trained VAE and discriminator.
    fitted_params_ : dict
        The parameters at fit time. Scoring, saving and pickling use these, so
        ``set_params`` (e.g. another ``scoring_rule``) takes effect at the next fit.
    history_ : dict of str to list of float
        Per-epoch ``"discriminator"``, ``"encoder"`` and ``"decoder"`` losses; with
        ``validation_fraction``, also theirs and ``"val_elbo"`` on the held-out rows.
    generator_diversity_ : float
        Spread of rows sampled from the model (prior draw, then p(x|z)) over
        that of the training rows; a warning is raised below 0.1 (collapse).
    discriminator_center_ : float
        Median of the discriminator's logit on the training data.
    offset_ : float
        ``decision_function = score_samples - offset_``.
    feature_mean_ : ndarray of shape (n_features_in_,)
        Mean subtracted from each feature (zeros when ``standardize=False``).
    feature_scale_ : ndarray of shape (n_features_in_,)
        Scale each feature is divided by (ones when ``standardize=False``).
    scoring_seed_ : int
        Seed of the Monte-Carlo draws used by ``score_samples``.
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
    anomaly.VAEDetector : The same VAE without the discriminator.
    anomaly.GANDetector : A GAN with AnoGAN and f-AnoGAN scoring.

    Notes
    -----
    ``score(X)`` is the mean of ``score_samples(X)`` (the mean
    reconstruction log-probability with the default rule; minus the mean
    neighbour distance when ``n_neighbors_`` is set): ``GridSearchCV``
    without ``scoring`` picks the model that finds held-out data most normal.
    Compare models of one scoring rule, likelihood and ``standardize`` only:
    these change the scores' units.

    References
    ----------
    .. [1] A. B. L. Larsen, S. K. Sønderby, H. Larochelle and O. Winther,
       "Autoencoding beyond pixels using a learned similarity metric",
       ICML 2016.
    .. [2] J. An and S. Cho, "Variational Autoencoder based Anomaly Detection
       using Reconstruction Probability", 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from anomaly import VAEGANDetector
    >>> X = np.random.default_rng(0).normal(size=(200, 4))
    >>> detector = VAEGANDetector(random_state=0).fit(X)
    >>> detector.predict([[0.0, 0.0, 0.0, 0.0], [8.0, -8.0, 8.0, -8.0]])
    array([ 1, -1])
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseDeepDetector._parameter_constraints,
        "hidden_sizes": ["array-like"],
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "beta": [Interval(Real, 0, None, closed="left")],
        "likelihood": [StrOptions(set(LIKELIHOOD_OUTPUTS))],
        "feature_weight": [Interval(Real, 0, None, closed="left")],
        "adversarial_weight": [Interval(Real, 0, None, closed="left")],
        "scoring_rule": [
            StrOptions({"reconstruction_probability", "feature_reconstruction", "discriminator"})
        ],
        "n_draws": [Interval(Integral, 1, None, closed="left")],
        "missing": [StrOptions({"error", "marginalize"})],
    }
    _adam_betas = (0.5, 0.999)
    _added_parameters: ClassVar[dict] = {"missing": "error"}
    # Rules whose terms no single value carries: feature_scores and maps leave them out.
    _rules_without_values: ClassVar[frozenset[str]] = frozenset(
        {"feature_reconstruction", "discriminator"}
    )
    _persisted_attributes = (
        *BaseDeepDetector._persisted_attributes,
        "generator_diversity_",
        "discriminator_center_",
    )

    def __init__(
        self,
        *,
        hidden_sizes: Sequence[int] = (64, 32),
        latent_dim: int = 8,
        beta: float = 1.0,
        likelihood: str = "student_t",
        feature_weight: float = 1.0,
        adversarial_weight: float = 1.0,
        scoring_rule: str = "reconstruction_probability",
        n_draws: int = 16,
        missing: str = "error",
        standardize: bool = True,
        contamination: str | float = "auto",
        trim_fraction: float = 0.2,
        epochs: int = 50,
        batch_size: int = 128,
        learning_rate: float = 5e-4,
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
        self.feature_weight = feature_weight
        self.adversarial_weight = adversarial_weight
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

    def _build_network(self) -> VAEGAN:
        params = self.fitted_params_
        latent_dim, likelihood = params["latent_dim"], params["likelihood"]
        backbone = self._backbone()
        vae = VAE(
            encoder=self._encoder(2 * latent_dim),
            decoder=backbone.decoder(latent_dim, LIKELIHOOD_OUTPUTS[likelihood]),
            likelihood=likelihood,
        )
        return VAEGAN(vae, backbone.discriminator(), latent_dim)

    def _phases(self, model: VAEGAN) -> list[Phase]:
        params = self.fitted_params_
        beta, gamma = params["beta"], params["feature_weight"]
        adversarial = params["adversarial_weight"]
        missing = self._allows_missing(reset=False)
        objectives = [
            Objective(
                "discriminator",
                list(model.discriminator.parameters()),
                lambda x: vaegan_discriminator_loss(model, x, missing),
            ),
            Objective(
                "encoder",
                list(model.vae.encoder.parameters()),
                lambda x: vaegan_encoder_loss(model, x, beta, missing),
            ),
            Objective(
                "decoder",
                list(model.vae.decoder.parameters()),
                lambda x: vaegan_decoder_loss(model, x, gamma, adversarial, missing),
            ),
        ]
        # Early stopping watches the VAE's fit (what the default scores read), not the race.
        elbo = Objective("elbo", [], lambda x: negative_elbo(model.vae, x, beta, missing))
        return [Phase(model, objectives, stopping_loss=elbo)]

    def _after_training(self, model: VAEGAN, X: torch.Tensor) -> None:
        X = X.to(next(model.parameters()).device)
        with torch.no_grad():
            self.generator_diversity_ = check_generator(
                type(self).__name__,
                # Samples of the full model: decoded means alone omit the decoder's noise.
                lambda n: model.vae.likelihood(
                    torch.randn(n, model.latent_dim, device=X.device)
                ).sample(),
                X,
            )
            self.discriminator_center_ = discriminator_median(model.discriminator, X)

    def _score_batch(self, batch: torch.Tensor) -> torch.Tensor:
        params, model = self.fitted_params_, self.network_
        if params["scoring_rule"] == "discriminator":
            return discriminator_score(model.discriminator, batch, self.discriminator_center_)
        noise = scoring_draws(
            params["n_draws"], params["latent_dim"], self.scoring_seed_, batch.device
        )
        if params["scoring_rule"] == "feature_reconstruction":
            return feature_log_prob(model, batch, noise).double()
        return reconstruction_log_prob(model.vae, batch, noise).double()

    def _reconstruct_batch(self, batch: torch.Tensor) -> torch.Tensor:
        return reconstruction(self.network_.vae, batch)

    def _likelihood_model(self) -> VAE:
        return self.network_.vae

    def _encode_batch(self, batch: torch.Tensor) -> torch.Tensor:
        return scoring_posterior(self.network_.vae, batch).loc

    def _decode_batch(self, codes: torch.Tensor) -> torch.Tensor:
        return self.network_.vae.decoded_mean(codes)

    def _features_batch(self, batch: torch.Tensor) -> torch.Tensor:
        return self.network_.vae.encoder.features(filled_in(self.network_.vae, batch))

    def _map_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """Minus each value's data-space reconstruction log-probability, whatever the
        ``scoring_rule`` (the discriminator's features and logit have no pixels)."""
        params = self.fitted_params_
        noise = scoring_draws(
            params["n_draws"], params["latent_dim"], self.scoring_seed_, batch.device
        )
        return -reconstruction_log_prob_map(self.network_.vae, batch, noise)

    def _scoring_row_bytes(self) -> int:
        # float32 activations of every Monte-Carlo draw through decoder and discriminator.
        params = self.fitted_params_
        widths = (
            2 * self._backbone().activation_width() + params["latent_dim"] + 4 * self.n_features_in_
        )
        return 4 * params["n_draws"] * widths
