"""Time-series anomaly detection: any detector of this package over sliding windows."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import MetaEstimatorMixin, clone
from sklearn.utils._param_validation import Interval, StrOptions
from tqdm.auto import tqdm

from anomaly.base import BaseDeepDetector, BaseDetector
from anomaly.detectors import VAEDetector
from anomaly.thresholds import pot_threshold
from anomaly.windowing import step_scores, window_starts, windows

__all__ = ["TimeSeriesDetector"]

# Windows scored per call of the wrapped detector: bounds the copies of windows.
_BLOCK_WINDOWS = 4096


class TimeSeriesDetector(MetaEstimatorMixin, BaseDetector):
    """Score every time step of a series with a detector fitted on its windows.

    The series (rows = time steps, columns = variables) is cut into windows
    of ``window_size`` steps, one every ``stride`` steps (and one ending at
    the last step). The wrapped detector is fitted on the windows, which it
    receives flattened, variable-major, with ``window_shape=(n_variables,
    window_size)`` set: so it builds a 1-D convolutional backbone (or, with
    ``backbone="gru"``, a recurrent one), never mistaking windows for images.
    A step's score is the mean score of the windows that cover it, so the
    first and last steps are scored too. Lower scores are more abnormal.

    Parameters
    ----------
    detector : estimator, default=None
        A :class:`anomaly.VAEDetector`, :class:`anomaly.GANDetector` or
        :class:`anomaly.VAEGANDetector` (cloned, not changed);
        ``VAEDetector()`` when None.
    window_size : int, default=32
        Time steps per window.
    stride : int, default=1
        Steps between the starts of consecutive windows. 1 gives every step
        its own window; larger strides score ``stride`` times fewer windows.
    max_train_windows : int or None, default=20_000
        Fit on at most this many windows, evenly spaced over the series (the
        stride grows for fitting only), so long series fit in bounded time
        and memory. None fits on every window.
    contamination : "auto" or float, default="auto"
        Sets ``offset_`` when ``threshold="contamination"``, as for every
        detector: the fraction of training steps labelled abnormal, or
        Tukey's lower fence of the training scores with "auto".
    threshold : {"contamination", "pot"}, default="contamination"
        How ``offset_`` is set: from ``contamination``, or by peaks over
        threshold (extreme value theory; see :func:`anomaly.thresholds.pot_threshold`)
        on the training steps' scores.
    pot_risk : float, default=1e-3
        With ``threshold="pot"``: probability that a normal step is flagged.
    pot_level : float, default=0.98
        With ``threshold="pot"``: quantile above which the tail is fitted.

    Attributes
    ----------
    detector_ : estimator
        The fitted wrapped detector.
    window_shape_ : tuple of int
        ``(n_variables, window_size)``.
    offset_ : float
        ``decision_function = score_samples - offset_``.
    n_features_in_ : int
        Number of variables of the series.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the variables, when ``X`` was a DataFrame with string column names.

    Notes
    -----
    A series is ordered: scores of a step depend on its neighbours, so
    scoring a subset or a reordering of the rows gives other scores (the two
    scikit-learn checks that assume otherwise do not apply).

    Examples
    --------
    >>> import numpy as np
    >>> from anomaly import VAEDetector
    >>> from anomaly.timeseries import TimeSeriesDetector
    >>> t = np.arange(600)
    >>> series = np.sin(2 * np.pi * t / 50)[:, None]
    >>> test = series.copy()
    >>> test[300:310] += 1.5
    >>> detector = TimeSeriesDetector(
    ...     VAEDetector(epochs=20, random_state=0), window_size=25
    ... ).fit(series)
    >>> scores = detector.score_samples(test)  # one score per step
    >>> scores.shape, bool(scores[300:310].mean() < scores[:250].mean())
    ((600,), True)
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseDetector._parameter_constraints,
        "detector": [None, BaseDeepDetector],
        "window_size": [Interval(Integral, 1, None, closed="left")],
        "stride": [Interval(Integral, 1, None, closed="left")],
        "max_train_windows": [None, Interval(Integral, 1, None, closed="left")],
        "threshold": [StrOptions({"contamination", "pot"})],
        "pot_risk": [Interval(Real, 0, 1, closed="neither")],
        "pot_level": [Interval(Real, 0, 1, closed="neither")],
    }

    def __init__(
        self,
        detector: BaseDeepDetector | None = None,
        *,
        window_size: int = 32,
        stride: int = 1,
        max_train_windows: int | None = 20_000,
        contamination: str | float = "auto",
        threshold: str = "contamination",
        pot_risk: float = 1e-3,
        pot_level: float = 0.98,
    ) -> None:
        self.detector = detector
        self.window_size = window_size
        self.stride = stride
        self.max_train_windows = max_train_windows
        self.contamination = contamination
        self.threshold = threshold
        self.pot_risk = pot_risk
        self.pot_level = pot_level

    def _validate_input(self, X: Any, *, reset: bool) -> np.ndarray:
        # A 1-D X is refused with scikit-learn's "Reshape your data" advice.
        X = super()._validate_input(X, reset=reset)
        if len(X) < self.window_size:
            raise ValueError(
                f"X has {len(X)} time steps, fewer than window_size={self.window_size}: "
                "a series needs at least one full window."
            )
        return X

    def _fit(self, X: np.ndarray) -> None:
        self.window_shape_ = (X.shape[1], self.window_size)
        detector = clone(self.detector) if self.detector is not None else VAEDetector()
        detector.set_params(window_shape=self.window_shape_)
        stride = self.stride
        n_windows = len(X) - self.window_size + 1
        if self.max_train_windows is not None and n_windows > self.max_train_windows * stride:
            stride = -(-n_windows // self.max_train_windows)  # ceil: at most max_train_windows
        starts = window_starts(len(X), self.window_size, stride)
        self.detector_ = detector.fit(windows(X, starts, self.window_size))

    def _score_samples(self, X: np.ndarray) -> np.ndarray:
        starts = window_starts(len(X), self.window_size, self.stride)
        window_scores = np.empty(len(starts))
        blocks = tqdm(
            range(0, len(starts), _BLOCK_WINDOWS),
            desc="TimeSeriesDetector scoring",
            unit="block",
            disable=not self.detector_.verbose or len(starts) <= _BLOCK_WINDOWS,
            leave=False,
        )
        for first in blocks:
            block = starts[first : first + _BLOCK_WINDOWS]
            window_scores[first : first + len(block)] = self.detector_.score_samples(
                windows(X, block, self.window_size)
            )
        return step_scores(window_scores, starts, self.window_size, np.arange(len(X)))

    def _offset(self, training_scores: np.ndarray) -> float:
        if self.threshold == "pot":
            # pot_threshold wants higher = more abnormal.
            return -pot_threshold(-training_scores, risk=self.pot_risk, level=self.pot_level)
        return super()._offset(training_scores)
