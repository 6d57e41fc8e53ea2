"""The defect segmenter of a patch-fitted detector: its training and its logits.

With ``synthetic_defects`` (the default for images cut into patches), a
detector trains, after its own network, a U-Net that outlines the synthetic
defects of :mod:`anomaly.detectors.synthetic_defects` in its training
patches, fresh defects in every batch. The U-Net sees the (standardised)
image alone: given the generative network's reconstruction beside it, as in
DRAEM, it found the magnetic tiles' defects less well (image ROC-AUC 0.714
against 0.741), since a network fitted on the texture rebuilds small defects
too. The segmenter is saved as part of the detector's network.

Each image is segmented twice, as it is and at half resolution (2 x 2 means,
scaled by 2 so that the fine texture keeps its contrast), and the map is the
pixelwise maximum of the two: the half-resolution pass sees twice as far,
which finds the tiles' large uneven regions (image ROC-AUC 0.793 against 0.758
from full resolution alone, same segmenter; uneven 0.696 against 0.563). The
image's score starts from the map's maximum away from its edges
(``edge_margin``): on the magnetic tiles, 22 of the 40 highest-scoring
defect-free images had their maximum within 4 pixels of an edge, and leaving
out 8 pixels raised the image ROC-AUC from 0.793 to 0.819, every defect kind
with it. To it are added the steps in the image's row and column profiles of brightness,
contrast and streaks, for the defects that span the image, and the largest break in its
streaks, for regions that cut them off (:mod:`anomaly.detectors.profiles`), and its
darkest thin line (:mod:`anomaly.detectors.lines`), for the cracks along its streaks:
each in standard deviations of the training images' (see ``image_score_scales_``). Where the
largest profile step (of brightness or contrast) or break is clear, the map marks the band it
bounds (:func:`banded_map`).

Being convolutional, the segmenter maps an image whole, so that every pixel is
judged with its surroundings (on sliding patches, a defect near a patch's
edge is seen without them, and averaging the overlaps dims it); images beyond
``WHOLE_IMAGE_PIXELS`` go by sliding patches, to bound memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter
from scipy.special import expit, logit
from torch import nn

from anomaly.detectors.lines import line_contrast
from anomaly.detectors.patches import map_score
from anomaly.detectors.profiles import (
    N_PROFILES,
    along_rows,
    break_window,
    profile_steps,
    step_window,
    streak_breaks,
    streak_steps,
)
from anomaly.detectors.standardization import channel_standardization
from anomaly.detectors.synthetic_defects import corrupt, segmentation_loss
from anomaly.networks.segmentation import UNet
from anomaly.training import Objective, Phase, TrainingConfig, train

__all__ = [
    "DefectSegmenterMixin",
    "banded_map",
    "build_segmenter",
    "check_patch_size",
    "defect_map",
    "edge_margin",
    "evidence_scales",
    "fit_segmenter",
    "fits_whole",
    "image_evidence",
    "image_scores",
    "segment",
    "segment_whole",
]

# Patches drawn from the detector's training patches: twice their number, up to a bound on
# memory, each seen this many times, with a fresh defect or none each time. At least
# MIN_PATCHES, so that a segmenter fitted on a few small images still trains for long enough
# (with fresh defects, a patch seen again is a new example).
COVERAGE = 2.0
MIN_PATCHES = 2048
MAX_PATCHES = 16384
EPOCHS = 3
BATCH_SIZE = 32
LEARNING_RATE = 1e-3
WIDTH = 16
# The U-Net pools twice, also at half resolution: a patch needs at least this many pixels
# a side.
MIN_PATCH_SIDE = 8
# The image's score leaves out this share of the patch side at each edge (8 pixels of 64): a
# photograph's outer pixels show the object's rim and its shadow (the magnetic tiles' outer
# columns are 1-2 standard deviations darker than the image's mean), which the segmenter marks
# on defect-free images too.
EDGE_MARGIN_DIVISOR = 8
# Images up to this many pixels are segmented whole: about 1 KB of activations per pixel.
WHOLE_IMAGE_PIXELS = 1 << 20
# Profile steps count from this many of the training images' standard deviations above their
# mean: below it, as for most defect-free images, they say nothing.
PROFILE_STEP_ONSET = 1.0
# The darkest line counts from this many: on the magnetic tiles (two splits, two trainings),
# 0.5 ranked the defects 0.002-0.003 better than 1 on each, 1.5 and 2 worse, 0 about as well
# (benchmarks/README.md).
LINE_ONSET = 0.5
# The largest break in the streaks counts from this many, in the score (from 2 it added nothing
# on the tiles) and for its band on the map.
BREAK_ONSET = 1.0
# A map marks the band a profile step bounds only from this many: where the step is less
# clear, the band is as often where no defect is (on the tiles' splits, marking from 2
# rather than 1 raised the pixel ROC-AUC by 0.009-0.016, benchmarks/README.md).
BAND_ONSET = 2.0
# Probabilities are clipped this far from 0 and 1 before their log-odds: float32 sigmoids
# reach 1 exactly.
_CLIP = 1e-7
# Evidence that hardly varies over the training images is not divided by its spread.
_MIN_SCALE = 1e-9


def build_segmenter(channels: int) -> UNet:
    """An untrained segmenter for patches of ``channels`` channels."""
    return UNet(channels, width=WIDTH)


def check_patch_size(patch: tuple[int, ...]) -> None:
    """Refuse patches too small for the segmenter, before any training."""
    if min(patch) < MIN_PATCH_SIDE:
        raise ValueError(
            f"synthetic_defects needs patches of at least {MIN_PATCH_SIDE} x {MIN_PATCH_SIDE} "
            "pixels (its segmenter pools twice, at half resolution too), got patch_size "
            f"{tuple(patch)}: pass a larger patch_size or synthetic_defects=False."
        )


def edge_margin(patch: tuple[int, ...]) -> tuple[int, int]:
    """Pixels (rows, columns) at each edge of an image that its score leaves out, for
    ``patch`` (height, width): an eighth of the patch's side."""
    return patch[0] // EDGE_MARGIN_DIVISOR, patch[1] // EDGE_MARGIN_DIVISOR


