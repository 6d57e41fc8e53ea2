"""A small U-Net: per-pixel logits for an image of any size."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["UNet"]


def _stage(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3 x 3 convolutions, each batch-normalised and rectified; sizes kept."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    )


class UNet(nn.Module):
    """Encoder of three stages with 2 x 2 max-pooling between them, decoder with skips.

    Parameters
    ----------
    in_channels : int
    width : int, default=16
        Channels of the first stage; each deeper stage doubles them.

    Examples
    --------
    >>> UNet(2)(torch.zeros(3, 2, 30, 17)).shape
    torch.Size([3, 1, 30, 17])
    """

    def __init__(self, in_channels: int, width: int = 16) -> None:
        super().__init__()
        self.encode1 = _stage(in_channels, width)
        self.encode2 = _stage(width, 2 * width)
        self.encode3 = _stage(2 * width, 4 * width)
        self.decode2 = _stage(6 * width, 2 * width)
        self.decode1 = _stage(3 * width, width)
        self.logit = nn.Conv2d(width, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (n, 1, height, width) of ``x``, (n, in_channels, height, width)."""
        top = self.encode1(x)
        middle = self.encode2(F.max_pool2d(top, 2))
        bottom = self.encode3(F.max_pool2d(middle, 2))
        # Upsampled to the skip's size, so odd sizes come back whole.
        up = F.interpolate(bottom, size=middle.shape[-2:])
        middle = self.decode2(torch.cat([up, middle], dim=1))
        up = F.interpolate(middle, size=top.shape[-2:])
        return self.logit(self.decode1(torch.cat([up, top], dim=1)))
