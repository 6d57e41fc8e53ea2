"""GANDetector: a GAN scored by its discriminator, an AnoGAN latent search or an encoder."""

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
from anomaly.detectors.likelihood import observed_share
from anomaly.networks import GAN
from anomaly.training import Objective, Phase

__all__ = [
    "GANDetector",
    "anogan_residual",
    "discriminator_loss",
    "encoder_residual",
    "generator_loss",
    "izif_residual",
    "latent_search",
    "search_latents",
]


def discriminator_loss(gan: GAN, x: torch.Tensor, missing: bool = False) -> torch.Tensor:
    """Non-saturating GAN loss of the discriminator: real rows up, generated rows down.

    One loss per real row, each with the batch's mean loss on generated rows
    added: trimmed training leaves out the real rows the discriminator finds
    least real. With ``missing``, real rows may have gaps (NaN), and generated
    rows get the same gaps (:func:`~anomaly.detectors.adversarial.hide_like`).
    """
    z = torch.randn(len(x), gan.latent_dim, device=x.device)
    fake = gan.generator(z).detach()
    if missing:
        observed = ~torch.isnan(x)
        x, fake = fill_missing(x), hide_like(fake, observed)
    return F.softplus(-gan.discriminator(x)) + F.softplus(gan.discriminator(fake)).mean()


def generator_loss(
    gan: GAN, batch_size: int, device: torch.device, observed: torch.Tensor | None = None
) -> torch.Tensor:
    """Non-saturating GAN loss of the generator: make generated rows look real (with the
    gaps of the real rows' masks ``observed``, where they have gaps)."""
    z = torch.randn(batch_size, gan.latent_dim, device=device)
    generated = gan.generator(z)
    if observed is not None:
        generated = hide_like(generated, observed)
    return F.softplus(-gan.discriminator(generated)).mean()