def fits_whole(image: np.ndarray) -> bool:
    """Whether ``image`` (channels, height, width) is segmented whole, not by patches."""
    return image.shape[1] * image.shape[2] <= WHOLE_IMAGE_PIXELS


def image_evidence(
    image: np.ndarray, anomaly_map: np.ndarray, patch: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """What an image's score weighs: the log-odds of its map's maximum away from the edges
    (:func:`edge_margin`), its profile steps
    (:func:`~anomaly.detectors.profiles.profile_steps`) inside the same margin, with windows
    that fit the smallest image allowed (one ``patch``), its darkest line
    (:func:`~anomaly.detectors.lines.line_contrast`, as long as the shorter of a step's
    windows), whose pixels and their neighbours lie inside the margin across the line, but
    which may reach the edge along it (the rim is as dark along a line as beside it, and
    cracks run from the edge), its streaks' steps
    (:func:`~anomaly.detectors.profiles.streak_steps`, as the profile steps) and breaks
    (:func:`~anomaly.detectors.profiles.streak_breaks`, inside the margin too); and where the
    profile steps and the breaks are. Each later addition comes after the others, so that a
    model fitted before it reads the evidence it was fitted on (see :func:`image_scores`).

    Parameters
    ----------
    image : ndarray of shape (channels, height, width)
        As prepared for the segmenter: normalised for lighting.
    anomaly_map : ndarray of shape (height, width)
        The segmenter's defect probabilities.
    patch : (int, int)
        The detector's patch size.

    Returns
    -------
    evidence : ndarray of shape (2 + 9 * channels,)
        The peak's log-odds, the profile steps, the line's contrast, the streaks' steps and
        breaks.
    lines : ndarray of int of shape (5 * channels, 2)
        Where each profile step, then each channel's break, is in the image: its axis (0 for
        a line between rows, 1 between columns) and the row (or column) just after it.
    """
    rows, columns = edge_margin(patch)
    peak = np.clip(map_score(anomaly_map, 0.0, (rows, columns)), _CLIP, 1 - _CLIP)
    inner = image[:, rows : image.shape[1] - rows, columns : image.shape[2] - columns]
    window = step_window((patch[0] - 2 * rows, patch[1] - 2 * columns))
    steps, positions = profile_steps(inner, window)
    line = line_contrast(image, min(window), (rows, columns))
    breaks, break_lines = streak_breaks(inner, break_window(patch), patch)
    streaks = np.r_[streak_steps(inner, window), breaks]
    axes = [0 if along_rows(k) else 1 for k in range(len(positions))]
    lines = np.r_[np.c_[axes, positions], break_lines]
    lines[:, 1] += np.where(lines[:, 0] == 0, rows, columns)  # from the margin to the image
    return np.r_[logit(peak), steps, line, streaks], lines


def evidence_scales(evidence: np.ndarray) -> np.ndarray:
    """Means (row 0) and standard deviations (row 1; 1 where next to none, as for one
    image) of the training images' :func:`image_evidence`, shape (2, n_columns)."""
    scale = evidence.std(axis=0)
    return np.stack([evidence.mean(axis=0), np.where(scale > _MIN_SCALE, scale, 1.0)])


def image_scores(evidence: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Images' anomaly scores from their :func:`image_evidence`, each column standardised
    by ``scales`` (means, standard deviations): the map's peak, plus the largest profile or
    streak step beyond :data:`PROFILE_STEP_ONSET`, plus the line's contrast beyond
    :data:`LINE_ONSET`, plus the largest streak break beyond :data:`BREAK_ONSET`.

    ``evidence`` is as :func:`image_evidence` makes it now, whatever the model's age: a
    model fitted before the streaks' breaks has scales for the evidence before them, one
    fitted before the streaks' steps for the peak, the profile steps and the line only, and
    one fitted before the line for the peak and the profile steps: each scores by the
    evidence it has scales for, as it was fitted.
    """
    channels, extra = divmod(evidence.shape[1] - 2, 2 * N_PROFILES + 1)
    if extra:
        raise ValueError(
            f"evidence of {evidence.shape[1]} columns is not image_evidence's (2 + 9 per channel)"
        )
    peak, profile, line, streaks, breaks = _standardized_parts(evidence, scales, channels)
    beyond = np.c_[profile, streaks].max(axis=1) - PROFILE_STEP_ONSET
    lines = np.maximum(line - LINE_ONSET, 0.0).sum(axis=1)
    breaks = breaks.max(axis=1, initial=-np.inf) - BREAK_ONSET
    return peak + np.maximum(beyond, 0.0) + lines + np.maximum(breaks, 0.0)


def _standardized_parts(
    evidence: np.ndarray, scales: np.ndarray, channels: int
) -> tuple[np.ndarray, ...]:
    """``evidence`` (one image's, or rows of them) standardised by ``scales``, cut into the
    peak, the profile steps, the line, the streak steps and the breaks: each empty where
    the model's ``scales`` end before it (a model fitted before it)."""
    n_steps = N_PROFILES * channels
    standardized = (evidence[..., : scales.shape[1]] - scales[0]) / scales[1]
    bounds = np.cumsum([0, 1, n_steps, 1, n_steps])
    return (
        standardized[..., 0],
        *(standardized[..., start:stop] for start, stop in zip(bounds[1:], bounds[2:])),
        standardized[..., bounds[-1] :],
    )


def banded_map(
    anomaly_map: np.ndarray, evidence: np.ndarray, lines: np.ndarray, scales: np.ndarray
) -> np.ndarray:
    """``anomaly_map`` with the band that its image's largest profile step bounds, where
    that step is beyond :data:`BAND_ONSET`, and the band that its largest streak break
    bounds, where that break is beyond :data:`BREAK_ONSET` (see :func:`image_evidence`; a
    step counts in :func:`image_scores` from the lower :data:`PROFILE_STEP_ONSET`).

    A band is the shorter side of its line, from the line to the image's edge (a defect is
    the smaller part of an image; the magnetic tiles' uneven bands run from an edge), at the
    probability whose log-odds stand as many of the training images' standard deviations
    above their maxima's mean as the step (or break) stands beyond its onset. The breaks'
    band finds the uneven regions whose brightness and contrast hardly change (on the
    magnetic tiles, pixel ROC-AUC 0.833 -> 0.874, 0.775 -> 0.848 and 0.822 -> 0.867 on two
    trainings of one split and on another split, banding 66 of 239 defect-free test tiles,
    21 before; ``benchmarks/README.md``). A model fitted before the breaks (``scales``
    without their columns) bands its steps alone.
    """
    _, profile, _, _, breaks = _standardized_parts(evidence, scales, len(lines) // (N_PROFILES + 1))
    banded = anomaly_map
    for found, where, onset in (
        (profile, lines[: len(profile)], BAND_ONSET),
        (breaks, lines[len(profile) :], BREAK_ONSET),
    ):
        if not found.size or found.max() <= onset:
            continue
        largest = int(np.argmax(found))
        probability = expit(scales[0, 0] + scales[1, 0] * (found[largest] - onset))
        axis, at = (int(v) for v in where[largest])
        band = [slice(None), slice(None)]
        band[axis] = slice(0, at) if at < anomaly_map.shape[axis] - at else slice(at, None)
        banded = banded.copy() if banded is anomaly_map else banded
        banded[tuple(band)] = np.maximum(banded[tuple(band)], probability)
    return banded


def defect_map(
    anomaly_map: np.ndarray,
    evidence: np.ndarray,
    lines: np.ndarray,
    scales: np.ndarray,
    patch: tuple[int, int],
) -> np.ndarray:
    """The map a detector with a defect segmenter shows: each pixel's probability raised to
    its mean with the map's Gaussian mean around it (standard deviation one ``patch`` side)
    where that is higher, then the bands of :func:`banded_map`.

    The segmenter is sure of a large defect's outline and of parts of its inside, and sees
    little in the rest, which is as defective: the mean over a patch's surroundings carries
    what it found to its neighbours (on the magnetic tiles, whose fraying blobs and uneven
    regions cover a tenth to a half of an image, pixel ROC-AUC 0.714 -> 0.803 and 0.721 ->
    0.812 on two splits, benchmarks/README.md), while a pixel it is sure of keeps its own
    probability, so that the map still peaks on a small defect in its image (pooled over
    images, small defects' pixels rank a little lower: blowholes 0.976 -> 0.966, cracks
    0.880 -> 0.796). Reflected at the edges, so that a defect at an edge is not diluted by
    the image beyond it.
    """
    surroundings = gaussian_filter(anomaly_map, sigma=patch, mode="reflect")
    raised = np.maximum(anomaly_map, (anomaly_map + surroundings) / 2)
    return banded_map(raised, evidence, lines, scales)


def segment(segmenter: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """Defect probabilities, (n, 1, height, width), of standardised images (n, channels,
    height, width): the maximum of the maps at full and at half resolution."""
    full = torch.sigmoid(segmenter(batch))
    # Averaging 2 x 2 pixels halves the texture's noise: doubled, it keeps its contrast. An
    # odd side's last pixel is averaged with its reflection's neighbour (four values, as
    # everywhere), and the map doubled back and cut to size, so that each half-resolution
    # pixel lies over the pixels it averaged.
    height, width = batch.shape[-2:]
    padded = F.pad(batch, (0, width % 2, 0, height % 2), mode="reflect")
    half = torch.sigmoid(segmenter(2 * F.avg_pool2d(padded, 2)))
    half = F.interpolate(half, scale_factor=2, mode="bilinear")
    return torch.maximum(full, half[..., :height, :width])


def segment_whole(segmenter: nn.Module, image: np.ndarray) -> np.ndarray:
    """Defect probabilities, (height, width), of a standardised image (channels, height,
    width)."""
    batch = torch.from_numpy(image.astype(np.float32)[None])
    with torch.no_grad():
        probabilities = segment(segmenter, batch.to(next(segmenter.parameters()).device))
    return probabilities[0, 0].double().cpu().numpy()


def fit_segmenter(
    patches: np.ndarray,
    *,
    seed: int,
    device: torch.device,
    verbose: bool,
    description: str,
) -> tuple[UNet, dict[str, list[float]]]:
    """A segmenter trained on ``patches`` with synthetic defects, and its loss history.

    Parameters
    ----------
    patches : ndarray of shape (n, channels, height, width), float32
        Standardised defect-free training patches.
    seed : int
        Seeds the patches drawn, their defects and the batch order.
    device : torch.device
    verbose : bool
        Show the training's progress bar, titled ``description``.
    description : str
    """
    rng = np.random.default_rng(seed)
    n = int(np.clip(round(COVERAGE * len(patches)), MIN_PATCHES, MAX_PATCHES))
    rows = torch.from_numpy(patches[rng.integers(len(patches), size=n)].reshape(n, -1))
    shape = patches.shape[1:]
    segmenter = build_segmenter(shape[0])

    def loss(batch: torch.Tensor) -> torch.Tensor:
        # Defects drawn afresh for every batch: each epoch sees new ones, and no corrupted
        # copy of the patches is held.
        corrupted, masks = corrupt(batch.view(-1, *shape).cpu().numpy(), rng)
        logits = segmenter(torch.from_numpy(corrupted).to(batch.device))
        return segmentation_loss(logits, torch.from_numpy(masks).to(batch.device)[:, None])

    phase = Phase(
        segmenter,
        [Objective("segmentation", list(segmenter.parameters()), loss)],
        early_stopping=False,
    )
    config = TrainingConfig(
        epochs=EPOCHS,
        batch_size=BATCH_SIZE,
        learning_rate=LEARNING_RATE,
        verbose=verbose,
        description=description,
    )
    generator = torch.Generator().manual_seed(seed)
    history = train(phase, rows, config, device=device, generator=generator)
    return segmenter, history


class DefectSegmenterMixin:
    """A network detector's defect segmenter: training it after the network, and its maps.

    Relies on the detector's fitted state (``network_``, ``image_shape_``,
    ``feature_mean_``, ``feature_scale_``) and its patch machinery (``_tiled``,
    ``_prepare_image``).
    """

    def _fit_segmenter(self, patches: np.ndarray, seed: int, device: torch.device) -> None:
        """Train the segmenter on ``patches`` (the training patches as the network takes
        them) and add it to the fitted network."""
        patches = patches.reshape(len(patches), *self.image_shape_)
        # The synthetic defects are drawn in standard deviations of the texture: inputs the
        # network takes unstandardised (standardize=False, a Bernoulli likelihood's unit
        # interval) are standardised for the segmenter alone, one mean and scale per channel.
        if not self._standardizes():
            self.segmenter_standardization_ = np.stack(channel_standardization(patches))
            patches = self._for_segmenter(patches)
        segmenter, history = fit_segmenter(
            patches,
            seed=seed,
            device=device,
            verbose=bool(self.verbose),
            description=f"{type(self).__name__} defect segmenter",
        )
        self.history_ |= history
        self.network_.add_module("defect_segmenter", segmenter)

    def _for_segmenter(self, images: Any) -> Any:
        """Images or patches, (..., channels, height, width), as the network takes them,
        standardised for the segmenter where the network's are not (numpy or torch)."""
        if self.segmenter_standardization_ is None:
            return images
        mean, scale = (v[:, None, None] for v in self.segmenter_standardization_)
        if isinstance(images, torch.Tensor):
            mean, scale = (
                torch.as_tensor(v, dtype=images.dtype).to(images.device) for v in (mean, scale)
            )
        return (images - mean) / scale

    def _defect_batch(self, batch: torch.Tensor) -> torch.Tensor:
        """Each pixel's defect probability by the fitted segmenter, (n, height * width)."""
        patches = self._for_segmenter(batch.view(-1, *self.image_shape_))
        return segment(self.network_.defect_segmenter, patches).flatten(1)

    def _segmented_maps(self, images: list[np.ndarray]) -> Iterator[np.ndarray]:
        """Defect probability maps: each image through the segmenter whole; images too
        large for that by sliding patches."""
        large = [image for image in images if not fits_whole(image)]
        patched = self._tiled(large, self._defect_batch, "segmenting", channels_out=1)
        # One mean and scale per channel (see _standardization), to standardise whole images.
        mean, scale = (
            v.reshape(self.image_shape_[0], -1)[:, :1, None]
            for v in (self.feature_mean_, self.feature_scale_)
        )
        segmenter = self.network_.eval().defect_segmenter
        for image in images:
            if fits_whole(image):
                standardized = (self._prepare_image(image) - mean) / scale
                yield segment_whole(segmenter, self._for_segmenter(standardized))
            else:
                yield next(patched)[0]

    def _evidence(
        self, images: list[np.ndarray], maps: Iterator[np.ndarray]
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Each image's map, with its :func:`image_evidence` (evidence, lines)."""
        for image, anomaly_map in zip(images, maps):
            yield (
                anomaly_map,
                *image_evidence(self._prepare_image(image), anomaly_map, self.patch_size_),
            )

    def _fit_image_scores(self, images: list[np.ndarray]) -> np.ndarray:
        """Standardise the image scores' evidence on the training ``images``
        (``image_score_scales_``), and return their anomaly scores."""
        evidence = np.array([e for _, e, _ in self._evidence(images, self._segmented_maps(images))])
        self.image_score_scales_ = evidence_scales(evidence)
        return image_scores(evidence, self.image_score_scales_)

    def _segmenter_scores(self, images: list[np.ndarray]) -> np.ndarray:
        """Images' anomaly scores from them and their segmenter's maps. A model saved before
        the profile steps (no ``image_score_scales_``) scores by its map's maximum, as it
        was saved."""
        maps = self._segmented_maps(images)
        if self.image_score_scales_ is None:
            margin = edge_margin(self.patch_size_)
            return np.array([map_score(m, 0.0, margin) for m in maps])
        evidence = np.array([e for _, e, _ in self._evidence(images, maps)])
        return image_scores(evidence, self.image_score_scales_)

    def _defect_maps(self, images: list[np.ndarray]) -> Iterator[np.ndarray]:
        """The segmenter's maps as :func:`defect_map` shows them (as they are, for a model
        saved before the profile steps)."""
        maps = self._segmented_maps(images)
        if self.image_score_scales_ is None:
            yield from maps
            return
        for anomaly_map, evidence, lines in self._evidence(images, maps):
            yield defect_map(
                anomaly_map, evidence, lines, self.image_score_scales_, self.patch_size_
            )

    def _segments_defects(self) -> bool:
        """Whether the anomaly maps come from a defect segmenter (see ``synthetic_defects``)."""
        return bool(self.fitted_params_["synthetic_defects"]) and self.patch_size_ is not None
