"""Time-series anomaly detection: any detector of this package over sliding windows."""

from __future__ import annotations

import os
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import MetaEstimatorMixin, _fit_context, clone
from sklearn.utils import check_scalar
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from anomaly.base import BaseDetector, nan_as
from anomaly.detectors import VAEDetector
from anomaly.detectors.base import BaseDeepDetector
from anomaly.detectors.neighbors import reference_index
from anomaly.detectors.saved_state import loaded_parameters, saved_parameters
from anomaly.model_file import check_own_class, to_json, write_model_file
from anomaly.thresholds import check_pot_risk, pot_threshold
from anomaly.window_scoring import BLOCK_WINDOWS, WindowScoringMixin
from anomaly.windowing import (
    check_series_length,
    check_windows_observed,
    step_scores,
    window_starts,
    windows,
)

__all__ = ["TimeSeriesDetector"]

# The fitted state saved beside the wrapped detector's.
_PERSISTED_ATTRIBUTES = (
    "n_features_in_",
    "feature_names_in_",
    "window_shape_",
    "step_scoring_",
    "offset_",
)
# Monte-Carlo draws per window of the default VAE (and of `anomaly fit`) under the rules that
# draw (WINDOW_SCORING_RULE does not): a step's score averages the windows over it, and on SMD,
# ASD and NAB one draw ranked as well as 16 in 1/22 to 1/35 of the scoring time
# (benchmarks/results/timeseries.md, "draws").
WINDOW_DRAWS = 1
# Scoring rule of the default VAE (and of `anomaly fit`): each value's squared residual over its
# variable's training mean of it. On SMD and ASD it ranked anomalies better than the
# reconstruction probability, whose Student-t log-density grows only with the log of a residual
# (benchmarks/results/timeseries.md); windows of one variable score by neighbours anyway.
WINDOW_SCORING_RULE = "standardized_residual"
# Early stopping of the default VAE (and of `anomaly fit`): the last tenth of the windows held
# out, stopping after 5 epochs that improve their loss by under 1 %. On ASD it ranked nearly as
# well as 50 fixed epochs (mean VUS-PR 0.621 against 0.629 with the reconstruction probability,
# benchmarks/results/timeseries.md).
WINDOW_EARLY_STOPPING = {"validation_fraction": 0.1, "n_iter_no_change": 5, "tol": 1e-2}
# The detector that detector=None stands for.
_DEFAULT_DETECTOR_PARAMS = {
    "scoring_rule": WINDOW_SCORING_RULE,
    "n_draws": WINDOW_DRAWS,
    **WINDOW_EARLY_STOPPING,
}
# window_size="auto": steps per window for several variables, and for one.
WINDOW_SIZE = 32
ONE_VARIABLE_WINDOW_SIZE = 64


