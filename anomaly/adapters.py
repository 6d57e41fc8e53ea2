"""Sign conventions across libraries, and PyOD's API on top of ours.

Two conventions meet in anomaly detection:

- scikit-learn's estimators, this package's included: ``score_samples`` and
  ``decision_function`` are *higher for normal* samples; ``predict`` gives +1
  (inlier) / -1 (outlier);
- PyOD: ``decision_function`` and ``decision_scores_`` are *higher for
  anomalies*; ``predict`` gives 0 (inlier) / 1 (outlier).

Everything in this package outside the estimators takes **anomaly scores,
higher = more abnormal**, as ``sklearn.metrics`` do with label 1 = anomaly:
the metrics (:mod:`anomaly.metrics`), the plots (:mod:`anomaly.plotting`),
the comparison (:func:`anomaly.compare`), thresholds
(:func:`anomaly.thresholds.pot_threshold`) and the ``anomaly_score`` column
of ``anomaly score``. :func:`anomaly_scores` turns any fitted detector's
scores into them. :class:`PyODDetector` runs a PyOD model as a scikit-learn outlier
detector; :class:`PyODStyle` gives one of ours (or any scikit-learn outlier
detector) PyOD's attributes and 0/1 labels, for code written against PyOD.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, OutlierMixin, clone
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import check_is_fitted, validate_data

from anomaly.base import BaseDetector

__all__ = ["PyODDetector", "PyODStyle", "anomaly_scores", "infinities_as_largest", "is_pyod"]


def is_pyod(detector: object) -> bool:
    """Whether ``detector`` is a PyOD model (PyOD's sign convention)."""
    try:
        from pyod.models.base import BaseDetector as PyODBase
    except ImportError:  # PyOD not installed: nothing can be a PyOD model
        return False
    return isinstance(detector, PyODBase)


def anomaly_scores(detector: Any, X: Any, *, training: bool = False) -> np.ndarray:
    """Scores of a fitted detector, higher = more abnormal, whatever its library.

    PyOD models (and :class:`PyODStyle`, also as a pipeline's last step) give
    ``decision_function``;
    scikit-learn outlier detectors and ours give minus ``score_samples`` (or
    minus ``decision_function`` where there is no ``score_samples``). With
    ``training=True`` (``X`` is the data the detector was fitted on), PyOD
    models (also in :class:`PyODDetector`) give their training scores
    ``decision_scores_``, as PyOD and ADBench score them
    (``decision_function`` on the training data counts each sample among its
    own nearest neighbours, in KNN and LOF), and a detector that only scores
    its training data, such as scikit-learn's ``LocalOutlierFactor()``,
    gives minus ``negative_outlier_factor_`` (so does one with
    ``novelty=True``).
    Infinite scores (ours give ``-inf`` where arithmetic overflows) become
    the largest finite floats of their sign, keeping the ranking, so that
    metrics can take them.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import IsolationForest
    >>> X = np.r_[np.zeros((20, 2)), [[5.0, 5.0]]]
    >>> scores = anomaly_scores(IsolationForest(random_state=0).fit(X), X)
    >>> int(np.argmax(scores))
    20
    """
    # A pipeline scores by the convention of its last step.
    final = detector[-1] if isinstance(detector, Pipeline) else detector
    pyod_model = final.detector_ if isinstance(final, PyODDetector) else final
    if training and is_pyod(pyod_model) and hasattr(pyod_model, "decision_scores_"):
        scores = np.asarray(pyod_model.decision_scores_, dtype=float)
    elif is_pyod(final) or isinstance(final, PyODStyle):
        scores = np.asarray(detector.decision_function(X), dtype=float)
    elif training and hasattr(final, "negative_outlier_factor_"):
        # LocalOutlierFactor's training scores, novelty=True or not: score_samples would
        # count each sample among its own neighbours.
        scores = -np.asarray(final.negative_outlier_factor_, dtype=float)
    elif hasattr(detector, "score_samples"):
        scores = -np.asarray(detector.score_samples(X), dtype=float)
    elif hasattr(detector, "decision_function"):
        scores = -np.asarray(detector.decision_function(X), dtype=float)
    else:
        raise TypeError(
            f"{type(detector).__name__} has neither score_samples nor decision_function for "
            "new data (a LocalOutlierFactor needs novelty=True to score data it was not fit on)."
        )
    return infinities_as_largest(scores)


def infinities_as_largest(scores: np.ndarray) -> np.ndarray:
    """``scores`` as floats with infinities as the largest floats (NaN kept): rows beyond a
    model's arithmetic keep their rank where scikit-learn's metrics refuse infinities."""
    largest, scores = np.finfo(float).max, np.asarray(scores, dtype=float)
    return np.nan_to_num(scores, nan=np.nan, posinf=largest, neginf=-largest)


class PyODDetector(MetaEstimatorMixin, OutlierMixin, BaseEstimator):
    """A PyOD model as a scikit-learn outlier detector (higher = more normal).

    Parameters
    ----------
    detector : PyOD model
        Cloned at fit; its ``contamination`` sets the threshold.

    Attributes
    ----------
    detector_ : PyOD model
        The fitted model.
    offset_ : float
        ``decision_function = score_samples - offset_``: minus PyOD's ``threshold_``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during fit, where they all had string names.

    Examples
    --------
    >>> import numpy as np
    >>> from pyod.models.iforest import IForest
    >>> X = np.r_[np.random.default_rng(0).normal(size=(50, 2)), [[6.0, 6.0]]]
    >>> detector = PyODDetector(IForest(random_state=0)).fit(X)
    >>> int(np.argmin(detector.score_samples(X))), int(detector.predict(X)[-1])
    (50, -1)
    """

    _parameter_constraints: ClassVar[dict] = {
        "detector": [HasMethods(["fit", "decision_function"])]
    }

    def __init__(self, detector: Any) -> None:
        self.detector = detector

    def fit(self, X: Any, y: Any = None) -> PyODDetector:
        """Fit the PyOD model on ``X``."""
        self._validate_params()
        # Checked as scikit-learn's detectors check it (PyOD takes any array as it comes):
        # columns counted and named, so that new data's are checked against them.
        X = validate_data(self, X, reset=True)
        self.detector_ = clone(self.detector).fit(X)
        self.offset_ = -float(self.detector_.threshold_)
        return self

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit on ``X`` and label it by the model's training labels (``labels_``): -1 for
        outliers, +1 for inliers.

        A share ``contamination`` of ``X`` is flagged, as PyOD flags it. For a
        model scored by nearest neighbours (KNN, LOF) this may differ from
        ``fit(X).predict(X)``, which counts each sample among its own
        neighbours.
        """
        return np.where(self.fit(X, y).detector_.labels_ == 1, -1, 1)

    def score_samples(self, X: Any) -> np.ndarray:
        """Minus PyOD's ``decision_function``: the lower, the more abnormal."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return -np.asarray(self.detector_.decision_function(X), dtype=float)

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for outliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """+1 for inliers, -1 for outliers."""
        return np.where(self.decision_function(X) < 0, -1, 1)


class PyODStyle(MetaEstimatorMixin, BaseEstimator):
    """One of our detectors (or any scikit-learn outlier detector) with PyOD's API.

    For code written against PyOD: after ``fit``, ``decision_scores_`` (the
    training scores, higher = more abnormal), ``threshold_`` and ``labels_``
    (0 inlier / 1 outlier); ``decision_function`` is higher for anomalies and
    ``predict`` gives 0/1, as in PyOD.

    Parameters
    ----------
    detector : estimator
        A scikit-learn outlier detector with ``score_samples`` and ``offset_``
        (e.g. :class:`anomaly.VAEDetector`), or a pipeline ending in one; cloned
        at fit.

    Attributes
    ----------
    detector_ : estimator
        The fitted detector.
    decision_scores_ : ndarray of shape (n_samples,)
        Anomaly scores of the training data (higher = more abnormal).
    threshold_ : float
        Scores above it are outliers: minus the detector's ``offset_``.
    labels_ : ndarray of shape (n_samples,)
        0 for training inliers, 1 for outliers.
    n_features_in_ : int
        The detector's (``detector_.n_features_in_``).

    Examples
    --------
    >>> import numpy as np
    >>> from anomaly import VAEDetector
    >>> X = np.r_[np.random.default_rng(0).normal(size=(200, 3)), [[8.0, 8.0, 8.0]]]
    >>> detector = PyODStyle(VAEDetector(epochs=20, random_state=0, contamination=0.01)).fit(X)
    >>> int(np.argmax(detector.decision_scores_)), int(detector.labels_[-1])
    (200, 1)
    """

    _parameter_constraints: ClassVar[dict] = {"detector": [HasMethods(["fit", "score_samples"])]}

    def __init__(self, detector: Any) -> None:
        self.detector = detector

    def fit(self, X: Any, y: Any = None) -> PyODStyle:
        """Fit the detector; set ``decision_scores_``, ``threshold_`` and ``labels_``."""
        self._validate_params()
        self.detector_ = clone(self.detector)
        # A pipeline scores by its last step, whose offset_ sets the threshold.
        pipeline = isinstance(self.detector_, Pipeline)
        final = self.detector_[-1] if pipeline else self.detector_
        if isinstance(final, BaseDetector):
            # The scores offset_ comes from: scored by nearest training samples, each sample
            # is left out of its own neighbours there (it would be its own nearest). The
            # parameters checked as fit checks them.
            Xt = self.detector_[:-1].fit_transform(X) if pipeline else X
            final._validate_params()
            self.decision_scores_ = -final._fit_scored(Xt)
        else:
            self.decision_scores_ = -np.asarray(self.detector_.fit(X).score_samples(X), float)
        if not hasattr(final, "offset_"):
            raise TypeError(
                f"PyODStyle reads the threshold from the detector's offset_, which a fitted "
                f"{type(final).__name__} lacks: give a scikit-learn outlier detector, or a "
                "pipeline ending in one."
            )
        self.threshold_ = -float(final.offset_)
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
        return self

    @property
    def n_features_in_(self) -> int:
        return self.detector_.n_features_in_

    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly scores: the higher, the more abnormal (PyOD's convention)."""
        check_is_fitted(self, "detector_")
        return -np.asarray(self.detector_.score_samples(X), dtype=float)

    def predict(self, X: Any) -> np.ndarray:
        """0 for inliers, 1 for outliers (PyOD's convention)."""
        return (self.decision_function(X) > self.threshold_).astype(int)
