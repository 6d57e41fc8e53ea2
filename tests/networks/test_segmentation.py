"""The defect segmenter's U-Net."""

import pytest
import torch

from anomaly.networks.segmentation import UNet


@pytest.mark.parametrize("size", [(64, 64), (30, 17), (5, 9)])
def test_unet_gives_one_logit_per_pixel_at_any_size(size):
    torch.manual_seed(0)
    logits = UNet(3, width=4)(torch.randn(2, 3, *size))
    assert logits.shape == (2, 1, *size) and torch.isfinite(logits).all()
