"""The estimator contract shared by every detector.

:class:`BaseDetector` is the scikit-learn outlier-detector contract: validation,
``offset_`` from ``contamination``, ``score`` as the mean of ``score_samples``,
and ``decision_function``/``predict`` as thin layers over ``score_samples``.
The network-based detectors build on it in :mod:`anomaly.detectors.base`,
:class:`anomaly.TimeSeriesDetector` directly.
"""

from __future__ import annotations

import copy
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin, _fit_context
from sklearn.utils import Tags, check_scalar
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["BaseDetector", "check_observed", "nan_as", "overflow_shares"]


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
    # Whether a sample may have no observed value where missing values are allowed.
    _empty_samples_allowed: ClassVar[bool] = False

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> BaseDetector:
        """Fit the detector on (mostly) normal data.

        A fit that fails, on input it refuses too, leaves the detector
        unfitted, not holding an earlier fit beside the new data's names.

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
        self._fit_scored(X)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit the detector and label its training samples: +1 inlier, -1 outlier.

        The labels come from the training scores that ``offset_`` is set from,
        so that a share ``contamination`` of the samples is flagged. Scored by
        nearest training samples (``n_neighbors_``), a training sample is left
        out of its own neighbours there, as ``LocalOutlierFactor.fit_predict``
        does, while ``predict(X)`` afterwards counts it among them and flags
        fewer.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            +1 or -1 per sample.
        """
        return np.where(self._fit_scored(X) - self.offset_ < 0, -1, 1)

    def _fit_scored(self, X: Any) -> np.ndarray:
        """Fit on ``X``, set ``offset_``; the training scores it was set from."""
        try:
            # Validated inside: a refit refused after validation has set the new feature
            # names and shapes (e.g. values outside a Bernoulli likelihood's range) must
            # not leave them beside the old network.
            X = self._validate_input(X, reset=True)
            self._fit(X)
            scores = nan_as(self._training_scores(X), -np.inf)
            self.offset_ = self._offset(scores)
        except BaseException:
            # A failed fit leaves the detector unfitted rather than half-refitted.
            for name in [name for name in vars(self) if name.endswith("_")]:
                delattr(self, name)
            raise
        return scores

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: Any, y: Any = None, *, epochs: int | None = None) -> BaseDetector:
        """Go on training the fitted model on new data, so that it follows a drift.

        Unfitted, the detector is fitted on ``X`` (as ``fit``, with its own
        ``epochs``). Fitted, it
        trains ``epochs`` more epochs on ``X`` alone, from its current
        weights, with the training settings it was fitted with (early
        stopping included; trimming, ``trim_fraction``, from the first epoch,
        as the network has fitted the bulk of the data already); the loss
        history grows by them. The rules:

        - standardisation stays as fitted: the weights were trained in its
          units, and new data are learnt in them (values far from the first
          data stay far from it, which the network then learns);
        - with missing values allowed, a feature never observed in ``X`` is
          refused, as at fit;
        - ``offset_`` is set from the scores of ``X`` as ``fit`` sets it, so
          that the threshold follows the new data, by ``contamination`` as
          set now (checked; the one setting an update takes from
          ``set_params``, and recorded in ``fitted_params_`` where there is
          one);
        - scoring by nearest training samples (``n_neighbors_``) takes its
          references from ``X``; a statistic of training residuals, from ``X``;
        - a defect segmenter (images in patches) is not trained further, and
          its image scores keep the scales it was fitted with
          (``image_score_scales_``).

        The update is seeded by ``random_state`` and the epochs trained so
        far: the same calls on the same data give the same model. An update
        that fails (e.g. diverges) leaves the detector as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New training data, as at fit time.
        y : Ignored
            Not used, present for API consistency.
        epochs : int, optional
            Epochs over ``X``; by default a tenth of ``epochs``, at least 1.

        Returns
        -------
        self : object
            The updated detector.
        """
        if epochs is not None:  # checked even where fit, below, ignores it
            check_scalar(epochs, "epochs", Integral, min_val=1)
        if not hasattr(self, "offset_"):
            return self.fit(X)
        # scikit-learn checks a fitted estimator's parameters only at fit: contamination,
        # read below, is checked here.
        self._validate_params()
        X = self._validate_input(X, reset=False)
        if self._allows_missing(reset=False) and not isinstance(X, list):
            # As at fit: a feature never observed here has nothing to be learnt from (its
            # statistics of training residuals would come from no value).
            names = getattr(self, "feature_names_in_", None)
            check_observed(X, rows=False, columns=True, feature_names=names)
        before = copy.deepcopy(vars(self))  # the weights are updated in place
        try:
            self._partial_fit(X, epochs)
            self.offset_ = self._offset(self._training_scores(X))
            if hasattr(self, "fitted_params_"):  # so that a saved model says what set offset_
                self.fitted_params_["contamination"] = self.contamination
        except BaseException:
            vars(self).clear()
            vars(self).update(before)
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
        return nan_as(scores, -np.inf)

    def score(self, X: Any, y: Any = None) -> float:
        """Mean of ``score_samples(X)``: how normal the model finds ``X`` as a whole.

        As ``GaussianMixture.score`` gives the mean log-likelihood, so that an
        unsupervised ``GridSearchCV`` or ``cross_val_score`` (no ``scoring``)
        prefers the model that finds held-out normal data most likely. Scores
        compare across models of one scoring rule on one input scale only:
        the scoring rule, the likelihood and standardisation change their units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples to score.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        score : float
            The mean score; ``-inf`` if any sample scores ``-inf``.
        """
        return float(np.mean(self.score_samples(X)))

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

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self._allows_missing(reset=True)
        return tags

    def _validate_input(self, X: Any, *, reset: bool) -> np.ndarray:
        # Keep float32 input as it is; anything else becomes float64 so that
        # standardisation is computed before the cast to the network's float32.
        allow_nan = self._allows_missing(reset=reset)
        try:
            X = validate_data(
                self,
                X,
                reset=reset,
                dtype=[np.float64, np.float32],
                ensure_min_samples=2 if reset else 1,
                ensure_all_finite="allow-nan" if allow_nan else True,
            )
        except ValueError as err:
            first_line = str(err).splitlines()[0]
            remedy = self._missing_values_remedy()
            if not first_line.startswith("Input X contains NaN") or remedy is None:
                raise
            # Ours, not scikit-learn's general advice (which points to supervised models).
            when = "fit" if reset else "refit"
            raise ValueError(
                f"{first_line} {type(self).__name__} refuses missing values as set: {when} "
                f"with {remedy} to take them, or impute them."
            ) from None
        if allow_nan:
            check_observed(
                X,
                rows=not self._empty_samples_allowed,
                columns=reset,
                feature_names=getattr(self, "feature_names_in_", None),
            )
        return X

    def _allows_missing(self, *, reset: bool) -> bool:
        """Whether missing values (NaN) may come in: by the parameters at fit (``reset``),
        else as fitted."""
        return False

    def _missing_values_remedy(self) -> str | None:
        """The setting that lets missing values in, for the error that refuses them (None
        where none does)."""
        return 'missing="marginalize"' if "missing" in self.get_params(deep=False) else None

    def _offset(self, training_scores: np.ndarray) -> float:
        # Percentiles interpolate: an infinite or NaN score (overflow) would make NaN of its
        # neighbour's share. As the extreme finite floats they keep their rank.
        training_scores = np.nan_to_num(training_scores, nan=np.finfo(np.float64).min)
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

    def _partial_fit(self, X: np.ndarray, epochs: int | None) -> None:
        """Train the fitted model ``epochs`` more epochs on validated data (see partial_fit)."""
        raise NotImplementedError(f"{type(self).__name__} does not train further.")

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        """Scores of the validated training data that ``offset_`` comes from."""
        return self._score_samples(X)


