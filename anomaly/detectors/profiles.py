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

__all__ = ["N_PROFILES", "profile_steps", "step_window"]

# Per channel: brightness and contrast, along the rows and along the columns.
N_PROFILES = 4
# Keeps the log of a flat profile's step finite.
_TINY = 1e-9


def step_window(inner: tuple[int, int]) -> tuple[int, int]:
    """Rows and columns averaged on each side of a step: the most that fit twice in the
    profiles of an image of ``inner`` (height, width), which are one shorter (contrast
    takes differences)."""
    return (inner[0] - 1) // 2, (inner[1] - 1) // 2


def _largest_step(profile: np.ndarray, window: int) -> float:
    """The largest difference between the means of ``window`` values before and after a
    position of ``profile``."""
    sums = np.cumsum(np.r_[0.0, profile])
    at = np.arange(window, len(profile) - window + 1)
    before, after = sums[at] - sums[at - window], sums[at + window] - sums[at]
    return float(np.abs(before - after).max()) / window


def profile_steps(image: np.ndarray, window: tuple[int, int]) -> np.ndarray:
    """The log of the largest step of each profile of ``image``, shape (channels * 4,).

    Parameters
    ----------
    image : ndarray of shape (channels, height, width)
        Normalised for lighting; height and width at least twice ``window``'s, plus one
        (see :func:`step_window`).
    window : (int, int)
        Rows, and columns, averaged on each side of a step.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> image = rng.normal(size=(1, 40, 40))
    >>> banded = image.copy()
    >>> banded[0, :20] += 1  # the upper half brighter
    >>> steps, banded_steps = (profile_steps(x, (10, 10)) for x in (image, banded))
    >>> bool(banded_steps[0] > steps[0] + 1)  # the rows' brightness steps
    True
    """
    x = image.astype(np.float64)
    # Local contrast: squared differences to the pixels right and below.
    contrast = np.diff(x, axis=2)[:, :-1] ** 2 + np.diff(x, axis=1)[:, :, :-1] ** 2
    x = x[:, :-1, :-1]
    steps = []
    for channel, local in zip(x, contrast):
        for axis, size in ((1, window[0]), (0, window[1])):  # rows' profiles, columns'
            steps.append(_largest_step(channel.mean(axis), size))
            steps.append(_largest_step(np.log(local.mean(axis) + _TINY), size))
    return np.log(np.array(steps) + _TINY)
