"""How a fitted window detector scores a series: blocks of windows in threads, and streams.

:class:`anomaly.TimeSeriesDetector` scores through this mixin; it holds the wrapped
detector (``detector_``), the fitted ``window_shape_`` and ``step_scoring_``, and ``stride``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import pandas as pd
from sklearn import config_context
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from anomaly._threads import block_pool
from anomaly.base import BaseDetector, nan_as, overflow_shares
from anomaly.windowing import (
    blank_windows,
    check_series_length,
    check_windows_observed,
    step_scores,
    window_starts,
    windows,
)

__all__ = ["BLOCK_WINDOWS", "WindowScoringMixin"]

# Windows per block, a block per thread: the wrapped detector's 1024 rows at a time. Blocks of
# 4096 windows scored at 0.54 of the network's bare forward pass, against 0.63 for 1024 (a
# one-off timing: 300,000 windows of 8 variables, one thread): a block's copies then stay in
# the CPU's caches.
BLOCK_WINDOWS = 1024


def steps_on_one_scale(
    shares: np.ndarray, block_windows: np.ndarray, window_shape: tuple[int, int]
) -> np.ndarray:
    """Per-value shares of windows with gaps, rescaled so that each step's sum compares
    with a complete step's.

    The wrapped detector scales a window's values by the window's values over its
    observed values, so a step missing some variables would sum to less than a complete
    one and look more normal (one missing every variable: 0, the most normal of all).
    Each step is scaled by its own variables over observed variables instead; a step
    with nothing observed takes its window's mean step, spread evenly over its
    variables. Windows without gaps come back as they are.
    """
    missing = np.isnan(block_windows)
    if not missing.any():
        return shares
    n_variables, window_size = window_shape
    observed = ~missing.reshape(len(shares), n_variables, window_size)
    window_share = n_variables * window_size / observed.sum(axis=(1, 2))
    at_step = observed.sum(axis=1)
    step_share = np.divide(n_variables, at_step, out=np.zeros(at_step.shape), where=at_step > 0)
    rescaled = shares.reshape(observed.shape) / window_share[:, None, None] * step_share[:, None]
    empty = at_step == 0
    if empty.any():
        with np.errstate(invalid="ignore"):  # +inf and -inf shares: overflow_shares resets them
            mean_step = rescaled.sum(axis=(1, 2)) / (~empty).sum(axis=1)
        rescaled += np.where(empty, mean_step[:, None] / n_variables, 0.0)[:, None]
    return rescaled.reshape(len(shares), -1)


class WindowScoringMixin:
    """Scores, feature scores and streams of a series from the wrapped detector's windows."""

    def _score_windows(self, X: np.ndarray, starts: np.ndarray, first_step: int = 0) -> np.ndarray:
        """Scores of the windows of ``X`` at ``starts``: one per window, or one per window
        and position (``step_scoring_`` not "window"); ``first_step`` as in _submit_windows."""
        with self._block_pool() as submit:
            return self._submit_windows(submit, X, starts, first_step=first_step)()

    def _block_pool(self) -> AbstractContextManager[Callable[..., Future]]:
        """Blocks side by side, one thread each (see anomaly._threads), where on the CPU."""
        device = next(self.detector_.network_.parameters()).device
        return block_pool(parallel=device.type == "cpu")

    def _submit_windows(
        self,
        submit: Callable[..., Future],
        X: np.ndarray,
        starts: np.ndarray,
        explain: bool = False,
        first_step: int = 0,
    ) -> Callable[[], np.ndarray]:
        """Start scoring the windows of ``X`` at ``starts``, a block at a time (a window's
        scores do not depend on its block); returns a function that waits for the scores
        (see :meth:`_score_block` for ``explain``). ``first_step``: the series' step at
        ``X[0]``, for messages."""
        detector, size = self.detector_, self.window_shape_[1]
        futures = []
        if len(starts):
            # The wrapped detector's own checks of its input (e.g. a Bernoulli likelihood's
            # unit interval), on windows that cover each step once: its scoring skips them.
            covering = window_starts(len(X), size, size)
            if self._allows_missing(reset=False):  # else the series was refused any NaN
                check_windows_observed(X, starts, size, first_step)
                # A window of nothing but gaps holds no value to check (and is not scored).
                covering = covering[~blank_windows(X, covering, size)]
            with config_context(assume_finite=True):  # the series was checked as it came in
                detector._validate_input(windows(X, covering, size), reset=False)
            series = self._standardized(X)  # a copy: X may change while the blocks run
            futures = [
                submit(self._score_block, series, starts[first : first + BLOCK_WINDOWS], explain)
                for first in range(0, len(starts), BLOCK_WINDOWS)
            ]

        def scores() -> np.ndarray:
            results = tqdm(
                (future.result() for future in futures),
                total=len(futures),
                desc="TimeSeriesDetector scoring",
                unit="block",
                disable=not detector.verbose or len(futures) <= 1,
                leave=False,
            )
            blocks = list(results)
            empty = np.empty((0, *self._window_score_shape(explain)))
            return np.concatenate(blocks) if blocks else empty

        return scores

    def _standardized(self, X: np.ndarray) -> np.ndarray:
        """The series standardised as the wrapped detector standardises each window, in
        float32: the same values, computed once instead of in each overlapping window."""
        detector, size = self.detector_, self.window_shape_[1]
        # A window's features are variable-major: each variable's statistics repeat `size` times.
        with np.errstate(over="ignore"):  # as in the detector's: beyond float32 becomes inf
            return ((X - detector.feature_mean_[::size]) / detector.feature_scale_[::size]).astype(
                np.float32
            )

    def _score_block(
        self, series: np.ndarray, block: np.ndarray, explain: bool = False
    ) -> np.ndarray:
        """Scores of the windows at ``block`` of a standardised series, as the wrapped
        detector's ``score_samples`` (``feature_scores``) would give them; with ``explain``,
        shape (n_windows, window_size, 1 + n_variables): each position's score, then each
        of its values' share of abnormality (see :meth:`feature_scores`)."""
        detector = self.detector_
        block_windows = windows(series, block, self.window_shape_[1])
        values = None
        if self.step_scoring_ == "window":
            scores = detector._blockwise(
                block_windows, detector._sample_score_batch, "scoring", standardized=True
            )
            scores = nan_as(scores, -np.inf, copy=False)  # as score_samples does
        else:
            values = detector._blockwise(
                block_windows, detector._map_batch, "explaining", standardized=True
            )
            values = steps_on_one_scale(values, block_windows, self.window_shape_)
            # Minus each step's values' abnormality, summed over variables.
            scores = values.reshape(len(block), *self.window_shape_).sum(axis=1)
            if not np.isfinite(scores).all():  # as feature_scores gives them; rare: checked last
                values = overflow_shares(values, block_windows)
                scores = values.reshape(len(block), *self.window_shape_).sum(axis=1)
            scores = -scores
            if self.step_scoring_ == "both":
                scores += scores.mean(axis=1, keepdims=True)
        if not explain:
            return scores
        if values is None:  # a window-level rule: the values' terms, computed for this
            values = detector._blockwise(
                block_windows, detector._map_batch, "explaining", standardized=True
            )
            values = steps_on_one_scale(values, block_windows, self.window_shape_)
        values = overflow_shares(values, block_windows).reshape(len(block), *self.window_shape_)
        if self.step_scoring_ == "both":  # each variable's share of the window's part too
            values = values + values.mean(axis=2, keepdims=True)
        positions = np.broadcast_to(scores.reshape(len(block), -1), (len(block), values.shape[2]))
        return np.concatenate([positions[:, :, None], values.transpose(0, 2, 1)], axis=2)

    def _window_score_shape(self, explain: bool = False) -> tuple[int, ...]:
        if explain:
            return (self.window_shape_[1], 1 + self.window_shape_[0])
        return () if self.step_scoring_ == "window" else (self.window_shape_[1],)

    def feature_scores(self, X: Any) -> np.ndarray | pd.DataFrame:
        """Each value's share of its step's abnormality: the higher, the more abnormal.

        Per time step and variable, the mean over the windows covering the
        step of the wrapped detector's ``feature_scores`` of that value (with
        ``step_scoring_="both"``, plus the mean of the variable's over the
        window's steps), a step with gaps scaled by its own share of observed
        variables (a missing value's is 0; a step with nothing observed shares
        its window's mean step evenly, see :func:`steps_on_one_scale`).
        Except with ``step_scoring_="window"``, the row of a step sums to minus
        its ``score_samples`` (up to rounding), so the variables can be ranked
        by their part in it. A window beyond the
        model's arithmetic gives ``+inf`` to its furthest-out value (the
        variable it names then gets ``+inf``) and 0 to the others.

        Parameters
        ----------
        X : array-like of shape (n_steps, n_features_in_)
            The series, as for ``score_samples``.

        Returns
        -------
        scores : ndarray or DataFrame of shape (n_steps, n_features_in_)
            A DataFrame with the variables' names (and ``X``'s index) when
            fitted on a DataFrame.
        """
        check_is_fitted(self)
        self._validate_input(X, reset=False)  # the whole series' checks: its length
        # X as given, so that its chunk's check sees its column names, as fitted.
        parts = [values for _, values in self.score_stream([X], with_feature_scores=True)]
        scores = np.concatenate(parts)
        if not hasattr(self, "feature_names_in_"):
            return scores
        return pd.DataFrame(scores, columns=self.feature_names_in_, index=getattr(X, "index", None))

    def score_stream(
        self, chunks: Iterable[Any], *, with_feature_scores: bool = False
    ) -> Iterator[np.ndarray] | Iterator[tuple[np.ndarray, np.ndarray]]:
        """Score a series that arrives in consecutive chunks of rows, in bounded memory.

        Yields the scores of the steps that are final so far, a chunk behind:
        a chunk's windows are scored while the steps of the chunk before are
        yielded and the next chunk is read. A step's score needs every window
        that covers it, so the last ``window_size`` steps of a chunk are held
        back until the next chunk (or the end) arrives. The concatenated
        scores equal ``score_samples`` of the whole series exactly, whatever
        the chunk sizes; memory holds two chunks and ``window_size`` rows.

        Parameters
        ----------
        chunks : iterable of array-like of shape (n_rows, n_features_in_)
            The series in order, cut anywhere (chunks may be empty).
        with_feature_scores : bool, default=False
            Yield each step's :meth:`feature_scores` beside its score.

        Yields
        ------
        scores : ndarray of shape (n_steps,)
            Scores of the next steps, in order; at most one array per chunk.
            With ``with_feature_scores``, a pair of it and the steps'
            feature scores, shape (n_steps, n_features_in_).

        Examples
        --------
        >>> import numpy as np
        >>> from anomaly import TimeSeriesDetector, VAEDetector
        >>> series = np.sin(np.arange(300) / 5)[:, None]
        >>> detector = TimeSeriesDetector(
        ...     VAEDetector(epochs=2, random_state=0), window_size=10
        ... ).fit(series)
        >>> chunked = np.concatenate(list(detector.score_stream(np.array_split(series, 7))))
        >>> bool(np.array_equal(chunked, detector.score_samples(series)))
        True
        """
        check_is_fitted(self)
        size, stride = self.window_shape_[1], self.stride
        self._check_stride(size)
        rows = np.empty((0, self.n_features_in_))
        first_row = 0  # the series' index of rows[0]
        next_step = next_start = 0  # the first step not yet yielded, window not yet scored
        # Windows that may still count, and their scores.
        explain = with_feature_scores
        starts = np.empty(0, dtype=int)
        scores = np.empty((0, *self._window_score_shape(explain)))
        # A chunk's windows are scored while the steps of the chunk before are yielded (and
        # the caller writes them and reads the next chunk): the chunks in flight, oldest
        # first, as (the starts of their new windows, a wait for their scores, the series'
        # length minus a window: the steps before it are then covered by scored windows only).
        in_flight: deque[tuple[np.ndarray, Callable[[], np.ndarray], int]] = deque()
        n_rows = 0
        with self._block_pool() as submit:
            for chunk in chunks:
                chunk = self._validate_input_chunk(chunk)
                rows = np.concatenate([rows, chunk])
                n_rows += len(chunk)
                # Every grid window now complete.
                new = window_starts(n_rows, size, stride, first=next_start, cover_end=False)
                in_flight.append(
                    (
                        new,
                        self._submit_windows(submit, rows, new - first_row, explain, first_row),
                        n_rows - size,
                    )
                )
                if len(new):
                    next_start = new[-1] + stride
                # Rows before the next grid window and the last window are not needed again.
                drop = min(next_start, n_rows - size) - first_row
                if drop > 0:
                    rows, first_row = rows[drop:], first_row + drop
                while len(in_flight) > 1:
                    new, wait, covered = in_flight.popleft()
                    starts, scores = np.r_[starts, new], np.concatenate([scores, wait()])
                    if covered > next_step:
                        steps = np.arange(next_step, covered)
                        yield _split(step_scores(scores, starts, size, steps), explain)
                        next_step = covered
                    keep = starts + size > next_step
                    starts, scores = starts[keep], scores[keep]
            check_series_length(n_rows, size)
            # The window ending at the last step, when the grid does not land there.
            end = window_starts(n_rows, size, stride, first=next_start)
            last = self._submit_windows(submit, rows, end - first_row, explain, first_row)
            in_flight.append((end, last, n_rows))
            for new, wait, _ in in_flight:
                starts, scores = np.r_[starts, new], np.concatenate([scores, wait()])
        yield _split(step_scores(scores, starts, size, np.arange(next_step, n_rows)), explain)

    def _validate_input_chunk(self, chunk: Any) -> np.ndarray:
        # The window check of _validate_input applies to the whole series, not a chunk.
        if len(chunk) == 0:
            return np.empty((0, self.n_features_in_))
        return BaseDetector._validate_input(self, chunk, reset=False)


def _split(scores: np.ndarray, explain: bool) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Steps' scores, or (with ``explain``) their scores and feature scores, from one array;
    NaN (windows' overflows of both signs meeting on a step) as score_samples gives it."""
    if not explain:
        return nan_as(scores, -np.inf)
    return nan_as(scores[:, 0], -np.inf), nan_as(scores[:, 1:], np.inf)
