"""Images larger than the network's working size: random crops to train, a sliding window to score.

A detector fitted with ``patch_size`` trains its network on patches cut at
random from the training images and scores an image of any size (at least
one patch) by sliding the patch over it with half-patch strides: each
pixel's value in the full-resolution result is the mean over the patches
that cover it. These functions do the cutting and the reassembling; what a
patch's values are (an anomaly map, a reconstruction) is the detector's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from math import ceil, prod

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import gaussian_filter

__all__ = [
    "MAP_SMOOTHING_SIGMA",
    "PatchGrid",
    "map_score",
    "normalize_lighting",
    "random_patches",
    "tiled",
]

# Gaussian smoothing of an anomaly map before its maximum is taken as the
# image's score: a defect is a blob of raised pixels, while single raised
# pixels are texture noise.
MAP_SMOOTHING_SIGMA = 4.0


def normalize_lighting(image: np.ndarray) -> np.ndarray:
    """``image`` (channels, height, width) with each channel at zero mean and unit variance.

    Tiles photographed under different lighting then differ in structure only.
    """
    mean = image.mean(axis=(1, 2), keepdims=True)
    std = image.std(axis=(1, 2), keepdims=True)
    return ((image - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)


def map_score(
    anomaly_map: np.ndarray,
    sigma: float = MAP_SMOOTHING_SIGMA,
    margin: tuple[int, int] = (0, 0),
) -> float:
    """An image's anomaly score from its map: the maximum of the map smoothed by ``sigma``,
    leaving out ``margin`` (rows, columns) pixels at each edge."""
    if sigma > 0:
        anomaly_map = gaussian_filter(anomaly_map, sigma, mode="nearest")
    height, width = anomaly_map.shape
    rows, columns = margin
    if height <= 2 * rows or width <= 2 * columns:
        raise ValueError(
            f"an anomaly map of {height} x {width} pixels has nothing inside a margin of "
            f"{rows} x {columns} pixels: score maps of images at least one patch in size."
        )
    return float(anomaly_map[rows : height - rows, columns : width - columns].max())


def _starts(size: int, patch: int) -> list[int]:
    """Offsets of patches along one side, half a patch apart, the last flush with the edge."""
    stride = max(1, patch // 2)
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    return starts


class PatchGrid:
    """The sliding-window patches of one image: their top-left corners, and cropping.

    Parameters
    ----------
    size : (height, width)
        Of the image; at least ``patch``.
    patch : (height, width)

    Examples
    --------
    >>> grid = PatchGrid((5, 9), (4, 4))
    >>> grid.corners
    [(0, 0), (0, 2), (0, 4), (0, 5), (1, 0), (1, 2), (1, 4), (1, 5)]
    """

    def __init__(self, size: Sequence[int], patch: Sequence[int]) -> None:
        if size[0] < patch[0] or size[1] < patch[1]:
            raise ValueError(f"an image of {tuple(size)} is smaller than the patch {tuple(patch)}.")
        self.size = tuple(size)
        self.patch = tuple(patch)
        self.corners = [
            (y, x) for y in _starts(size[0], patch[0]) for x in _starts(size[1], patch[1])
        ]

    def crop(self, image: np.ndarray, corner: tuple[int, int]) -> np.ndarray:
        """The patch of ``image`` (channels, height, width) at ``corner``."""
        y, x = corner
        return image[:, y : y + self.patch[0], x : x + self.patch[1]]


def random_patches(
    images: Sequence[np.ndarray],
    patch: Sequence[int],
    rng: np.random.Generator,
    prepare: Callable[[np.ndarray], np.ndarray],
    coverage: float = 1.0,
) -> np.ndarray:
    """Patches cut at random from each prepared image, about ``coverage`` times its area in all.

    Parameters
    ----------
    images : sequence of ndarray of shape (channels, height, width)
        Each at least ``patch`` in size.
    patch : (height, width)
    rng : numpy.random.Generator
    prepare : callable
        Applied to each image before it is cut (e.g. :func:`normalize_lighting`).
    coverage : float, default=1.0
        Pixels drawn per image pixel.

    Returns
    -------
    patches : ndarray of shape (n_patches, channels * height * width), float32
    """
    height, width = patch
    counts = [ceil(coverage * prod(image.shape[1:]) / (height * width)) for image in images]
    out = np.empty((sum(counts), images[0].shape[0] * height * width), dtype=np.float32)
    row = 0
    for image, n in zip(images, counts):
        image = prepare(image)
        ys = rng.integers(0, image.shape[1] - height + 1, size=n)
        xs = rng.integers(0, image.shape[2] - width + 1, size=n)
        # Every patch of the image as a view, (channels, y, x, height, width); pick n at once.
        windows = sliding_window_view(image, (height, width), axis=(1, 2))
        out[row : row + n] = windows[:, ys, xs].transpose(1, 0, 2, 3).reshape(n, -1)
        row += n
    return out


def tiled(
    images: Sequence[np.ndarray],
    patch: Sequence[int],
    patch_function: Callable[[np.ndarray], np.ndarray],
    *,
    channels_out: int,
    block: int,
    prepare: Callable[[np.ndarray], np.ndarray] = np.asarray,
) -> Iterator[np.ndarray]:
    """``patch_function`` over every image's sliding-window patches, reassembled per image.

    Patches of consecutive images are sent in blocks of ``block`` patches, so
    the network sees full blocks while memory holds one block and the images
    under way.

    Parameters
    ----------
    images : sequence of ndarray of shape (channels, height, width)
        Each at least ``patch`` in size.
    patch : (height, width)
    patch_function : callable
        Flattened patches, shape (n, channels * patch height * patch
        width), to ``channels_out`` values per patch pixel, flattened alike.
    channels_out : int
    block : int
        Patches per call of ``patch_function``.
    prepare : callable, default=numpy.asarray
        Applied to each image when its first patch is cut (e.g.
        :func:`normalize_lighting`), and its result dropped once the image is done.

    Yields
    ------
    result : ndarray of shape (channels_out, height, width)
        For each image in order: at each pixel, the mean over the patches
        that cover it.

    Examples
    --------
    >>> images = [np.arange(30.0).reshape(1, 5, 6)]
    >>> same = next(tiled(images, (4, 4), lambda p: p, channels_out=1, block=3))
    >>> bool((same == images[0]).all())
    True
    """
    grids = [PatchGrid(image.shape[1:], patch) for image in images]
    prepared: dict[int, np.ndarray] = {}
    pending: list[tuple[int, tuple[int, int]]] = []
    sums: dict[int, np.ndarray] = {}
    counts: dict[int, np.ndarray] = {}
    done = 0

    def run(batch: list[tuple[int, tuple[int, int]]]) -> None:
        crops = np.stack([grids[i].crop(prepared[i], corner).reshape(-1) for i, corner in batch])
        values = patch_function(crops).reshape(len(batch), channels_out, *patch)
        for (i, (y, x)), value in zip(batch, values):
            sums[i][:, y : y + patch[0], x : x + patch[1]] += value
            counts[i][y : y + patch[0], x : x + patch[1]] += 1

    def finished(upto: int) -> Iterator[np.ndarray]:
        nonlocal done
        while done < upto:
            prepared.pop(done)
            yield sums.pop(done) / counts.pop(done)
            done += 1

    for i, grid in enumerate(grids):
        prepared[i] = prepare(images[i])
        sums[i] = np.zeros((channels_out, *grid.size))
        counts[i] = np.zeros(grid.size)
        for corner in grid.corners:
            pending.append((i, corner))
            if len(pending) == block:
                run(pending)
                pending = []
        # Images before the first pending patch's are complete: hand them over.
        yield from finished(pending[0][0] if pending else i + 1)
    if pending:
        run(pending)
    yield from finished(len(images))
