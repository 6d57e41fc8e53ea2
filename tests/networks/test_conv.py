"""Convolutional backbones: exact output sizes for any image or window size."""

import math

import pytest
import torch

from anomaly.networks import ConvDecoder, ConvDiscriminator, ConvEncoder
from anomaly.networks.conv import stage_sizes

# Images (channels, height, width) and windows (variables, length).
SHAPES = [(1, 28, 28), (3, 13, 7), (2, 9, 16), (1, 5, 5), (1, 32), (3, 25), (2, 7)]


@pytest.mark.parametrize("image_shape", SHAPES)
@pytest.mark.parametrize("channels", [(4,), (4, 8), (4, 8, 16)])
def test_round_trip_keeps_any_image_size(image_shape, channels):
    n_values = math.prod(image_shape)
    x = torch.rand(3, n_values)
    code = ConvEncoder(image_shape, channels, 6)(x)
    assert code.shape == (3, 6)
    out = ConvDecoder(6, channels, image_shape, 2 * image_shape[0])(code)
    assert out.shape == (3, 2 * n_values)
    critic = ConvDiscriminator(image_shape, channels)
    assert critic(x).shape == (3,)
    sizes = stage_sizes(image_shape[1:], len(channels))[-1]
    assert critic.features(x).shape == (3, channels[-1] * math.prod(sizes))


def test_stage_sizes_round_up():
    assert stage_sizes((7, 1), 3) == [(7, 1), (4, 1), (2, 1), (1, 1)]
    assert stage_sizes((5,), 2) == [(5,), (3,), (2,)]


def test_other_sample_ranks_are_refused():
    with pytest.raises(ValueError, match=r"\(channels, length\) or \(channels, height, width\)"):
        ConvEncoder((1, 2, 3, 4), (4,), 2)


def test_decoder_output_is_channel_major():
    # chunk(2, dim=1) of the flattened output must give the first channels' maps.
    decoder = ConvDecoder(2, (4,), (1, 6, 5), 2)
    z = torch.randn(2, 2)
    flat = decoder(z)
    maps = decoder.body[:-1](decoder.project(z))  # before the final Flatten
    mean, scale = flat.chunk(2, dim=1)
    torch.testing.assert_close(mean, maps[:, 0].flatten(1))
    torch.testing.assert_close(scale, maps[:, 1].flatten(1))


def test_images_are_independent_rows():
    # No batch statistics: an image's output does not depend on its batch mates.
    torch.manual_seed(0)
    encoder = ConvEncoder((1, 8, 8), (4, 8), 3)
    x = torch.rand(5, 64)
    torch.testing.assert_close(encoder(x)[:2], encoder(x[:2]))
