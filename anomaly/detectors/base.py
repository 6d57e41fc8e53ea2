"""What every detector built on a torch network shares.

:class:`BaseDeepDetector` runs the one training loop (:func:`anomaly.training.train`)
on what a subclass describes, standardises inputs and scores them in fixed-size
blocks on the fitted device; :mod:`anomaly.detectors.saved_state` saves, loads and
pickles the fitted state. Which networks it builds is the backbone's business
(:mod:`anomaly.networks.backbones`); what the samples are (rows, images, windows) is
:mod:`anomaly.detectors.shapes`'.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from math import prod
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from sklearn import get_config
from sklearn.utils import Tags, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from torch import nn
from tqdm.auto import tqdm

from anomaly.base import BaseDetector, nan_as, overflow_shares
from anomaly.detectors.neighbors import NeighborMixin
from anomaly.detectors.patches import (
    MAP_SMOOTHING_SIGMA,
    map_score,
    normalize_lighting,
    random_patches,
    tiled,
)
from anomaly.detectors.saved_state import SavedStateMixin
from anomaly.detectors.segmenter import (
    DefectSegmenterMixin,
    build_segmenter,
    check_patch_size,
)
from anomaly.detectors.shapes import (
    as_image_list,
    check_image_shape,
    check_patch_fits,
    check_patched_pixels,
    fitted_image_shape,
    fitted_patch_size,
    fitted_window_shape,
    flatten_images,
    unused_patch_size,
    warn_if_channels_last,
)
from anomaly.detectors.standardization import feature_standardization
from anomaly.networks import MaskBesideValuesEncoder, MissingValueEncoder
from anomaly.networks.backbones import BACKBONES, Backbone, InputShape, choose_backbone
from anomaly.training import Phase, TrainingConfig, resolve_device, seeded, train

__all__ = ["BaseDeepDetector"]


class BaseDeepDetector(SavedStateMixin, NeighborMixin, DefectSegmenterMixin, BaseDetector):
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
        "tol": [Interval(Real, 0, None, closed="left")],
        "clip_grad_norm": [None, Interval(Real, 0, None, closed="neither")],
        "trim_fraction": [Interval(Real, 0, 0.5, closed="left")],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "backbone": [StrOptions({"auto", *BACKBONES})],
        "image_shape": [None, "array-like"],
        "window_shape": [None, "array-like"],
        "conv_channels": ["array-like"],
        "patch_size": [None, Interval(Integral, 1, None, closed="left"), "array-like"],
        "synthetic_defects": ["boolean"],
        "n_neighbors": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left"), None],
    }

    # Adam's (beta1, beta2); adversarial training is steadier with a lower beta1.
    _adam_betas: ClassVar[tuple[float, float]] = (0.9, 0.999)
    # Whether the encoder of rows that allows missing values takes their mask beside the
    # values (models saved before the mask became a shift; set when one is loaded).
    _mask_beside_values: bool = False

    # Fitted attributes that, with the network's weights, make up a saved model.
    _persisted_attributes: ClassVar[tuple[str, ...]] = (
        "n_features_in_",
        "image_shape_",
        "window_shape_",
        "patch_size_",
        "backbone_",
        "feature_names_in_",
        "feature_mean_",
        "feature_scale_",
        "scoring_seed_",
        "n_neighbors_",
        "neighbor_features_",
        "offset_",
        "image_score_scales_",
        "segmenter_standardization_",
        "history_",
    )

    def _fit(self, X: np.ndarray) -> None:
        images = X
        self.fitted_params_ = self.get_params(deep=False)
        device = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        training_seed, self.scoring_seed_ = (int(s) for s in rng.randint(2**31 - 1, size=2))
        self._resolve_n_neighbors()
        if self._segments_defects():
            check_patch_size(self.patch_size_)
        if self.patch_size_ is not None:
            # Random crops of every image, about its area in all, drawn once per fit.
            crop_rng = np.random.default_rng(training_seed)
            X = random_patches(X, self.patch_size_, crop_rng, prepare=self._prepare_image)
        self.feature_mean_, self.feature_scale_ = self._standardization(X)
        data = torch.from_numpy(self._standardize(X))
        self._mask_beside_values = False
        with seeded(training_seed, device):
            network = self._build_network()
            history = self._train(network, data, self.epochs, training_seed, device)
        self.network_, self.history_ = network, history
        self.segmenter_standardization_ = None  # set by a segmenter's fit, where it is needed
        if self._segments_defects():
            with seeded(training_seed, device):
                self._fit_segmenter(data.numpy(), training_seed, device)
        self._fit_references(X)
        self.image_score_scales_ = None
        if self._segments_defects():
            # The training images' scores, which set the image scores' scales, set offset_ too.
            self._fit_scores = -self._fit_image_scores(images)

    def _build_fitted_network(self) -> nn.Module:
        """The fitted detector's network, untrained: with its defect segmenter where it has one."""
        network = self._build_network()
        if self._segments_defects():
            network.add_module("defect_segmenter", build_segmenter(self.image_shape_[0]))
        return network

    def _partial_fit(self, X: np.ndarray | list[np.ndarray], epochs: int | None) -> None:
        params = self.fitted_params_
        if epochs is None:
            epochs = max(1, params["epochs"] // 10)
        # Seeded by the fit's seed and the epochs so far: each update its own, reproducible.
        trained = sum(len(losses) for losses in self.history_.values())
        seed = int(np.random.SeedSequence([self.scoring_seed_, trained]).generate_state(1)[0])
        if self.patch_size_ is not None:
            X = random_patches(
                X, self.patch_size_, np.random.default_rng(seed), self._prepare_image
            )
        data = torch.from_numpy(self._standardize(X))
        device = next(self.network_.parameters()).device
        with seeded(seed, device):
            history = self._train(self.network_, data, epochs, seed, device, warm_start=True)
        for name, losses in history.items():
            self.history_[name] = [*self.history_.get(name, []), *losses]
        self._fit_references(X)

    def _train(
        self,
        network: nn.Module,
        data: torch.Tensor,
        epochs: int,
        seed: int,
        device: torch.device,
        warm_start: bool = False,
    ) -> dict[str, list[float]]:
        """The one training loop over ``data``, phase after phase, with the fitted settings
        (``warm_start``: ``network`` was trained before, see :class:`TrainingConfig`)."""
        params = self.fitted_params_
        config = TrainingConfig(
            epochs=epochs,
            batch_size=params["batch_size"],
            learning_rate=params["learning_rate"],
            weight_decay=params["weight_decay"],
            validation_fraction=params["validation_fraction"],
            # Set for this fit by a TimeSeriesDetector, which knows how far apart its windows start.
            validation_gap=self.__dict__.pop("_validation_gap", None),
            n_iter_no_change=params["n_iter_no_change"],
            tol=params["tol"],
            clip_grad_norm=params["clip_grad_norm"],
            adam_betas=self._adam_betas,
            trim_fraction=params["trim_fraction"],
            warm_start=warm_start,
            verbose=bool(self.verbose),
            description=type(self).__name__,
        )
        batch_order = torch.Generator().manual_seed(seed)
        history: dict[str, list[float]] = {}
        phases = self._phases(network)
        config.check_split(phases, len(data))  # before a first phase that holds out nothing
        for phase in phases:
            history |= train(phase, data, config, device=device, generator=batch_order)
        self._after_training(network, data)
        return history

    def _score_samples(self, X: np.ndarray | list[np.ndarray]) -> np.ndarray:
        if self.patch_size_ is None:
            return self._blockwise(X, self._sample_score_batch, "scoring")
        if self._segments_defects():
            return -self._segmenter_scores(X)
        # An image is as abnormal as its most abnormal region.
        return np.array([-map_score(m, MAP_SMOOTHING_SIGMA) for m in self._patched_maps(X)])

    def _training_scores(self, X: np.ndarray | list[np.ndarray]) -> np.ndarray:
        # Images with a defect segmenter were scored once by fit already (not by partial_fit).
        scores = self.__dict__.pop("_fit_scores", None)
        return super()._training_scores(X) if scores is None else scores

    def _patched_maps(self, images: list[np.ndarray]) -> Iterator[np.ndarray]:
        """Full-resolution anomaly maps of images cut into patches, summed over channels."""
        if self._segments_defects():
            yield from self._defect_maps(images)
            return
        for values in self._tiled(images, self._map_batch, "mapping"):
            yield nan_as(values, np.inf).sum(axis=0)  # overflow is abnormal

    def _tiled(
        self,
        images: list[np.ndarray],
        batch_function: Callable[[torch.Tensor], torch.Tensor],
        action: str,
        *,
        unscale: bool = False,
        channels_out: int | None = None,
    ) -> Iterator[np.ndarray]:
        """``batch_function``'s values of every pixel of each image, from a sliding patch.

        With ``unscale``, the values are undone from standardisation (reconstructions);
        ``channels_out`` values per pixel, by default the images' channels.
        """

        def run(patches: np.ndarray) -> np.ndarray:
            values = self._blockwise(patches, batch_function, action)
            return values * self.feature_scale_ + self.feature_mean_ if unscale else values

        return tiled(
            images,
            self.patch_size_,
            run,
            channels_out=channels_out or self.image_shape_[0],
            block=self._scoring_block_rows(),
            prepare=self._prepare_image,
        )

    def _prepare_image(self, image: np.ndarray) -> np.ndarray:
        """An image to cut into patches, as float32: normalised for lighting when standardised."""
        if self._standardizes():
            return normalize_lighting(image)
        return image.astype(np.float32, copy=False)

    def anomaly_map(self, X: Any) -> np.ndarray:
        """Per-pixel abnormality of images: the higher, the more abnormal.

        What each pixel contributes to the detector's scoring rule, summed
        over channels (see the detector's ``_map_batch`` for the rule); for
        the reconstruction probability, ``score_samples(X)`` equals minus the
        map summed over pixels (unless whole images score by ``n_neighbors``:
        maps keep to the rule). For images cut into patches (see
        ``patch_size``), the map is the mean over the sliding patches that
        cover each pixel, and ``score_samples(X)`` is minus its maximum
        after a Gaussian smoothing; with a defect segmenter (see
        ``synthetic_defects``), each pixel's defect probability, raised to
        its mean with its surroundings' (a Gaussian over a patch's side)
        where that is higher, and over a band from an edge where the image's
        row or column profile has an unusual step or its streaks an unusual
        break (see ``image_score_scales_``), and ``score_samples(X)`` adds
        that step (or an unusual step in the rows' or columns' streaks,
        which marks no band), an unusually dark thin line and that break,
        to the segmenter's own map's maximum away from the edges.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width), \
                (n_samples, channels, height, width) or (n_samples, n_features)
            Images as at fit time, or flattened; with patches (see
            ``patch_size``), images of any size at least the patch's, also as
            a list of arrays of different sizes.

        Returns
        -------
        maps : ndarray of shape (n_samples, height, width) or list of ndarray
            One map per image, in the units of the scoring rule (nats for log-likelihoods,
            squared standardised values for residuals) or probabilities (a defect
            segmenter's); with patches, a list when the images came as one.
        """
        check_is_fitted(self)
        if self.image_shape_ is None:
            raise ValueError(
                f"{type(self).__name__} was fitted on rows, not images, so it has no anomaly "
                "maps: fit it on arrays of shape (n_samples, height, width) or (n_samples, "
                "channels, height, width), or pass image_shape."
            )
        X_valid = self._validate_input(X, reset=False)
        if self.patch_size_ is not None:
            maps = list(self._patched_maps(X_valid))
            return maps if isinstance(X, (list, tuple)) else np.stack(maps)
        maps = self._blockwise(X_valid, self._map_batch, "mapping")
        maps = nan_as(maps, np.inf)  # as in score_samples: overflow is abnormal
        return maps.reshape(len(X_valid), *self.image_shape_).sum(axis=1)

    def feature_scores(self, X: Any) -> np.ndarray | pd.DataFrame:
        """Each value's share of its row's abnormality: the higher, the more abnormal.

        The per-value term of the detector's scoring rule (see its
        ``_map_batch``): for the reconstruction probability, minus each
        value's log-probability, which sums over a row to minus
        ``score_samples``. A row beyond the model's arithmetic (scored
        ``-inf``) has ``+inf`` at its furthest-out value and 0 at the others.
        Images have :meth:`anomaly_map` instead.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows (or flattened windows) as at fit time.

        Returns
        -------
        scores : ndarray or DataFrame of shape (n_samples, n_features)
            A DataFrame with the fitted feature names (and ``X``'s index)
            when fitted on a DataFrame.
        """
        check_is_fitted(self)
        if self.image_shape_ is not None:
            raise ValueError(
                f"{type(self).__name__} was fitted on images: use anomaly_map for per-pixel scores."
            )
        X_valid = self._validate_input(X, reset=False)
        scores = self._blockwise(X_valid, self._map_batch, "explaining")
        scores = overflow_shares(scores, self._standardize(X_valid))
        if not hasattr(self, "feature_names_in_"):
            return scores
        return pd.DataFrame(scores, columns=self.feature_names_in_, index=getattr(X, "index", None))

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
        reconstructions : ndarray or list of ndarray
            Shape (n_samples, n_features) for rows, (n_samples, channels,
            height, width) for images. With patches, the mean of the
            overlapping patches' reconstructions, in the lighting-normalised
            units the network sees, and a list when the images came as one.
        """
        check_is_fitted(self)
        X_valid = self._validate_input(X, reset=False)
        if self.patch_size_ is not None:
            tiles = self._tiled(X_valid, self._reconstruct_batch, "reconstructing", unscale=True)
            out = list(tiles)
            return out if isinstance(X, (list, tuple)) else np.stack(out)
        X = X_valid
        flat = self._blockwise(X, self._reconstruct_batch, "reconstructing")
        flat = flat * self.feature_scale_ + self.feature_mean_
        return flat if self.image_shape_ is None else flat.reshape(len(X), *self.image_shape_)

    def _blockwise(
        self,
        X: np.ndarray,
        batch_function: Callable[[torch.Tensor], torch.Tensor],
        action: str,
        *,
        standardized: bool = False,
    ) -> np.ndarray:
        """``batch_function`` over ``X``, a standardised block at a time, as a float64 array
        (with ``standardized``, ``X`` holds float32 values standardised already)."""
        # Rows go through the network in blocks of one fixed size, the last one zero-padded:
        # BLAS picks kernels by shape, so a row's score is then the same to the bit however
        # the input is split or ordered, and memory is bounded by one block.
        block = self._scoring_block_rows()
        device = next(self.network_.parameters()).device
        padded = torch.zeros(block, *X.shape[1:], dtype=torch.float32)
        out = np.empty(0)
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
                padded[: len(rows)] = torch.from_numpy(
                    rows if standardized else self._standardize(rows)
                )
                padded[len(rows) :] = 0
                result = batch_function(padded.to(device))
                if start == 0:  # one value or a vector per sample: the first block says which
                    out = np.empty((len(X), *result.shape[1:]))
                out[start : start + len(rows)] = result[: len(rows)].cpu().numpy()
        return out

    def _scoring_block_rows(self) -> int:
        # As many rows as fit scikit-learn's working_memory (MiB), at most 1024.
        budget = get_config()["working_memory"] * 2**20
        row_bytes = self._scoring_row_bytes() + 8 * len(getattr(self, "neighbor_features_", ()))
        if self._segments_defects():  # about a dozen 16-channel maps of the patch alive at once
            row_bytes += 4 * 16 * 12 * prod(self.image_shape_[1:])
        return int(max(1, min(1024, budget // row_bytes)))

    def _standardization(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and scale of each feature: per column for rows, per channel for images."""
        if not self._standardizes():
            return np.zeros(X.shape[1]), np.ones(X.shape[1])
        return feature_standardization(X, self._input_shape().sample_shape)

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
        """Checks and statistics of the trained network (e.g. generator collapse)."""

    # --- networks and inputs ------------------------------------------------------------

    def _check_whole_samples(self, method: str) -> None:
        """Refuse ``method`` where the detector was fitted on patches, not whole images."""
        if self.patch_size_ is not None:
            raise ValueError(
                f"This detector was fitted on {self.patch_size_} patches of larger images, "
                f"which it does not model whole: {method} needs a detector fitted on whole "
                "samples."
            )

    def _input_shape(self) -> InputShape:
        return InputShape(self.n_features_in_, self.image_shape_, self.window_shape_)

    def _backbone(self, inputs: InputShape | None = None) -> Backbone:
        """The fitted backbone, which builds every network of this detector (for ``inputs``
        other than the fitted ones, where a network takes more, e.g. a mask of missing values)."""
        params = self.fitted_params_
        return BACKBONES[self.backbone_](
            inputs or self._input_shape(),
            hidden_sizes=params["hidden_sizes"],
            conv_channels=params["conv_channels"],
        )

    def _allows_missing(self, *, reset: bool) -> bool:
        # Detectors with a ``missing`` parameter let NaN in with "marginalize".
        params = self.get_params(deep=False) if reset else self.fitted_params_
        return params.get("missing") == "marginalize"

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        # A fit on images cut into patches rules NaN out, whatever ``missing`` says.
        tags.input_tags.allow_nan &= getattr(self, "patch_size_", None) is None
        return tags

    def _encoder(self, n_outputs: int) -> nn.Module:
        """The backbone's encoder to ``n_outputs`` values; where missing values are allowed,
        wrapped to be told where they are: by a shift of the values for rows
        (:class:`MissingValueEncoder`), by their mask beside the values, as twice the
        channels, for images and windows, and for rows in a model saved before the shift."""
        if not self._allows_missing(reset=False):
            return self._backbone().encoder(n_outputs)
        inputs = self._input_shape()
        if inputs.sample_shape is None and not self._mask_beside_values:
            return MissingValueEncoder(self._backbone().encoder(n_outputs), inputs.n_features)
        image, window = inputs.image_shape, inputs.window_shape
        doubled = InputShape(
            2 * inputs.n_features,
            image_shape=None if image is None else (2 * image[0], *image[1:]),
            window_shape=None if window is None else (2 * window[0], *window[1:]),
        )
        return MaskBesideValuesEncoder(self._backbone(doubled).encoder(n_outputs))

    def _validate_input(self, X: Any, *, reset: bool) -> np.ndarray | list[np.ndarray]:
        """Rows, images flattened to rows, or images to cut into patches (a list).

        At fit, sets the fitted shapes, ``patch_size_`` and ``backbone_``.
        """
        images = None if self.window_shape is not None else as_image_list(X)
        if reset:
            if images is not None:
                warn_if_channels_last(images[0].shape)
            patch = None
            if images is not None and self.image_shape is None:
                patch = fitted_patch_size(self.patch_size, images)
        else:
            patch = getattr(self, "patch_size_", None)
        if patch is not None:
            images = self._validate_patched(images, patch, reset=reset)
        else:
            if isinstance(X, (list, tuple)) and images is not None:
                if len({image.shape for image in images}) > 1:
                    raise ValueError(
                        "X holds images of different sizes; only images cut into patches may "
                        "differ (see patch_size)."
                    )
                X = np.stack(images)
            X = self._validate_whole(X, reset=reset)
        if reset:
            self.patch_size_ = patch
        return X if patch is None else images

    def _validate_whole(self, X: Any, *, reset: bool) -> np.ndarray:
        """Rows, or images flattened to rows; at fit, the fitted shapes and ``backbone_``."""
        X, given_shape = flatten_images(X, windows=self.window_shape is not None)
        if given_shape is not None and not reset:
            check_image_shape(
                given_shape,
                self.image_shape_,
                self.n_features_in_,
                type(self).__name__,
                unused_patch_size(self.fitted_params_, given_shape),
            )
        X = super()._validate_input(X, reset=reset)
        if reset:
            self.image_shape_ = fitted_image_shape(
                self.image_shape, given_shape, self.n_features_in_
            )
            self.window_shape_ = fitted_window_shape(
                self.window_shape, self.image_shape, self.n_features_in_
            )
            self.backbone_ = choose_backbone(self.backbone, self._input_shape())
        return X

    def _validate_patched(
        self, images: list[np.ndarray] | None, patch: tuple[int, ...], *, reset: bool
    ) -> list[np.ndarray]:
        """Images to cut into patches, each checked; at fit, the patch's shapes and backbone."""
        name = type(self).__name__
        if images is None:
            raise ValueError(
                f"{name} was fitted on patches of images, so X must hold images: an array of "
                "shape (n_samples, height, width) or (n_samples, channels, height, width), or "
                "a list of 2-D or 3-D arrays."
            )
        check_patched_pixels(images, name, missing_allowed=self._allows_missing(reset=reset))
        if reset:
            channels = images[0].shape[0]
            self.image_shape_ = (channels, *patch)
            self.n_features_in_ = prod(self.image_shape_)
            self.window_shape_ = None
            self.backbone_ = choose_backbone(self.backbone, self._input_shape())
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        else:
            check_patch_fits(images, self.image_shape_[0], tuple(patch), name)
        return images

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
