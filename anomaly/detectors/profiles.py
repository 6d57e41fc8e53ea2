"""Steps across a surface: where its rows' or its columns' brightness or contrast changes,
and breaks in its streaks: where their pattern does not go on.

A defect segmenter judges each pixel by what lies within about a patch of it
(:mod:`anomaly.detectors.segmenter`), so a defect that is a band across the
whole surface, brighter or with stronger streaks than the rest, looks to it
like the surface itself: the magnetic tiles' "uneven" regions (a median 24 %
of the image) got an image ROC-AUC of 0.686 from the segmenter alone. Averaged
along its rows, an image gives a profile (each row's mean brightness and mean
local contrast) where such a band shows as a step; along its columns, the
same for bands the other way. The largest step of each profile, against the
training images' (see ``DefectSegmenterMixin``), raised the uneven regions to
0.78 and the image ROC-AUC by 0.02-0.04 on two tile splits
(``benchmarks/README.md``).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

__all__ = [
    "N_PROFILES",
    "along_rows",
    "break_window",
    "profile_steps",
    "step_window",
    "streak_breaks",
    "streak_steps",
]

# Per channel: brightness and contrast, along the rows and along the columns.
N_PROFILES = 4
# Keeps the log of a flat profile's step finite.
_TINY = 1e-9


def step_window(inner: tuple[int, int]) -> tuple[int, int]:
    """Rows and columns averaged on each side of a step: the most that fit twice in the
    profiles of an image of ``inner`` (height, width), which are one shorter (contrast
    takes differences)."""
    return (inner[0] - 1) // 2, (inner[1] - 1) // 2


def _largest_step(profile: np.ndarray, window: int) -> tuple[float, int]:
    """The largest difference between the means of ``window`` values before and after a
    position of ``profile``, and that position (the first value after the step)."""
    sums = np.cumsum(np.r_[0.0, profile])
    at = np.arange(window, len(profile) - window + 1)
    steps = np.abs(2 * sums[at] - sums[at - window] - sums[at + window]) / window
    largest = int(np.argmax(steps))
    return float(steps[largest]), int(at[largest])


def profile_steps(image: np.ndarray, window: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The log of the largest step of each profile of ``image``, and where it is.

    Parameters
    ----------
    image : ndarray of shape (channels, height, width)
        Normalised for lighting; height and width at least twice ``window``'s, plus one
        (see :func:`step_window`).
    window : (int, int)
        Rows, and columns, averaged on each side of a step.

    Returns
    -------
    steps : ndarray of shape (channels * 4,)
        For each channel: the log of the largest step in the rows' mean brightness, in the
        log of their mean local contrast, then the same for the columns.
    positions : ndarray of int of shape (channels * 4,)
        The row (or column) just after each step.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> image = rng.normal(size=(1, 40, 40))
    >>> banded = image.copy()
    >>> banded[0, :15] += 1  # the upper rows brighter
    >>> steps, _ = profile_steps(image, (10, 10))
    >>> banded_steps, positions = profile_steps(banded, (10, 10))
    >>> bool(banded_steps[0] > steps[0] + 1), int(positions[0])  # the rows' brightness
    (True, 15)
    """
    x = image.astype(np.float64)
    # Local contrast: squared differences to the pixels right and below.
    contrast = np.diff(x, axis=2)[:, :-1] ** 2 + np.diff(x, axis=1)[:, :, :-1] ** 2
    x = x[:, :-1, :-1]
    found = []
    for channel, local in zip(x, contrast):
        for axis, size in ((1, window[0]), (0, window[1])):  # rows' profiles, columns'
            found.append(_largest_step(channel.mean(axis), size))
            found.append(_largest_step(np.log(local.mean(axis) + _TINY), size))
    steps, positions = zip(*found)
    return np.log(np.array(steps) + _TINY), np.array(positions)


def streak_steps(image: np.ndarray, window: tuple[int, int]) -> np.ndarray:
    """The log of the largest step of four more contrast profiles of ``image``, per channel:
    the rows' mean absolute difference along them (between neighbouring columns) and across
    them (to the next row), then the same for the columns.

    A change of streaks that :func:`profile_steps`' contrast misses: absolute rather than
    squared differences, so that a few bright specks do not outweigh a row's texture, and
    along and across apart, so that streaks that strengthen one way and weaken the other do
    not cancel out. On the magnetic tiles, these steps beside :func:`profile_steps`' raised
    the image ROC-AUC from 0.854 to 0.871 and from 0.822 to 0.836 on two splits, the uneven
    regions the most (``benchmarks/README.md``). They mark no band on the map: with bands
    placed by them too, the pixel ROC-AUC there fell from 0.803 to 0.798-0.799.

    Parameters
    ----------
    image, window
        As for :func:`profile_steps`.

    Returns
    -------
    steps : ndarray of shape (channels * 4,)
        For each channel, in :func:`profile_steps`' order of rows' and columns' profiles.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> image = rng.normal(size=(1, 40, 40))
    >>> streaked = image.copy()
    >>> streaked[0, 25:, ::2] += 2  # the lower rows striped from one column to the next
    >>> bool(streak_steps(streaked, (10, 10))[0] > streak_steps(image, (10, 10))[0] + 1)
    True
    """
    x = image.astype(np.float64)
    # Differences to the pixel right (within a row) and below (within a column).
    right = np.abs(np.diff(x, axis=2))[:, :-1]
    below = np.abs(np.diff(x, axis=1))[:, :, :-1]
    found = []
    for to_right, to_below in zip(right, below):
        # Rows' profiles (means along axis 1), then columns' (along axis 0).
        for axis, size, along, across in (
            (1, window[0], to_right, to_below),
            (0, window[1], to_below, to_right),
        ):
            found += [_largest_step(np.log(d.mean(axis) + _TINY), size)[0] for d in (along, across)]
    return np.log(np.array(found) + _TINY)