def _observed_parts(
    x: torch.Tensor, generated: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``x`` and ``generated`` at 0 where ``x`` misses values, as a discriminator sees rows
    with gaps, and each row's :func:`~anomaly.detectors.likelihood.observed_share`: with
    no gaps, ``x``, ``generated`` and ones, to the bit."""
    observed = ~torch.isnan(x)
    return fill_missing(x), generated * observed, observed_share(x)


def encoder_residual(gan: GAN, x: torch.Tensor) -> torch.Tensor:
    """Squared difference of each value from its reconstruction G(E(x)); 0 for a missing
    value, the observed values' scaled by the row's share of observed values."""
    x, reconstruction, share = _observed_parts(x, gan.generator(gan.encoder(x)))
    return (x - reconstruction).square() * share[:, None]


def izif_residual(gan: GAN, x: torch.Tensor, kappa: float) -> torch.Tensor:
    """f-AnoGAN's izi_f residual per row: data-space plus kappa times feature-space MSE.

    ``mean((x - G(E(x)))**2) + kappa * mean((f(x) - f(G(E(x))))**2)``, with f
    the discriminator's features; the encoder's training loss and its score.
    Where ``x`` misses values, the data term is over its observed values (scaled
    as a complete row's) and the features are of both rows with those gaps.
    """
    x, reconstruction, share = _observed_parts(x, gan.generator(gan.encoder(x)))
    data_term = (x - reconstruction).square().flatten(1).mean(dim=1) * share
    critic = gan.discriminator
    feature_term = (critic.features(x) - critic.features(reconstruction)).square().mean(dim=1)
    return data_term + kappa * feature_term


def anogan_residual(gan: GAN, x: torch.Tensor, z: torch.Tensor, weight: float) -> torch.Tensor:
    """AnoGAN's loss per row: ``(1 - weight) * |x - G(z)|_1 + weight * |f(x) - f(G(z))|_1``."""
    x, generated, share = _observed_parts(x, gan.generator(z))
    residual = (x - generated).abs().flatten(1).sum(dim=1) * share
    critic = gan.discriminator
    discrimination = (critic.features(x) - critic.features(generated)).abs().sum(dim=1)
    return (1 - weight) * residual + weight * discrimination


def search_latents(
    gan: GAN,
    x: torch.Tensor,
    z_start: torch.Tensor,
    *,
    steps: int,
    weight: float,
    learning_rate: float,
) -> torch.Tensor:
    """AnoGAN's latent search for a whole batch at once; returns each row's z.

    Every row's z starts at ``z_start`` (shape ``(latent_dim,)``) and takes
    ``steps`` Adam steps down :func:`anogan_residual`. The batch is one
    tensor: the summed loss gives each row's z the gradient of its own loss,
    and Adam updates each element on its own history, so this equals a
    per-row search (up to float32 rounding, which can differ with a row's
    position in the batch by about 1e-7 relative).
    """
    z = z_start.expand(len(x), -1).clone().requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=learning_rate)
    with torch.enable_grad():
        for _ in range(steps):
            loss = anogan_residual(gan, x, z, weight).sum()
            (z.grad,) = torch.autograd.grad(loss, [z])  # no gradients for the network itself
            optimizer.step()
    return z.detach()


def latent_search(
    gan: GAN,
    x: torch.Tensor,
    z_start: torch.Tensor,
    *,
    steps: int,
    weight: float,
    learning_rate: float,
) -> torch.Tensor:
    """The AnoGAN loss per row at the end of :func:`search_latents`."""
    z = search_latents(gan, x, z_start, steps=steps, weight=weight, learning_rate=learning_rate)
    return anogan_residual(gan, x, z, weight)


class GANDetector(GenerativeMixin, BaseDeepDetector):
    """Generative adversarial network anomaly detector for tabular rows and images.

    A generator and a spectral-normalised discriminator (MLPs for rows,
    convolutional networks for images, see ``backbone``) are trained with the
    non-saturating GAN loss (Adam with beta1 = 0.5); an encoder is then
    trained against the frozen GAN to map inputs back to the latent space
    (f-AnoGAN's izi_f training). A warning is raised if the generator
    collapses (its samples spread less than a tenth as much as the data).

    Parameters
    ----------
    hidden_sizes : tuple of int, default=(64, 32)
        Hidden widths of the discriminator and the encoder; the generator
        mirrors them.
    latent_dim : int, default=8
        Size of the generator's input.
    scoring_rule : {"encoder", "anogan", "discriminator"}, default="encoder"
        Scoring rule:

        - ``"encoder"`` (f-AnoGAN, Schlegl et al. 2019): minus the izi_f
          residual of G(E(x)), data-space plus ``encoder_weight`` times
          feature-space mean squared error. One forward pass.
        - ``"anogan"`` (Schlegl et al. 2017): minus the AnoGAN loss after a
          latent search of ``anogan_steps`` Adam steps, all rows of a block
          optimised at once as one tensor.
        - ``"discriminator"``: minus the distance of the discriminator's
          logit from its median on the training data. The discriminator
          estimates how much likelier a row is under the data than under
          the generator: near its usual value where the generator matches
          the data, higher on rare rows the generator cannot produce, lower
          on rows unlike anything seen in training; both ends are abnormal.
          (The raw logit ranks the rare rows as the most normal.)
    anogan_steps : int, default=100
        Steps of the latent search.
    anogan_weight : float in [0, 1], default=0.1
        Weight of the feature-matching term in the AnoGAN loss (lambda).
    anogan_learning_rate : float, default=0.05
        Adam's step size in the latent search.
    encoder_weight : float, default=1.0
        Weight of the feature-space term in the izi_f residual (kappa).
    missing : {"error", "marginalize"}, default="error"
        Missing values (NaN). "error" refuses them. "marginalize" lets them in,
        at fit and when scoring (not in images cut into patches: a model fitted
        on them sets scikit-learn's ``allow_nan`` tag False): the encoder is
        told where they are: in rows it sees them at the feature's mean, each
        value shifted by a learned mix of which are missing (zero at first, so
        that on complete rows the model fits as with "error"), in images and
        windows at the mean beside their mask; the discriminator sees real rows
        with their gaps at the mean and generated rows given the gaps of random
        real rows (as MisGAN does), so that gaps tell it nothing; every scoring
        rule takes the observed values only (and the discriminator's features of
        both rows with the same gaps), scaled by the number of values over the
        number observed so that rows missing values compare with complete ones
        (a missing value's ``feature_scores`` is 0). Standardisation uses the
        observed values. A sample (or a feature, at fit) with no observed value
        is refused.
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
        Passes over the data for the GAN, and again for the encoder.
    batch_size : int, default=128
        Rows per training step.
    learning_rate : float, default=2e-4
        Adam's step size for all three networks.
    weight_decay : float, default=0.0
        Adam's L2 penalty.
    validation_fraction : float in (0, 1) or None, default=None
        Share of rows held out for early stopping of the encoder (the
        adversarial phase always runs all epochs).
        At random, but fitted by :class:`anomaly.TimeSeriesDetector` the last
        windows, those before them that share a step with a held-out one
        left out (at most half the others, on a short series); the adversarial phase trains on all.
    n_iter_no_change : int, default=10
        Epochs without a better validation loss before the encoder stops.
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
        Channels of the convolutional stages of the discriminator and the
        encoder; the generator mirrors them.
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
    network_ : anomaly.networks.GAN
        The trained generator, discriminator and encoder.
    fitted_params_ : dict
        The parameters at fit time. Scoring, saving and pickling use these, so
        ``set_params`` (e.g. another ``scoring_rule``) takes effect at the next fit.
    history_ : dict of str to list of float
        Per-epoch ``"discriminator"``, ``"generator"`` and ``"encoder"`` losses.
    discriminator_center_ : float
        Median of the discriminator's logit on the training data.
    generator_diversity_ : float
        Mean pairwise distance of generated rows over that of training rows
        (about 1 for a healthy generator, near 0 for a collapsed one).
    offset_ : float
        ``decision_function = score_samples - offset_``.
    feature_mean_ : ndarray of shape (n_features_in_,)
        Mean subtracted from each feature (zeros when ``standardize=False``).
    feature_scale_ : ndarray of shape (n_features_in_,)
        Scale each feature is divided by (ones when ``standardize=False``).
    scoring_seed_ : int
        Seed of the latent search's starting point.
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
    anomaly.VAEDetector : Variational autoencoder scored by reconstruction probability.
    anomaly.VAEGANDetector : VAE whose reconstructions are judged by a discriminator.

    Notes
    -----
    ``score(X)`` is the mean of ``score_samples(X)`` (minus a residual with
    the default rule; minus the mean neighbour distance when
    ``n_neighbors_`` is set): ``GridSearchCV`` without ``scoring`` picks the model
    that finds held-out data most normal. Compare models of one scoring rule
    and ``standardize`` only: these change the scores' units.

    References
    ----------
    .. [1] T. Schlegl et al., "Unsupervised Anomaly Detection with Generative
       Adversarial Networks to Guide Marker Discovery", IPMI 2017.
    .. [2] T. Schlegl et al., "f-AnoGAN: Fast unsupervised anomaly detection
       with generative adversarial networks", Medical Image Analysis, 2019.
    .. [3] T. Miyato et al., "Spectral Normalization for Generative
       Adversarial Networks", ICLR 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from anomaly import GANDetector
    >>> X = np.random.default_rng(0).normal(size=(200, 4))
    >>> detector = GANDetector(random_state=0).fit(X)
    >>> detector.predict([[0.0, 0.0, 0.0, 0.0], [8.0, -8.0, 8.0, -8.0]])
    array([ 1, -1])
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseDeepDetector._parameter_constraints,
        "hidden_sizes": ["array-like"],
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "scoring_rule": [StrOptions({"encoder", "anogan", "discriminator"})],
        "anogan_steps": [Interval(Integral, 0, None, closed="left")],
        "anogan_weight": [Interval(Real, 0, 1, closed="both")],
        "anogan_learning_rate": [Interval(Real, 0, None, closed="neither")],
        "encoder_weight": [Interval(Real, 0, None, closed="left")],
        "missing": [StrOptions({"error", "marginalize"})],
    }
    _added_parameters: ClassVar[dict] = {"missing": "error"}
    # Rules whose terms no single value carries: feature_scores and maps leave them out.
    _rules_without_values: ClassVar[frozenset[str]] = frozenset({"discriminator"})
    _adam_betas = (0.5, 0.999)
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
        scoring_rule: str = "encoder",
        anogan_steps: int = 100,
        anogan_weight: float = 0.1,
        anogan_learning_rate: float = 0.05,
        encoder_weight: float = 1.0,
        missing: str = "error",
        standardize: bool = True,
        contamination: str | float = "auto",
        trim_fraction: float = 0.2,
        epochs: int = 50,
        batch_size: int = 128,
        learning_rate: float = 2e-4,
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
        self.scoring_rule = scoring_rule
        self.anogan_steps = anogan_steps
        self.anogan_weight = anogan_weight
        self.anogan_learning_rate = anogan_learning_rate
        self.encoder_weight = encoder_weight
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

    def _build_network(self) -> GAN:
        latent_dim = self.fitted_params_["latent_dim"]
        backbone = self._backbone()
        return GAN(
            generator=backbone.decoder(latent_dim, 1),
            discriminator=backbone.discriminator(),
            encoder=self._encoder(latent_dim),
            latent_dim=latent_dim,
        )

    def _phases(self, gan: GAN) -> list[Phase]:
        kappa = self.fitted_params_["encoder_weight"]
        missing = self._allows_missing(reset=False)
        adversarial = [
            Objective(
                "discriminator",
                list(gan.discriminator.parameters()),
                lambda x: discriminator_loss(gan, x, missing),
            ),
            Objective(
                "generator",
                list(gan.generator.parameters()),
                lambda x: generator_loss(
                    gan, len(x), x.device, ~torch.isnan(x) if missing else None
                ),
            ),
        ]
        encoder = Objective(
            "encoder", list(gan.encoder.parameters()), lambda x: izif_residual(gan, x, kappa)
        )
        return [
            Phase(gan, adversarial, frozen=[gan.encoder], early_stopping=False),
            Phase(gan.encoder, [encoder], frozen=[gan.generator, gan.discriminator]),
        ]

    def _after_training(self, gan: GAN, X: torch.Tensor) -> None:
        X = X.to(next(gan.parameters()).device)
        with torch.no_grad():
            self.generator_diversity_ = check_generator(
                type(self).__name__,
                lambda n: gan.generator(torch.randn(n, gan.latent_dim, device=X.device)),
                X,
            )
            self.discriminator_center_ = discriminator_median(gan.discriminator, X)

    def _score_batch(self, batch: torch.Tensor) -> torch.Tensor:
        params, gan = self.fitted_params_, self.network_
        if params["scoring_rule"] == "discriminator":
            return discriminator_score(gan.discriminator, batch, self.discriminator_center_)
        if params["scoring_rule"] == "encoder":
            return -izif_residual(gan, batch, params["encoder_weight"]).double()
        return -anogan_residual(gan, batch, self._search(batch), params["anogan_weight"]).double()

    def _reconstruct_batch(self, batch: torch.Tensor) -> torch.Tensor:
        return self.network_.generator(self.network_.encoder(batch))

    def _encode_batch(self, batch: torch.Tensor) -> torch.Tensor:
        return self.network_.encoder(batch)

    def _decode_batch(self, codes: torch.Tensor) -> torch.Tensor:
        return self.network_.generator(codes)

    def _features_batch(self, batch: torch.Tensor) -> torch.Tensor:
        return self.network_.encoder.features(batch)

    def _map_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """Each value's residual from its reconstruction: |x - G(z)| after the latent
        search with ``scoring_rule="anogan"``, else (x - G(E(x)))**2, f-AnoGAN's data term
        (the discriminator has no pixels)."""
        if self.fitted_params_["scoring_rule"] == "anogan":
            generated = self.network_.generator(self._search(batch))
            batch, generated, share = _observed_parts(batch, generated)
            return (batch - generated).abs() * share[:, None]
        return encoder_residual(self.network_, batch)

    def _search(self, batch: torch.Tensor) -> torch.Tensor:
        params = self.fitted_params_
        z_start = torch.randn(
            params["latent_dim"], generator=torch.Generator().manual_seed(self.scoring_seed_)
        ).to(batch.device)
        return search_latents(
            self.network_,
            batch,
            z_start,
            steps=params["anogan_steps"],
            weight=params["anogan_weight"],
            learning_rate=params["anogan_learning_rate"],
        )

    def _scoring_row_bytes(self) -> int:
        # float32 activations of G and D, kept for one backward pass of the search.
        return 4 * 4 * (2 * self._backbone().activation_width() + 3 * self.n_features_in_)
