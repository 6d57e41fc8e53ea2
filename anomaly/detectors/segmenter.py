"""The defect segmenter of a patch-fitted detector: its training and its logits.

With ``synthetic_defects`` (the default for images cut into patches), a
detector trains, after its own network, a U-Net that takes each patch beside
that network's reconstruction of it and outlines the synthetic defects of
:mod:`anomaly.detectors.synthetic_defects`; the generative network stays
fixed meanwhile. The segmenter is saved as part of the detector's network.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from anomaly.detectors.synthetic_defects import corrupt, segmentation_loss
from anomaly.networks.segmentation import UNet
from anomaly.training import Objective, Phase, TrainingConfig, train

__all__ = ["build_segmenter", "fit_segmenter", "segment"]

# Patches drawn from the detector's training patches: twice their number, up to a bound on
# memory, each drawn with a fresh defect or none, seen this many times.
COVERAGE = 2.0
MAX_PATCHES = 16384
EPOCHS = 3
BATCH_SIZE = 32
LEARNING_RATE = 1e-3
WIDTH = 16

Reconstruct = Callable[[torch.Tensor], torch.Tensor]


def build_segmenter(channels: int) -> UNet:
    """An untrained segmenter for patches of ``channels`` channels."""
    return UNet(2 * channels, width=WIDTH)


def segment(segmenter: nn.Module, images: torch.Tensor, reconstruct: Reconstruct) -> torch.Tensor:
    """Defect logits, (n, 1, height, width), of standardised patches (n, channels, height,
    width), from each beside ``reconstruct``'s rebuilding of it (flattened in, flattened out)."""
    with torch.no_grad():
        rebuilt = reconstruct(images.flatten(1)).view_as(images)
    return segmenter(torch.cat([images, rebuilt], dim=1))


def fit_segmenter(
    patches: np.ndarray,
    network: nn.Module,
    reconstruct: Reconstruct,
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
    network : torch.nn.Module
        The detector's fitted network, held fixed while ``reconstruct`` uses it.
    reconstruct : callable
        Flattened standardised patches to their reconstructions, alike.
    seed : int
        Seeds the patches drawn, their defects and the batch order.
    device : torch.device
    verbose : bool
        Show the training's progress bar, titled ``description``.
    description : str
    """
    rng = np.random.default_rng(seed)
    n = min(round(COVERAGE * len(patches)), MAX_PATCHES)
    corrupted, masks = corrupt(patches[rng.integers(len(patches), size=n)], rng)
    # One row per patch: its values, then its mask, as the training loop takes rows.
    rows = torch.from_numpy(np.concatenate([corrupted.reshape(n, -1), masks.reshape(n, -1)], 1))
    shape = patches.shape[1:]
    split = corrupted[0].size
    segmenter = build_segmenter(shape[0])

    def loss(batch: torch.Tensor) -> torch.Tensor:
        logits = segment(segmenter, batch[:, :split].view(-1, *shape), reconstruct)
        return segmentation_loss(logits, batch[:, split:].view_as(logits))

    phase = Phase(
        segmenter,
        [Objective("segmentation", list(segmenter.parameters()), loss)],
        frozen=[network],
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