def nan_as(values: np.ndarray, fill: float, *, copy: bool = True) -> np.ndarray:
    """``values`` with NaN, which only overflow on extreme inputs gives, set to ``fill``
    (e.g. -inf: the most abnormal); infinities stay infinite (``np.nan_to_num`` alone makes
    them the largest floats)."""
    return np.nan_to_num(values, copy=copy, nan=fill, posinf=np.inf, neginf=-np.inf)


def overflow_shares(shares: np.ndarray, standardized: np.ndarray) -> np.ndarray:
    """Per-value shares of abnormality (n_samples, n_values) of samples whose arithmetic
    overflowed (a share infinite or NaN, whichever values the overflow spread to): ``+inf``
    for the value of each such sample that lies furthest out once ``standardized`` (beyond
    float32: infinite), which caused it, and 0 for the rest, of which the model then says
    nothing; so that an explanation names the culprit, and the shares still sum to the
    sample's score (``-inf``)."""
    overflowed = ~np.isfinite(shares).all(axis=1)
    if not overflowed.any():
        return shares
    shares = shares.copy()
    with np.errstate(invalid="ignore"):  # a missing value (NaN) is never the culprit
        distance = np.nan_to_num(np.abs(standardized[overflowed]), nan=-1.0)
    culprit = distance == distance.max(axis=1, keepdims=True)
    shares[overflowed] = np.where(culprit, np.inf, 0.0)
    return shares


def check_observed(
    X: np.ndarray, *, rows: bool, columns: bool, feature_names: np.ndarray | None = None
) -> None:
    """Refuse samples with no observed value (``rows``) and features never observed
    (``columns``, named by ``feature_names`` where given): there is nothing to score them
    by, or to learn them from."""
    missing = np.isnan(X)
    empty_rows = np.flatnonzero(missing.all(axis=1)) if rows else []
    if len(empty_rows):
        raise ValueError(
            f"{len(empty_rows)} sample(s) have no observed value (all NaN), the first at row "
            f"{empty_rows[0]}: drop them, there is nothing to score them by."
        )
    empty_columns = np.flatnonzero(missing.all(axis=0)) if columns else []
    if len(empty_columns):
        first = empty_columns[0]
        named = "" if feature_names is None else f" ({feature_names[first]!r})"
        raise ValueError(
            f"{len(empty_columns)} feature(s) are never observed (all NaN), the first at column "
            f"{first}{named}: drop them, there is nothing to learn them from."
        )
