"""The adversarial side shared by the GAN-type detectors: collapse checks and critic scores.

Used by :class:`anomaly.GANDetector` and :class:`anomaly.VAEGANDetector`, which
train a discriminator against a generator (or a decoder).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from anomaly._warnings import warn_at_caller

__all__ = [
    "COLLAPSE_THRESHOLD",
    "check_generator",
    "discriminator_median",
    "discriminator_score",
    "fill_missing",
    "generator_diversity",
    "hide_like",
]


# A generator whose samples spread less than this fraction of the data's has collapsed.
COLLAPSE_THRESHOLD = 0.1


def fill_missing(x: torch.Tensor) -> torch.Tensor:
    """``x`` with its missing values (NaN) at 0, the mean in standardised units: what a
    discriminator sees of a row with gaps."""
    return torch.where(torch.isnan(x), 0.0, x)


def hide_like(generated: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    """``generated`` rows with the gaps of real rows: each takes the mask of a random row of
    ``observed`` and 0 where that row misses a value, so that a discriminator cannot tell
    generated rows from real rows with gaps by the gaps (as in MisGAN, Li et al., 2019).
    Without gaps, ``generated`` as it is, no random draw taken: a model that allows gaps
    then trains on complete rows as one that refuses them."""
    if observed.all():
        return generated
    order = torch.randperm(len(observed), device=observed.device)[: len(generated)]
    return generated * observed[order]


def generator_diversity(
    generate: Callable[[int], torch.Tensor], X: torch.Tensor, n_samples: int = 512
) -> float:
    """Mean pairwise distance of ``generate(n)``'s rows over that of rows of ``X``."""
    real = fill_missing(X[torch.randperm(len(X), device=X.device)[:n_samples]])
    return (torch.pdist(generate(len(real))).mean() / torch.pdist(real).mean()).item()


def check_generator(
    detector_name: str, generate: Callable[[int], torch.Tensor], X: torch.Tensor
) -> float:
    """:func:`generator_diversity`, with a warning when the generator has collapsed."""
    diversity = generator_diversity(generate, X)
    if diversity < COLLAPSE_THRESHOLD:
        warn_at_caller(
            f"{detector_name}'s generator collapsed: its samples spread "
            f"{diversity:.3g} times as much as the training data (below "
            f"{COLLAPSE_THRESHOLD}). Scores that rely on the generator are unreliable; "
            "try another random_state, a lower learning_rate or more epochs."
        )
    return diversity


def discriminator_median(discriminator: nn.Module, X: torch.Tensor) -> float:
    """Median logit of the discriminator over ``X`` (the centre of its two-sided score)."""
    logits = [discriminator(fill_missing(block)) for block in X.split(4096)]
    return torch.cat(logits).median().item()


def discriminator_score(discriminator: nn.Module, x: torch.Tensor, center: float) -> torch.Tensor:
    """Minus the distance of each row's logit from ``center``: both tails are abnormal."""
    return -(discriminator(fill_missing(x)).double() - center).abs()