def break_window(patch: tuple[int, int]) -> tuple[int, int]:
    """Rows, and columns, on each side of a line that :func:`streak_breaks` compares: a
    quarter of the patch side (on the magnetic tiles, 16 of 64 found their uneven regions
    better than 12 or 24; ``benchmarks/README.md``)."""
    return max(1, patch[0] // 4), max(1, patch[1] // 4)


def streak_breaks(
    image: np.ndarray, window: tuple[int, int], segment: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The log of the largest break in each channel's streaks, and where it is: a line
    across which the fine pattern of the ``window`` lines on one side does not go on in
    those on the other.

    Streaks (the magnetic tiles' grinding marks) run through a surface, so the fine pattern
    across them (each line less its Gaussian mean, standard deviation a sixteenth of
    ``segment``) is much the same in neighbouring lines; an uneven region, reground or
    otherwise, cuts them off at its edge. Each line is compared by the correlation of the
    two sides' mean pattern over stretches of about ``segment`` pixels, its break being one
    less the lowest of them (a region need not span the image), and only across the
    streaks: along the axis whose lines' patterns correlate best (lowest median break).
    Not a step in a profile (:func:`profile_steps`, :func:`streak_steps`): the streaks
    may be as strong and as bright on both sides. On the magnetic tiles, it raised the
    image ROC-AUC by 0.011, 0.011 and 0.016 (two trainings of split 1, split 2), the
    uneven regions by 0.03, and the band it bounds the pixel ROC-AUC by 0.04-0.07
    (``benchmarks/README.md``).

    Parameters
    ----------
    image : ndarray of shape (channels, height, width)
        As for :func:`profile_steps`; height and width at least twice ``window``'s.
    window : (int, int)
        Rows compared on each side of a line between rows, and columns between columns
        (:func:`break_window`).
    segment : (int, int)
        Rows, and columns, of a stretch compared apart (the patch).

    Returns
    -------
    breaks : ndarray of shape (channels,)
    lines : ndarray of int of shape (channels, 2)
        Where each break is: its axis (0 for a line between rows, 1 between columns) and
        the row (or column) just after it.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> streaks = rng.normal(size=40)
    >>> image = streaks + 0.3 * rng.normal(size=(1, 40, 40))  # streaks down the columns
    >>> cut = image.copy()
    >>> cut[0, 25:] = rng.normal(size=40) + 0.3 * rng.normal(size=(15, 40))  # others below
    >>> (whole, _), (broken, lines) = (streak_breaks(x, (8, 8), (40, 40)) for x in (image, cut))
    >>> bool(broken[0] > whole[0] + 1), lines[0].tolist()  # between rows 24 and 25
    (True, [0, 25])
    """
    found, lines = [], []
    for channel in image.astype(np.float64):
        between_rows = _pattern_breaks(channel, window[0], segment[1])
        between_columns = _pattern_breaks(channel.T, window[1], segment[0])
        axis = int(np.median(between_columns) < np.median(between_rows))
        across_streaks = (between_rows, between_columns)[axis]
        line = int(np.argmax(across_streaks))
        found.append(across_streaks[line])
        lines.append((axis, window[axis] + line))  # the first line has a window above it
    return np.log(np.array(found) + _TINY), np.array(lines)


def _pattern_breaks(image: np.ndarray, window: int, segment: int) -> np.ndarray:
    """For each line between rows of ``image`` with ``window`` rows on each side (from the
    ``window``-th row's top on): one less the lowest correlation, over stretches of about
    ``segment`` columns, between the mean fine pattern of the rows above and of the rows
    below."""
    # The fine pattern along the line: what varies within a sixteenth of a patch's side.
    fine = image - gaussian_filter1d(image, segment / 16, axis=1, mode="nearest")
    sums = np.cumsum(np.r_[np.zeros((1, image.shape[1])), fine], axis=0)
    at = np.arange(window, len(image) - window + 1)
    above, below = sums[at] - sums[at - window], sums[at + window] - sums[at]
    edges = np.linspace(0, image.shape[1], max(1, image.shape[1] // segment) + 1).astype(int)
    correlations = []
    for start, stop in zip(edges[:-1], edges[1:]):
        a, b = (
            side[:, start:stop] - side[:, start:stop].mean(axis=1, keepdims=True)
            for side in (above, below)
        )
        flat_a, flat_b = ((side * side).sum(axis=1) <= _TINY for side in (a, b))
        norm = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
        # Flat on both sides: nothing to break (1); on one side only: cut off (0).
        correlations.append(
            np.divide(
                (a * b).sum(axis=1),
                norm,
                out=np.where(flat_a & flat_b, 1.0, 0.0),
                where=~(flat_a | flat_b),
            )
        )
    return 1 - np.min(correlations, axis=0)


def along_rows(profile: int) -> bool:
    """Whether the ``profile``-th of :func:`profile_steps` is a rows' profile (its step
    runs across the image, between rows)."""
    return profile % N_PROFILES < 2
