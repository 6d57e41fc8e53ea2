"""Sliding windows over a time series, and window scores mapped back to time steps.

A series is an array of shape (n_steps, n_variables). A window is
``window_size`` consecutive steps; windows start every ``stride`` steps, and
one more window ends at the last step when the stride does not land there, so
every step is covered. Windows are numpy views of the series
(:func:`numpy.lib.stride_tricks.sliding_window_view`), flattened
variable-major, ``(n_variables, window_size)``, for the detectors'
``window_shape``; only the windows of one block are copied at a time.

A step's score is the mean, over every window that covers it, of that
window's score or of the window's score for that step (its position in the
window), added in the order of the windows' starts. It depends on those
windows' scores only, so scoring a series in chunks gives the same numbers to
the bit as scoring it whole.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "blank_windows",
    "check_series_length",
    "check_windows_observed",
    "step_scores",
    "window_starts",
    "windows",
]


def check_series_length(n_steps: int, window_size: int) -> None:
    """Refuse a series too short for one window."""
    if n_steps < window_size:
        raise ValueError(
            f"The series has {n_steps} time steps, fewer than window_size={window_size}: "
            "a series needs at least one full window."
        )


def blank_windows(X: np.ndarray, starts: np.ndarray, size: int) -> np.ndarray:
    """Whether each window of ``X`` at ``starts`` (``size`` steps) has no observed value."""
    empty = np.isnan(X).all(axis=1)
    if not empty.any():
        return np.zeros(len(starts), dtype=bool)
    counts = np.r_[0, np.cumsum(empty)]
    return counts[starts + size] - counts[starts] == size


def check_windows_observed(
    X: np.ndarray, starts: np.ndarray, size: int, first_step: int = 0
) -> None:
    """Refuse the windows of ``X`` at ``starts`` (``size`` steps) with no observed value: a
    gap of every variable at least a window long. ``first_step``: the series' step at
    ``X[0]``. Checked on the windows themselves, so that a stream refuses the same ones
    whatever its chunks."""
    blank = starts[blank_windows(X, starts, size)]
    if len(blank):
        raise ValueError(
            f"every variable is missing for at least window_size={size} steps in a row, from "
            f"step {first_step + blank[0]}: a window with no observed value has nothing to "
            "learn or score it by; drop or fill that stretch, or fit with a larger window_size."
        )


def window_starts(
    n_steps: int,
    window_size: int,
    stride: int,
    *,
    first: int = 0,
    cover_end: bool = True,
    max_windows: int | None = None,
) -> np.ndarray:
    """First step of the windows of a series of ``n_steps`` steps.

    Windows start every ``stride`` steps (the grid) and, with ``cover_end``,
    one more ends at the last step when the grid does not land there.

    Parameters
    ----------
    n_steps : int
        Steps of the series (so far, for a stream).
    window_size : int
        Steps per window.
    stride : int
        Steps between the grid's starts.
    first : int, default=0
        Leave out the grid's starts before this one (a stream passes the first
        grid start it has not scored yet); the end window is off the grid and
        comes with ``cover_end`` whatever ``first``.
    cover_end : bool, default=True
        Add the window that ends at the last step.
    max_windows : int, optional
        At most this many grid windows, evenly spaced: the stride grows
        (for fitting on a long series).

    Examples
    --------
    >>> window_starts(10, 4, 3)
    array([0, 3, 6])
    >>> window_starts(11, 4, 3)  # one more window, ending at the last step
    array([0, 3, 6, 7])
    >>> window_starts(11, 4, 1, cover_end=False, max_windows=3)  # fitting on at most 3
    array([0, 3, 6])
    """
    last = n_steps - window_size
    if max_windows is not None:
        stride = max(stride, -(-(last + 1) // max_windows))  # ceil: at most max_windows
    starts = np.arange(first, last + 1, stride)
    if cover_end and last >= 0 and last % stride:
        starts = np.append(starts, last)
    return starts


def windows(series: np.ndarray, starts: np.ndarray, window_size: int) -> np.ndarray:
    """The windows at ``starts``, flattened variable-major.

    The result, of shape (len(starts), n_variables * window_size), is the
    only copy made.

    Examples
    --------
    >>> series = np.arange(12.0).reshape(6, 2)  # 6 steps, 2 variables
    >>> windows(series, np.array([0, 3]), 3)
    array([[ 0.,  2.,  4.,  1.,  3.,  5.],
           [ 6.,  8., 10.,  7.,  9., 11.]])
    """
    view = sliding_window_view(series, window_size, axis=0)  # (steps, variables, window)
    return view[starts].reshape(len(starts), -1)


def step_scores(
    window_scores: np.ndarray, starts: np.ndarray, window_size: int, steps: np.ndarray
) -> np.ndarray:
    """Score of each of ``steps``: the mean score of the windows covering it.

    Parameters
    ----------
    window_scores : ndarray of shape (n_windows,) or (n_windows, window_size, ...)
        Score of each window, or of each position of each window: a step
        then takes, from each window covering it, the score of its own
        position (scores of any trailing shape, e.g. one per variable).
    starts : ndarray of shape (n_windows,)
        First step of each window, increasing.
    window_size : int
        Steps per window.
    steps : ndarray of int
        The time steps to score; each must be covered by at least one window.

    Returns
    -------
    scores : ndarray of shape (len(steps), ...)
        ``-inf`` where a covering window scored ``-inf``.

    Examples
    --------
    >>> step_scores(np.array([1.0, 3.0]), np.array([0, 2]), 3, np.arange(5))
    array([1., 1., 2., 3., 3.])
    >>> step_scores(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), np.array([0, 2]), 3, np.arange(5))
    array([1. , 2. , 3.5, 5. , 6. ])
    """
    first = np.searchsorted(starts, steps - window_size, side="right")
    stop = np.searchsorted(starts, steps, side="right")
    if np.any(stop <= first):
        raise ValueError("Some steps are covered by no window.")
    trailing = window_scores.shape[2:]
    total = np.zeros((len(steps), *trailing))
    # One pass per covering window, in the windows' order: the sum's rounding
    # then depends only on which windows cover a step.
    for offset in range(int((stop - first).max())):
        index = np.minimum(first + offset, len(starts) - 1)
        covered = (first + offset < stop).reshape(-1, *(1 for _ in trailing))
        if window_scores.ndim == 1:
            score = window_scores[index]
        else:  # the step's position in the window: 0 where not covered
            score = window_scores[index, np.clip(steps - starts[index], 0, window_size - 1)]
        total += np.where(covered, score, 0.0)
    return total / (stop - first).reshape(-1, *(1 for _ in trailing))
