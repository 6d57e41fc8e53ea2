"""The estimator contract shared by every detector.

:class:`BaseDetector` is the scikit-learn outlier-detector contract: validation,
``offset_`` from ``contamination``, and ``decision_function``/``predict`` as thin
layers over ``score_samples``. :class:`BaseDeepDetector` adds what every
network-based detector shares: standardisation, the training parameters handed
to :func:`anomaly.training.train`, chunked scoring on the fitted device,
persistence and pickling.
"""

from __future__ import annotations

import os
import warnings
from abc import ABCMeta, abstractmethod
from collections.abc import Callable, Sequence
from math import prod
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn import get_config
from sklearn.base import BaseEstimator, OutlierMixin, _fit_context
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn
from tqdm.auto import tqdm

from anomaly.networks import (
    MLP,
    ConvDecoder,
    ConvDiscriminator,
    ConvEncoder,
    Discriminator,
    GRUDecoder,
    GRUDiscriminator,
    GRUEncoder,
)
from anomaly.networks.conv import stage_sizes
from anomaly.training import Phase, TrainingConfig, resolve_device, seeded, train

__all__ = ["BaseDeepDetector", "BaseDetector"]


class BaseDetector(OutlierMixin, BaseEstimator, metaclass=ABCMeta):
    """Contract of every anomaly detector in this package.

    Subclasses implement ``_fit(X)`` and ``_score_samples(X)`` on validated
    arrays; this class does the validation, derives ``offset_`` from
    ``contamination`` and turns scores into decisions and labels. As in
    scikit-learn, higher scores mean more normal.
    """

    _parameter_constraints: ClassVar[dict] = {
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
    }

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> BaseDetector:
        """Fit the detector on (mostly) normal data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : object
            The fitted detector.
        """
        X = self._validate_input(X, reset=True)
        try:
            self._fit(X)
            self.offset_ = self._offset(self._score_samples(X))
        except BaseException:
            # A failed fit leaves the detector unfitted rather than half-refitted.
            for name in [name for name in vars(self) if name.endswith("_")]:
                delattr(self, name)
            raise
        return self

    def score_samples(self, X: Any) -> np.ndarray:
        """Normality score of each sample: the lower, the more abnormal.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Score of each sample; ``-inf`` where the model cannot score a
            sample (values so extreme that its arithmetic overflows).
        """
        check_is_fitted(self)
        scores = self._score_samples(self._validate_input(X, reset=False))
        # NaN only arises from overflow on extreme inputs: rank those as the most abnormal.
        return np.nan_to_num(scores, nan=-np.inf)

    def decision_function(self, X: Any) -> np.ndarray:
        """Shifted scores: negative for outliers, non-negative for inliers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``score_samples(X) - offset_``.
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """Label each sample: +1 for an inlier, -1 for an outlier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to label.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            +1 or -1 per sample.
        """
        return np.where(self.decision_function(X) < 0, -1, 1)

    def _validate_input(self, X: Any, *, reset: bool) -> np.ndarray:
        # Keep float32 input as it is; anything else becomes float64 so that
        # standardisation is computed before the cast to the network's float32.
        return validate_data(
            self,
            X,
            reset=reset,
            dtype=[np.float64, np.float32],
            ensure_min_samples=2 if reset else 1,
        )

    def _offset(self, training_scores: np.ndarray) -> float:
        if self.contamination == "auto":
            # Tukey's lower fence: flags training scores unusually low for this
            # data without assuming how many anomalies it holds.
            q1, q3 = np.percentile(training_scores, [25, 75])
            return float(q1 - 1.5 * (q3 - q1))
        return float(np.percentile(training_scores, 100 * self.contamination))

    @abstractmethod
    def _fit(self, X: np.ndarray) -> None:
        """Fit on validated data; ``n_features_in_`` is already set."""

    @abstractmethod
    def _score_samples(self, X: np.ndarray) -> np.ndarray:
        """Score validated data."""


class BaseDeepDetector(BaseDetector):
    """Shared machinery of the detectors built on a torch network.

    A subclass says which network to build (``_build_network``), how to
    train it (``_phases``) and how to score a standardised batch
    (``_score_batch``); everything else lives here. Those methods read the
    hyper-parameters from ``fitted_params_``, the parameters as they were at
    fit time: as in scikit-learn, ``set_params`` takes effect at the next fit,
    and a saved or pickled model always matches its weights.
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseDetector._parameter_constraints,
        "standardize": ["boolean"],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "validation_fraction": [None, Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "clip_grad_norm": [None, Interval(Real, 0, None, closed="neither")],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "backbone": [StrOptions({"auto", "mlp", "conv", "gru"})],
        "image_shape": [None, "array-like"],
        "window_shape": [None, "array-like"],
        "conv_channels": ["array-like"],
    }

    # Adam's (beta1, beta2); adversarial training is steadier with a lower beta1.
    _adam_betas: ClassVar[tuple[float, float]] = (0.9, 0.999)

    # Fitted attributes that, with the network's weights, make up a saved model.
    _persisted_attributes: ClassVar[tuple[str, ...]] = (
        "n_features_in_",
        "image_shape_",
        "window_shape_",
        "backbone_",
        "feature_names_in_",
        "feature_mean_",
        "feature_scale_",
        "scoring_seed_",
        "offset_",
        "history_",
    )

    def _fit(self, X: np.ndarray) -> None:
        self.fitted_params_ = self.get_params(deep=False)
        device = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        training_seed, self.scoring_seed_ = (int(s) for s in rng.randint(2**31 - 1, size=2))
        self.feature_mean_, self.feature_scale_ = self._standardization(X)
        config = TrainingConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            validation_fraction=self.validation_fraction,
            n_iter_no_change=self.n_iter_no_change,
            clip_grad_norm=self.clip_grad_norm,
            adam_betas=self._adam_betas,
            verbose=bool(self.verbose),
            description=type(self).__name__,
        )
        data = torch.from_numpy(self._standardize(X))
        batch_order = torch.Generator().manual_seed(training_seed)
        history: dict[str, list[float]] = {}
        with seeded(training_seed, device):
            network = self._build_network()
            for phase in self._phases(network):
                history |= train(phase, data, config, device=device, generator=batch_order)
            self._after_training(network, data)
        self.network_, self.history_ = network, history

    def _score_samples(self, X: np.ndarray) -> np.ndarray:
        return self._blockwise(X, self._score_batch, "scoring")

    def anomaly_map(self, X: Any) -> np.ndarray:
        """Per-pixel abnormality of images: the higher, the more abnormal.

        What each pixel contributes to the detector's scoring rule, summed
        over channels (see the detector's ``_map_batch`` for the rule); for
        the reconstruction probability, ``score_samples(X)`` equals minus the
        map summed over pixels.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width), \
                (n_samples, channels, height, width) or (n_samples, n_features)
            Images as at fit time, or flattened.

        Returns
        -------
        maps : ndarray of shape (n_samples, height, width)
            One map per image, in the units of the scoring rule (nats for
            log-likelihoods, squared standardised values for residuals).
        """
        check_is_fitted(self)
        if self.image_shape_ is None:
            raise ValueError(
                f"{type(self).__name__} was fitted on rows, not images, so it has no anomaly "
                "maps: fit it on arrays of shape (n_samples, height, width) or (n_samples, "
                "channels, height, width), or pass image_shape."
            )
        X = self._validate_input(X, reset=False)
        maps = self._blockwise(X, self._map_batch, "mapping", width=self.n_features_in_)
        maps = np.nan_to_num(maps, nan=np.inf)  # as in score_samples: overflow is abnormal
        return maps.reshape(len(X), *self.image_shape_).sum(axis=1)

    def reconstruct(self, X: Any) -> np.ndarray:
        """The model's reconstruction of each sample, in the input's units.

        The decoded mean of the posterior mean for the VAE-type detectors,
        G(E(x)) for :class:`anomaly.GANDetector`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or images
            Samples as at fit time.

        Returns
        -------
        reconstructions : ndarray
            Shape (n_samples, n_features) for rows, (n_samples, channels,
            height, width) for images.
        """
        check_is_fitted(self)
        X = self._validate_input(X, reset=False)
        flat = self._blockwise(X, self._reconstruct_batch, "reconstructing", self.n_features_in_)
        flat = flat * self.feature_scale_ + self.feature_mean_
        return flat if self.image_shape_ is None else flat.reshape(len(X), *self.image_shape_)

    def _blockwise(
        self,
        X: np.ndarray,
        batch_function: Callable[[torch.Tensor], torch.Tensor],
        action: str,
        width: int | None = None,
    ) -> np.ndarray:
        """``batch_function`` over ``X``, one standardised block at a time, as a float64 array."""
        # Rows go through the network in blocks of one fixed size, the last one
        # zero-padded: BLAS picks kernels by shape, so a row's score is then the
        # same to the bit however the input is split or ordered, and memory is
        # bounded by one block.
        block = self._scoring_block_rows()
        device = next(self.network_.parameters()).device
        padded = torch.zeros(block, *X.shape[1:], dtype=torch.float32)
        out = np.empty((len(X),) if width is None else (len(X), width))
        self.network_.eval()
        # no_grad rather than inference_mode: a scoring rule may search by gradient.
        with torch.no_grad():
            starts = tqdm(
                range(0, len(X), block),
                desc=f"{type(self).__name__} {action}",
                unit="block",
                disable=not self.verbose or len(X) <= block,
                leave=False,
            )
            for start in starts:
                rows = X[start : start + block]
                padded[: len(rows)] = torch.from_numpy(self._standardize(rows))
                padded[len(rows) :] = 0
                result = batch_function(padded.to(device))
                out[start : start + len(rows)] = result[: len(rows)].double().cpu().numpy()
        return out

    def _scoring_block_rows(self) -> int:
        # As many rows as fit scikit-learn's working_memory (MiB), at most 1024.
        budget = get_config()["working_memory"] * 2**20
        return int(max(1, min(1024, budget // self._scoring_row_bytes())))

    def _standardization(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and scale of each feature: per column for rows, per channel for images."""
        n_features = X.shape[1]
        if not self._standardizes():
            return np.zeros(n_features), np.ones(n_features)
        shape = self._sample_shape()
        if shape is None:
            scaler = StandardScaler().fit(X)
            return scaler.mean_, scaler.scale_
        # One mean and scale per channel (or a window's variable): per-pixel
        # scaling would blow up near-constant border pixels, break the
        # convolutions' shared weights, and make a window's scale depend on its position.
        channels = X.reshape(len(X), shape[0], -1).transpose(1, 0, 2).reshape(shape[0], -1)
        mean, std = channels.mean(axis=1), channels.std(axis=1)
        scale = np.where(std > 0, std, 1.0)
        values = n_features // shape[0]
        return np.repeat(mean, values), np.repeat(scale, values)

    def _standardizes(self) -> bool:
        """Whether inputs are standardised; subclasses whose likelihood needs raw values say no."""
        return bool(self.fitted_params_["standardize"])

    def _standardize(self, X: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):  # beyond float32's range becomes inf: scored -inf
            return ((X - self.feature_mean_) / self.feature_scale_).astype(np.float32)

    @abstractmethod
    def _build_network(self) -> nn.Module:
        """A freshly initialised network for the fitted input shape."""

    @abstractmethod
    def _phases(self, network: nn.Module) -> Sequence[Phase]:
        """How the training loop fits ``network``, phase after phase."""

    def _after_training(self, network: nn.Module, X: torch.Tensor) -> None:
        """Checks on the trained network (e.g. generator collapse); none by default."""

    def _hidden_sizes(self) -> list[int]:
        """The fitted ``hidden_sizes``, checked: every detector's MLP backbone has them."""
        return _positive_widths("hidden_sizes", self.fitted_params_["hidden_sizes"])

    def _conv_channels(self) -> list[int]:
        """The fitted ``conv_channels``, checked (at least one stage)."""
        channels = _positive_widths("conv_channels", self.fitted_params_["conv_channels"])
        if not channels:
            raise ValueError("conv_channels must name at least one convolution stage.")
        return channels

    # --- backbones, chosen by the fitted input (rows, images or windows) -----------------

    def _sample_shape(self) -> tuple[int, ...] | None:
        """(channels, height, width) of an image, (variables, length) of a window, or None."""
        return self.image_shape_ if self.image_shape_ is not None else self.window_shape_

    def _gru_width(self) -> int:
        # The recurrent backbone's state is as wide as the MLP's first layer.
        return max(self._hidden_sizes(), default=64)

    def _encoder(self, out_features: int) -> nn.Module:
        """Input (flattened) to ``out_features``: an MLP, strided convolutions or a GRU."""
        if self.backbone_ == "conv":
            return ConvEncoder(self._sample_shape(), self._conv_channels(), out_features)
        if self.backbone_ == "gru":
            return GRUEncoder(self.window_shape_, self._gru_width(), out_features)
        return MLP(self.n_features_in_, self._hidden_sizes(), out_features)

    def _decoder(self, in_features: int, outputs_per_value: int) -> nn.Module:
        """``in_features`` to ``outputs_per_value`` values per input value."""
        shape = self._sample_shape()
        if self.backbone_ == "conv":
            channels = outputs_per_value * shape[0]
            return ConvDecoder(in_features, self._conv_channels(), shape, channels)
        if self.backbone_ == "gru":
            channels = outputs_per_value * shape[0]
            return GRUDecoder(in_features, self._gru_width(), shape, channels)
        hidden = self._hidden_sizes()[::-1]
        return MLP(in_features, hidden, outputs_per_value * self.n_features_in_)

    def _discriminator(self) -> Discriminator | ConvDiscriminator | GRUDiscriminator:
        """A spectral-normalised critic over the input, with ``features``."""
        if self.backbone_ == "conv":
            return ConvDiscriminator(self._sample_shape(), self._conv_channels())
        if self.backbone_ == "gru":
            return GRUDiscriminator(self.window_shape_, self._gru_width())
        return Discriminator(self.n_features_in_, self._hidden_sizes())

    def _backbone_width(self) -> int:
        """Activations of one row through the encoder's hidden layers (to size blocks)."""
        if self.backbone_ == "conv":
            channels = self._conv_channels()
            stages = stage_sizes(self._sample_shape()[1:], len(channels))[1:]
            # The decoder's upsampled maps are as large again as the encoder's.
            return 2 * sum(c * prod(sizes) for c, sizes in zip(channels, stages))
        if self.backbone_ == "gru":
            # A state per step, in the encoder and again in the decoder.
            return 2 * self._gru_width() * self.window_shape_[1]
        return sum(self._hidden_sizes())

    # --- input shapes ----------------------------------------------------------------------

    def _validate_input(self, X: Any, *, reset: bool) -> np.ndarray:
        """Rows, or images flattened to rows; at fit, the fitted shapes and ``backbone_``."""
        ndim = X.ndim if hasattr(X, "ndim") else np.asarray(X).ndim
        given_shape = None
        if ndim > 2 and self.window_shape is not None:
            # (n, length, variables) windows and (n, height, width) images are both 3-D.
            raise ValueError(
                f"window_shape is set, so X must hold flattened windows of shape (n_windows, "
                f"variables * length), variable-major; got a {ndim}-D array of shape "
                f"{np.shape(X)}. Series are windowed by anomaly.timeseries.TimeSeriesDetector."
            )
        if ndim > 4:
            raise ValueError(
                "X must be 2-D (n_samples, n_features), 3-D (n_samples, height, width) or "
                f"4-D (n_samples, channels, height, width); got a {ndim}-D array of shape "
                f"{np.shape(X)}."
            )
        if ndim in (3, 4):
            X = np.asarray(X)
            given_shape = X.shape[1:] if ndim == 4 else (1, *X.shape[1:])
            X = X.reshape(len(X), prod(given_shape))
            if not reset:
                self._check_image_shape(given_shape)
        X = super()._validate_input(X, reset=reset)
        if reset:
            self.image_shape_ = self._fit_image_shape(given_shape)
            self.window_shape_ = self._fit_window_shape()
            self.backbone_ = self._fit_backbone()
        return X

    def _fit_image_shape(self, given_shape: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if self.image_shape is None:
            return None if given_shape is None else tuple(int(n) for n in given_shape)
        declared = tuple(_positive_widths("image_shape", self.image_shape))
        if len(declared) == 2:
            declared = (1, *declared)
        if len(declared) != 3:
            raise ValueError(
                "image_shape must be (height, width) or (channels, height, width) of "
                f"positive sizes, got {self.image_shape!r}."
            )
        if given_shape is not None and tuple(given_shape) != declared:
            raise ValueError(
                f"X holds images of shape {tuple(given_shape)} (channels, height, width) but "
                f"image_shape is {declared}."
            )
        if prod(declared) != self.n_features_in_:
            raise ValueError(
                f"image_shape {declared} holds {prod(declared)} values but X has "
                f"{self.n_features_in_} features per sample."
            )
        return declared

    def _fit_window_shape(self) -> tuple[int, int] | None:
        if self.window_shape is None:
            return None
        if self.image_shape is not None:
            raise ValueError("Pass image_shape or window_shape, not both.")
        declared = tuple(_positive_widths("window_shape", self.window_shape))
        if len(declared) != 2:
            raise ValueError(
                f"window_shape must be (variables, length), got {self.window_shape!r}."
            )
        if prod(declared) != self.n_features_in_:
            raise ValueError(
                f"window_shape {declared} holds {prod(declared)} values but X has "
                f"{self.n_features_in_} features per sample."
            )
        return declared

    def _fit_backbone(self) -> str:
        if self.backbone == "conv" and self._sample_shape() is None:
            raise ValueError(
                "backbone='conv' needs images or windows: pass X of shape (n_samples, height, "
                "width) or (n_samples, channels, height, width), or flattened rows with "
                "image_shape or window_shape."
            )
        if self.backbone == "gru" and self.window_shape_ is None:
            raise ValueError(
                "backbone='gru' needs time-series windows: pass window_shape, or use "
                "anomaly.timeseries.TimeSeriesDetector."
            )
        if self.backbone == "auto":
            return "mlp" if self._sample_shape() is None else "conv"
        return self.backbone

    def _check_image_shape(self, given_shape: tuple[int, ...]) -> None:
        if self.image_shape_ is None:
            raise ValueError(
                f"X holds images of shape {tuple(given_shape)} (channels, height, width) but "
                f"{type(self).__name__} was fitted on rows of {self.n_features_in_} features; "
                "pass X of shape (n_samples, n_features)."
            )
        expected = tuple(self.image_shape_)
        if tuple(given_shape) == expected:
            return
        if given_shape[0] != expected[0]:
            problem = f"{given_shape[0]} channels where the detector expects {expected[0]}"
        else:
            problem = f"{given_shape[1:]} pixels where the detector expects {expected[1:]}"
        raise ValueError(
            f"X holds images of shape {tuple(given_shape)} (channels, height, width) but "
            f"{type(self).__name__} was fitted on {expected}: {problem}."
        )

    @abstractmethod
    def _score_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """Scores of one standardised batch already on the network's device."""

    @abstractmethod
    def _reconstruct_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """Reconstruction of one standardised batch, in standardised units."""

    @abstractmethod
    def _map_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """Abnormality of every value of one standardised batch, shape (batch, n_features)."""

    @abstractmethod
    def _scoring_row_bytes(self) -> int:
        """Rough memory one row takes while scored, to size the chunks."""

    def save(self, path: str | os.PathLike) -> None:
        """Save the fitted detector to ``path`` in a format that runs no code on load.

        The file holds the network's tensors in safetensors format, with the
        hyper-parameters and the fitted state as JSON in its header. Open it
        with :func:`anomaly.load`.

        Parameters
        ----------
        path : str or path-like
            Destination file; written to a temporary file first and renamed, so
            a failure leaves no partial file.
        """
        from anomaly.io import save

        save(self, path)

    def __getstate__(self) -> dict:
        # Weights travel as CPU tensors so a model trained on a GPU unpickles anywhere.
        state = dict(super().__getstate__())  # a copy: object.__getstate__ returns __dict__ itself
        network = state.pop("network_", None)
        if network is not None:
            state["_network_state"] = {k: v.cpu() for k, v in network.state_dict().items()}
        return state

    def __setstate__(self, state: dict) -> None:
        network_state = state.pop("_network_state", None)
        super().__setstate__(state)
        if network_state is not None:
            self._restore_network(network_state)

    def _restore_network(
        self, network_state: dict[str, torch.Tensor], device: str | None = None
    ) -> None:
        """Rebuild ``network_`` from saved weights, on ``device`` or the fitted one."""
        try:
            target = resolve_device(device or self.fitted_params_["device"])
        except ValueError as err:
            warnings.warn(f"{err} The model is restored on the CPU instead.", stacklevel=3)
            target = torch.device("cpu")
        # Built on the meta device: no random initialisation to overwrite.
        with torch.device("meta"):
            network = self._build_network()
        network.load_state_dict(network_state, assign=True)
        self.network_ = network.to(target).eval()


def _positive_widths(name: str, widths: Any) -> list[int]:
    widths = list(widths)
    if not all(isinstance(width, Integral) and width >= 1 for width in widths):
        raise ValueError(f"{name} must hold positive integer widths, got {widths!r}.")
    return [int(width) for width in widths]
