"""Synthetic defects: what a patch-fitted detector's segmenter learns to find.

A generative model fitted on defect-free patches of a textured surface
reconstructs small defects and textures alike, so its residual barely tells
them apart. As in DRAEM (Zavrtanik et al., ICCV 2021), a segmentation network
is trained instead on defect-free patches with synthetic defects pasted in:
it learns what a departure from the texture looks like, and its per-pixel
defect probability is the anomaly map. The defects here are blobs darker or
brighter than their surroundings, thin random-walk lines (scratches, cracks)
and irregular regions, shifted in brightness or filled with texture from
elsewhere.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter

__all__ = ["corrupt", "segmentation_loss"]

# Share of the training patches that get a defect; the others teach what is normal.
DEFECT_FRACTION = 0.5


def _blob(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A filled ellipse, 2 to side / 6.4 pixels in radius (10 at 64), at a random angle."""
    side = min(size)
    rows, cols = np.mgrid[: size[0], : size[1]]
    centre = rng.uniform(0.125, 0.875, 2) * size
    radii = rng.uniform(2, max(2.5, side / 6.4), 2)
    angle = rng.uniform(0, np.pi)
    dy, dx = rows - centre[0], cols - centre[1]
    u = (dy * np.cos(angle) + dx * np.sin(angle)) / radii[0]
    v = (-dy * np.sin(angle) + dx * np.cos(angle)) / radii[1]
    return u**2 + v**2 <= 1


def _line(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A thin random walk of 1 or 3 pixels' width, a quarter to 1.25 of the side long."""
    mask = np.zeros(size, dtype=bool)
    y, x = rng.uniform(0, 1, 2) * size
    angle, width = rng.uniform(0, 2 * np.pi), int(rng.integers(1, 3))
    for _ in range(int(rng.uniform(0.25, 1.25) * min(size))):
        angle += rng.normal(0, 0.3)
        y, x = y + np.sin(angle), x + np.cos(angle)
        row, col = int(y), int(x)
        if 0 <= row < size[0] and 0 <= col < size[1]:
            mask[max(0, row - width // 2) : row + width, max(0, col - width // 2) : col + width] = 1
    return mask


def _region(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Where smoothed noise exceeds 1 to 2.5 of its standard deviations: irregular patches."""
    noise = gaussian_filter(rng.standard_normal(size), rng.uniform(3, 10) * min(size) / 64)
    noise = (noise - noise.mean()) / (noise.std() + 1e-9)
    return noise > rng.uniform(1.0, 2.5)


def corrupt(patches: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Half the ``patches`` with one synthetic defect each, and every patch's defect mask.

    Parameters
    ----------
    patches : ndarray of shape (n, channels, height, width)
        Defect-free patches in standardised units; also the source of the
        texture pasted into some defects.
    rng : numpy.random.Generator

    Returns
    -------
    corrupted : ndarray of shape (n, channels, height, width), float32
    masks : ndarray of shape (n, height, width), float32
        1 where a defect was pasted.

    Examples
    --------
    >>> patches = np.zeros((4, 1, 32, 32), dtype=np.float32)
    >>> corrupted, masks = corrupt(patches, np.random.default_rng(0))
    >>> corrupted.shape, masks.shape
    ((4, 1, 32, 32), (4, 32, 32))
    """
    size = patches.shape[2:]
    corrupted = patches.astype(np.float32, copy=True)
    masks = np.zeros((len(patches), *size), dtype=np.float32)
    for i in np.flatnonzero(rng.random(len(patches)) < DEFECT_FRACTION):
        kind = rng.integers(4)
        if kind == 3 and len(patches) == 1:  # no other patch's texture to paste
            kind = 0
        mask = (_region, _blob, _line, _region)[kind](rng, size)
        if mask.sum() < 3:  # too small to find: left defect-free
            continue
        # Soft edges: a defect fades into its surroundings over a pixel or so.
        soft = gaussian_filter(mask.astype(np.float32), 0.7)
        if kind == 3:  # another patch's texture, possibly turned, inside the region
            # Not the patch itself (its next instead), which unturned would mark a defect
            # where nothing changed; drawn as before, so that other draws stay as they were.
            source = int(rng.integers(len(patches)))
            other = patches[(source + 1) % len(patches) if source == i else source]
            if size[0] == size[1] and rng.random() < 0.5:
                other = other.transpose(0, 2, 1)
            corrupted[i] = corrupted[i] * (1 - soft) + other * soft
        else:  # darker (mostly, as holes and cracks are) or brighter
            shift = rng.choice([-1.0, 1.0], p=[0.8, 0.2]) * rng.uniform(0.5, 2.5)
            corrupted[i] += shift * soft
        masks[i] = mask
    return corrupted, masks


def segmentation_loss(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Focal loss (gamma 2, weighted 10) plus the Dice loss, as in DRAEM.

    Defect pixels are few: the focal term keeps the many easy background
    pixels from dominating, the Dice term rewards covering each defect whole.
    """
    probability = torch.sigmoid(logits)
    cross_entropy = F.binary_cross_entropy_with_logits(logits, masks, reduction="none")
    hit = torch.where(masks > 0, probability, 1 - probability)
    focal = (cross_entropy * (1 - hit) ** 2).mean()
    overlap = (probability * masks).sum()
    dice = 1 - (2 * overlap + 1) / (probability.sum() + masks.sum() + 1)
    return 10 * focal + dice