class TimeSeriesDetector(MetaEstimatorMixin, WindowScoringMixin, BaseDetector):
    """Score every time step of a series with a detector fitted on its windows.

    The series (rows = time steps, columns = variables) is cut into windows
    of ``window_size`` steps, one every ``stride`` steps (and one ending at
    the last step). The wrapped detector is fitted on the windows, which it
    receives flattened, variable-major, with ``window_shape=(n_variables,
    window_size)`` set: so it builds a 1-D convolutional backbone (or, with
    ``backbone="gru"``, a recurrent one), never mistaking windows for images.
    A step's score is a mean over the windows that cover it (so the first and
    last steps are scored too) of what each window says about the step: the
    abnormality of the step's own values in it, of the whole window, or both
    (``step_scoring``). Lower scores are more abnormal.

    Parameters
    ----------
    detector : estimator, default=None
        A :class:`anomaly.VAEDetector`, :class:`anomaly.GANDetector` or
        :class:`anomaly.VAEGANDetector` (cloned, not changed);
        ``VAEDetector(scoring_rule="standardized_residual", n_draws=1,
        validation_fraction=0.1, n_iter_no_change=5, tol=0.01)`` when None:
        each value's squared residual over its variable's training mean of
        it (on SMD and ASD it ranked anomalies better than the
        reconstruction probability), one Monte-Carlo draw per window where
        another rule draws (as good as 16 on the time-series benchmarks in
        1/22 to 1/35 of the scoring time), and training stopped once the
        loss of the last tenth of the windows, held out, improves by under 1 %
        for 5 epochs. A wrapped detector's early stopping holds out the last
        windows and leaves out those that share a step with them (all of them
        on a series over about three windows long; see its
        ``validation_fraction``).
    window_size : "auto" or int, default="auto"
        Time steps per window; "auto": 32 for several variables, 64 for one
        (one value per step is little evidence: on NAB's single variable
        windows of 64 ranked anomalies better, VUS-PR 0.444 against 0.380,
        see benchmarks/results/timeseries.md).
    stride : int, default=1
        Steps between the starts of consecutive windows, at most
        ``window_size`` (so that every step is in a window). 1 gives every
        step its own window; larger strides score ``stride`` times fewer windows.
    step_scoring : {"auto", "both", "values", "window"}, default="auto"
        What a window tells about each step it covers. "values": the
        abnormality of the step's own values in it (the wrapped detector's
        ``feature_scores`` at that step, summed over variables), which keeps
        a short event's scores on the event; "window": the whole window's
        score, spread over all its steps; "both": the step's values plus the
        mean over the window's steps of theirs, i.e. the step's own
        abnormality on top of its context's (one pass of the network; for
        the VAE's reconstruction probability, the window part is its score
        divided by ``window_size``; ``feature_scores`` leaves out the terms
        of a scoring rule that no value carries, such as the ELBO's KL, and
        a rule that only whole windows have, a discriminator's or the
        VAE-GAN's feature reconstruction, takes "window" only, as does a
        distance to the nearest training windows asked for by number,
        ``n_neighbors=k``); "auto": "both" for several variables, "window"
        for one (whose windows the wrapped detector's default
        ``n_neighbors="auto"`` scores by their nearest training windows) or
        for such a rule or ``n_neighbors``.
        On SMD and ASD (38 and 19 variables) "both" ranked
        anomalies far better than "window" by VUS-PR, on NAB (one variable,
        where one value per step is little evidence) worse (see
        benchmarks/results/timeseries.md).
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
        ``(n_variables, window_size)`` at fit time; scoring uses this window
        size, and the current ``stride``.
    step_scoring_ : str
        The rule ``step_scoring`` chose at fit time, which scoring uses
        (``offset_`` was set with it).
    offset_ : float
        ``decision_function = score_samples - offset_``.
    n_features_in_ : int
        Number of variables of the series.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the variables, when ``X`` was a DataFrame with string column names.

    Notes
    -----
    ``fit`` trains on at most ``max_train_windows`` windows, then scores the
    whole training series once (as ``score_samples`` would, except that with
    nearest-window scoring a training window's neighbours leave out the
    windows within a quarter window of it) to set ``offset_``; on a series of
    millions of steps that scoring pass is most of the time, so a larger
    ``stride`` speeds up both.

    A series is ordered: scores of a step depend on its neighbours, so
    scoring a subset or a reordering of the rows gives other scores (the two
    scikit-learn checks that assume otherwise do not apply).

    Examples
    --------
    >>> import numpy as np
    >>> from anomaly import TimeSeriesDetector, VAEDetector
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
        "window_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "stride": [Interval(Integral, 1, None, closed="left")],
        "step_scoring": [StrOptions({"auto", "both", "values", "window"})],
        "max_train_windows": [None, Interval(Integral, 2, None, closed="left")],
        "threshold": [StrOptions({"contamination", "pot"})],
        "pot_risk": [Interval(Real, 0, 1, closed="neither")],
        "pot_level": [Interval(Real, 0, 1, closed="neither")],
    }

    def __init__(
        self,
        detector: BaseDeepDetector | None = None,
        *,
        window_size: str | int = "auto",
        stride: int = 1,
        step_scoring: str = "auto",
        max_train_windows: int | None = 20_000,
        contamination: str | float = "auto",
        threshold: str = "contamination",
        pot_risk: float = 1e-3,
        pot_level: float = 0.98,
    ) -> None:
        self.detector = detector
        self.window_size = window_size
        self.stride = stride
        self.step_scoring = step_scoring
        self.max_train_windows = max_train_windows
        self.contamination = contamination
        self.threshold = threshold
        self.pot_risk = pot_risk
        self.pot_level = pot_level

    def _validate_input(self, X: Any, *, reset: bool) -> np.ndarray:
        # A 1-D X is refused with scikit-learn's "Reshape your data" advice.
        X = super()._validate_input(X, reset=reset)
        size = self._window_size(X.shape[1]) if reset else self.window_shape_[1]
        check_series_length(len(X), size)
        return X

    # A step with every variable missing is a gap, which its windows span (a window with no
    # observed value is refused by the wrapped detector).
    _empty_samples_allowed = True

    def _allows_missing(self, *, reset: bool) -> bool:
        # Gaps in the series: where the wrapped detector takes missing values in its windows.
        if reset:
            return self.detector is not None and self.detector._allows_missing(reset=True)
        return self.detector_._allows_missing(reset=False)

    def _missing_values_remedy(self) -> str | None:
        if self.detector is None:
            params = {**_DEFAULT_DETECTOR_PARAMS, "missing": "marginalize"}
            return f"detector=VAEDetector({', '.join(f'{k}={v!r}' for k, v in params.items())})"
        if "missing" in self.detector.get_params(deep=False):
            return 'detector__missing="marginalize"'
        return None

    def _window_size(self, n_variables: int) -> int:
        """The window size a fit on ``n_variables`` uses."""
        if self.window_size == "auto":
            return ONE_VARIABLE_WINDOW_SIZE if n_variables == 1 else WINDOW_SIZE
        return self.window_size

    def _check_stride(self, window_size: int) -> None:
        # Scoring reads stride as it is now: set_params after fit is not validated.
        check_scalar(self.stride, "stride", Integral, min_val=1)
        if self.stride > window_size:
            raise ValueError(
                f"stride={self.stride} is larger than window_size={window_size}: the steps "
                "between windows would get no score. Use a stride of at most window_size."
            )

    # The same fit, with the nested parameter checks left on, as Pipeline and bagging leave them:
    # the wrapped detector's fit validates its own parameters.
    fit = _fit_context(prefer_skip_nested_validation=False)(BaseDetector.fit.__wrapped__)
    fit_predict = _fit_context(prefer_skip_nested_validation=False)(
        BaseDetector.fit_predict.__wrapped__
    )
    partial_fit = _fit_context(prefer_skip_nested_validation=False)(
        BaseDetector.partial_fit.__wrapped__
    )

    def _fit(self, X: np.ndarray) -> None:
        if self.threshold == "pot":  # before training, not after
            check_pot_risk(self.pot_risk, self.pot_level)
        size = self._window_size(X.shape[1])
        self._check_stride(size)
        self.window_shape_ = (X.shape[1], size)
        if self.detector is None:
            detector = VAEDetector(**_DEFAULT_DETECTOR_PARAMS)
        else:
            detector = clone(self.detector)
        # A rule that no value carries (a discriminator's), or the distance to the nearest
        # training windows asked for by number, scores whole windows only.
        if detector.scoring_rule in getattr(detector, "_rules_without_values", ()):
            whole_windows = f"scoring_rule={detector.scoring_rule!r}"
        else:
            neighbors = getattr(detector, "n_neighbors", None)
            whole = isinstance(neighbors, Integral) and not isinstance(neighbors, bool)
            whole_windows = f"n_neighbors={neighbors!r}" if whole else None
        if self.step_scoring == "auto":
            self.step_scoring_ = "both" if X.shape[1] > 1 and not whole_windows else "window"
        elif whole_windows and self.step_scoring != "window":
            raise ValueError(
                f"step_scoring={self.step_scoring!r} scores a step by its values' terms, and "
                f"{type(detector).__name__}'s {whole_windows} has none: use "
                "step_scoring='window' (or 'auto'), or another setting."
            )
        else:
            self.step_scoring_ = self.step_scoring
        detector.set_params(window_shape=self.window_shape_)
        self.detector_ = detector.fit(self._training_windows(detector, X, size))

    def _partial_fit(self, X: np.ndarray, epochs: int | None) -> None:
        # The new series' windows, on the fitted window size, as fit takes them.
        size = self.window_shape_[1]
        self._check_stride(size)
        self.detector_.partial_fit(self._training_windows(self.detector_, X, size), epochs=epochs)

    def _training_windows(self, detector: BaseDeepDetector, X: np.ndarray, size: int) -> np.ndarray:
        """The training windows of ``X``, in order; ``detector``'s early stopping told how many
        before its held-out last ones share a step with them (``TrainingConfig.validation_gap``:
        they are left out)."""
        starts = self._training_starts(X, size)
        detector._validation_gap = -(-size // int(np.diff(starts).min())) - 1
        return windows(X, starts, size)

    def _training_starts(self, X: np.ndarray, size: int) -> np.ndarray:
        """Where the training windows of ``X`` start; refused if there are fewer than two
        (the wrapped detector's refusal would speak of samples, not steps) or if one holds
        no value of some variable."""
        starts = window_starts(
            len(X), size, self.stride, cover_end=False, max_windows=self.max_train_windows
        )
        if len(starts) < 2:
            raise ValueError(
                f"Training takes at least two windows: {len(X)} time steps give one of "
                f"window_size={size}; pass a longer series (or, at fit, a smaller window_size)."
            )
        check_windows_observed(X, starts, size)
        self._check_positions_observed(X, starts, size)
        return starts

    def _check_positions_observed(self, X: np.ndarray, starts: np.ndarray, size: int) -> None:
        """Refuse training windows in which some variable is missing at some step of every
        one: the wrapped detector would refuse that column of its windows, by a number."""
        if not np.isnan(X).any():
            return
        for position in range(size):
            unobserved = np.isnan(X[starts + position]).all(axis=0)
            if unobserved.any():
                variable = int(np.argmax(unobserved))
                names = getattr(self, "feature_names_in_", None)
                name = repr(str(names[variable])) if names is not None else variable
                spacing = int(np.diff(starts).min())
                remedy = (
                    f"they start every {spacing} steps, to keep to max_train_windows="
                    f"{self.max_train_windows}, and it is logged at that period: fit with a "
                    "larger max_train_windows, or None"
                    if spacing > self.stride
                    else "fit on a series where it is observed"
                )
                raise ValueError(
                    f"Variable {name} is missing at step {position} of every training "
                    f"window: {remedy}."
                )

    def _score_samples(self, X: np.ndarray) -> np.ndarray:
        # The fitted window size (window_size may have been set since); any stride.
        size = self.window_shape_[1]
        self._check_stride(size)
        starts = window_starts(len(X), size, self.stride)
        return step_scores(self._score_windows(X, starts), starts, size, np.arange(len(X)))

    def sample(self, n_samples: int, random_state: Any = None) -> np.ndarray:
        """Windows drawn from the wrapped detector's generative model (its ``sample``).

        Parameters
        ----------
        n_samples : int
            How many windows to draw.
        random_state : int, RandomState instance or None, default=None
            Seeds the latent draws.

        Returns
        -------
        windows : ndarray of shape (n_samples, window_size, n_features_in_)
            Steps by variables, as a stretch of the series, in its units.
        """
        check_is_fitted(self)
        flat = self.detector_.sample(n_samples, random_state=random_state)
        # The wrapped detector's windows are variable-major: (variables, steps) each.
        return flat.reshape(n_samples, *self.window_shape_).transpose(0, 2, 1)

    def _score_steps(
        self, rows: Any, starts: np.ndarray, steps: np.ndarray, first_step: int = 0
    ) -> np.ndarray:
        """``score_samples`` of ``steps`` of a longer series, from the part of it in ``rows``
        that holds every window covering them, at ``starts`` (the whole series' window
        grid; both positions in ``rows``): what scoring the whole series gives them.
        ``first_step``: the series' step at ``rows[0]``, for messages."""
        rows = self._validate_input_chunk(rows)
        scores = step_scores(
            self._score_windows(rows, starts, first_step), starts, self.window_shape_[1], steps
        )
        return nan_as(scores, -np.inf)  # as score_samples does

    def _training_scores(self, X: np.ndarray) -> np.ndarray:
        detector = self.detector_
        if self.step_scoring_ != "window" or getattr(detector, "n_neighbors_", None) is None:
            return self._score_samples(X)
        # A training window's nearest training windows would be its own shifts by a step or
        # two, near copies no new window has: offset_ would flag much of any new series. So
        # leave out the references less than a quarter window from it (about matrix profiles'
        # exclusion zone, STUMPY's default), the window itself included.
        size = self.window_shape_[1]
        fitted = window_starts(
            len(X), size, self.stride, cover_end=False, max_windows=self.max_train_windows
        )
        references = fitted[reference_index(len(fitted), detector.scoring_seed_)]
        zone = -(-size // 4)
        starts = window_starts(len(X), size, self.stride)
        check_windows_observed(X, starts, size)  # as scoring them would
        scores = []
        for first in range(0, len(starts), BLOCK_WINDOWS):
            block = starts[first : first + BLOCK_WINDOWS]
            scores.append(
                detector._neighbor_scores(
                    windows(X, block, size),
                    lambda rows, block=block: np.abs(block[rows, None] - references) < zone,
                )
            )
        return step_scores(np.concatenate(scores), starts, size, np.arange(len(X)))

    def __setstate__(self, state: dict) -> None:
        # Pickled before step_scoring existed: steps read whole windows.
        state.setdefault("step_scoring", "window")
        if "window_shape_" in state:
            state.setdefault("step_scoring_", "window")
        super().__setstate__(state)

    def save(self, path: str | os.PathLike) -> None:
        """Save the fitted detector to ``path``; open it with :func:`anomaly.load`.

        The wrapped detector's tensors and header, with this wrapper's
        parameters and fitted state in a ``wrapper`` field (see
        :meth:`anomaly.VAEDetector.save`).
        """
        write_model_file(path, *self._model_file_content())

    def _model_file_content(self) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
        check_own_class(self)
        check_is_fitted(self)
        self._validate_params()  # as fit would: a value set since that load would refuse
        fields, tensors = self.detector_._model_file_content()
        # The detector parameter as set (None for the default), not the fitted copy of it.
        given = None if self.detector is None else self.detector.get_params(deep=False)
        if given is not None and type(self.detector) is not type(self.detector_):
            # Loaded, it is rebuilt as the fitted detector's class.
            raise ValueError(
                f"detector was set to a {type(self.detector).__name__} since fit, where a "
                f"{type(self.detector_).__name__} was fitted: refit before saving, or set it back."
            )
        wrapper = {
            "class": type(self).__name__,
            "params": {k: v for k, v in self.get_params(deep=False).items() if k != "detector"},
            "detector": None if given is None else saved_parameters(given),
            "attributes": {
                name: getattr(self, name) for name in _PERSISTED_ATTRIBUTES if hasattr(self, name)
            },
        }
        return {**fields, "wrapper": to_json(wrapper)}, tensors

    @classmethod
    def _from_wrapper_field(cls, wrapper: dict, detector: BaseDeepDetector) -> TimeSeriesDetector:
        """The fitted TimeSeriesDetector saved around the loaded ``detector``."""
        try:
            attributes = dict(wrapper["attributes"])
            # Files from before step_scoring scored whole windows.
            params = {"step_scoring": "window", **wrapper["params"]}
            attributes.setdefault("step_scoring_", params["step_scoring"])
            if "detector" in wrapper:  # the detector parameter as it was set
                given = wrapper["detector"]
                given = None if given is None else type(detector)(**loaded_parameters(given))
            else:  # files from before: the fitted copy, unfitted (fit sets window_shape)
                given = clone(detector).set_params(window_shape=None)
            wrapped = cls(given, **params)
            wrapped._validate_params()
            if given is not None:
                given._validate_params()
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"wrapper {type(err).__name__}: {err}") from None
        unexpected = set(attributes) - set(_PERSISTED_ATTRIBUTES)
        if unexpected:
            raise ValueError(f"unexpected wrapper attributes {sorted(unexpected)}")
        for name, value in attributes.items():
            if name == "feature_names_in_":
                value = np.asarray(value, dtype=object)
            elif name == "window_shape_":
                value = tuple(value)
            setattr(wrapped, name, value)
        wrapped.detector_ = detector
        return wrapped

    def _offset(self, training_scores: np.ndarray) -> float:
        if self.threshold == "pot":
            # pot_threshold wants higher = more abnormal.
            return -pot_threshold(-training_scores, risk=self.pot_risk, level=self.pot_level)
        return super()._offset(training_scores)
