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
from collections.abc import Sequence
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
    }

    # Adam's (beta1, beta2); adversarial training is steadier with a lower beta1.
    _adam_betas: ClassVar[tuple[float, float]] = (0.9, 0.999)

    # Fitted attributes that, with the network's weights, make up a saved model.
    _persisted_attributes: ClassVar[tuple[str, ...]] = (
        "n_features_in_",
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
        if self.standardize:
            scaler = StandardScaler().fit(X)
            self.feature_mean_, self.feature_scale_ = scaler.mean_, scaler.scale_
        else:
            self.feature_mean_ = np.zeros(X.shape[1])
            self.feature_scale_ = np.ones(X.shape[1])
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
        # Rows go through the network in blocks of one fixed size, the last one
        # zero-padded: BLAS picks kernels by shape, so a row's score is then the
        # same to the bit however the input is split or ordered, and memory is
        # bounded by one block.
        block = self._scoring_block_rows()
        device = next(self.network_.parameters()).device
        padded = torch.zeros(block, *X.shape[1:], dtype=torch.float32)
        scores = np.empty(len(X))
        self.network_.eval()
        # no_grad rather than inference_mode: a scoring rule may search by gradient.
        with torch.no_grad():
            starts = tqdm(
                range(0, len(X), block),
                desc=f"{type(self).__name__} scoring",
                unit="block",
                disable=not self.verbose or len(X) <= block,
                leave=False,
            )
            for start in starts:
                rows = X[start : start + block]
                padded[: len(rows)] = torch.from_numpy(self._standardize(rows))
                padded[len(rows) :] = 0
                block_scores = self._score_batch(padded.to(device))
                scores[start : start + len(rows)] = block_scores[: len(rows)].cpu().numpy()
        return scores

    def _scoring_block_rows(self) -> int:
        # As many rows as fit scikit-learn's working_memory (MiB), at most 1024.
        budget = get_config()["working_memory"] * 2**20
        return int(max(1, min(1024, budget // self._scoring_row_bytes())))

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
        """The fitted ``hidden_sizes``, checked: every detector's backbone has them."""
        hidden = list(self.fitted_params_["hidden_sizes"])
        if not all(isinstance(width, Integral) and width >= 1 for width in hidden):
            raise ValueError(
                "hidden_sizes must hold positive integer widths, "
                f"got {self.fitted_params_['hidden_sizes']!r}."
            )
        return [int(width) for width in hidden]

    @abstractmethod
    def _score_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """Scores of one standardised batch already on the network's device."""

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
