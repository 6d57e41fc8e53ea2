"""Thin dark lines: cracks that run along a surface's own streaks.

A defect segmenter trained on synthetic defects (:mod:`anomaly.detectors.segmenter`)
marks winding scratches, but a straight crack along the streaks of a textured
surface looks to it like one more streak: on the magnetic tiles, the cracks (dark
lines a median 5 pixels wide and 85 long, 40 of the 46 along the vertical
grinding streaks) got an image ROC-AUC of 0.683 from the segmenter and the
profile steps, and the lowest-scoring of them lit their maps at probabilities of
0.1-0.3. Averaged along a line, the darkness of each pixel against its
neighbours a few pixels to either side adds up over the crack's length and
averages out over the streaks, which are fainter and broken: with it, cracks
0.83 and the image ROC-AUC 0.852 (``benchmarks/README.md``).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["LINE_OFFSET", "line_contrast"]

# A pixel's darkness is taken against the pixels this far to either side across the line:
# lines up to about twice as wide stand out (on the magnetic tiles, 2 or 4 pixels ranked the
# images less well than 3, benchmarks/README.md).
LINE_OFFSET = 3


def line_contrast(image: np.ndarray, length: int, margin: tuple[int, int] = (0, 0)) -> float:
    """The darkness of the darkest straight line of ``length`` pixels down the columns or
    across the rows of ``image``, against the pixels :data:`LINE_OFFSET` to either side.

    Parameters
    ----------
    image : ndarray of shape (channels, height, width)
        Normalised for lighting; height and width at least ``length``, and at least 3
        pixels more than twice the margin.
    length : int
        Pixels averaged along a line.
    margin : (int, int)
        Rows and columns at each edge left out across a line: a line down the columns,
        and the neighbours it is compared with, lie that many columns from the edges (but
        may run from the top to the bottom edge). Where the image is too narrow for that,
        the neighbours come closer.

    Returns
    -------
    float
        The largest mean, over a line, of its pixels' neighbours' mean less the pixel, in
        any channel and either direction.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> image = rng.normal(size=(1, 40, 40))
    >>> cracked = image.copy()
    >>> cracked[0, 5:30, 20] -= 2  # a dark vertical line 25 pixels long
    >>> round(line_contrast(image, 20), 1), round(line_contrast(cracked, 20), 1)
    (1.0, 2.1)
    """
    inner = (image.shape[1] - 2 * margin[0], image.shape[2] - 2 * margin[1])
    if length < 1 or min(image.shape[1:]) < length or min(inner) < 3:
        raise ValueError(
            f"line_contrast needs lines of at least 1 pixel, no longer than the image, and 3 "
            f"pixels across inside the margin: got length {length} and margin {tuple(margin)} "
            f"for an image of {image.shape[1]} x {image.shape[2]}."
        )
    x = image.astype(np.float64)
    largest = -np.inf
    # Lines down the columns (their neighbours left and right), then across the rows.
    for across, along, edge in ((2, 1, margin[1]), (1, 2, margin[0])):
        inside = np.take(x, range(edge, x.shape[across] - edge), axis=across)
        size = inside.shape[across]
        offset = max(1, min(LINE_OFFSET, (size - 1) // 2))
        centre = np.take(inside, range(offset, size - offset), axis=across)
        before = np.take(inside, range(0, size - 2 * offset), axis=across)
        after = np.take(inside, range(2 * offset, size), axis=across)
        darkness = (before + after) / 2 - centre
        lines = sliding_window_view(darkness, length, axis=along).mean(axis=-1)
        largest = max(largest, float(lines.max()))
    return largest
