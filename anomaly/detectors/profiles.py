"""Steps across a surface: where its rows' or its columns' brightness or contrast changes.

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

__all__ = ["N_PROFILES", "along_rows", "profile_steps", "step_window", "streak_steps"]

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


def along_rows(profile: int) -> bool:
    """Whether the ``profile``-th of :func:`profile_steps` is a rows' profile (its step
    runs across the image, between rows)."""
    return profile % N_PROFILES < 2
