"""Convolutional backbones for images and time-series windows, on flattened input and output.

Detectors hand every network a 2-D batch (rows of flattened values), so the
same standardisation, batching and scoring code serves rows, images and
windows. These backbones therefore unflatten their input to ``(batch,
channels, *sizes)`` first and flatten their output last, channel-major, so a
decoder's ``2 * channels`` output maps split in two along dimension 1 exactly
as an MLP's output does.

The shape of one sample, ``(channels, *sizes)``, picks the convolution: 2-D
for images ``(channels, height, width)``, 1-D for windows ``(variables,
length)``. Every stage halves each size (stride-2 convolution, rounding up);
the decoder's transposed convolutions return through the exact sizes the
encoder passed through, so any size works, not only powers of two.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["ConvDecoder", "ConvDiscriminator", "ConvEncoder", "stage_sizes"]


def stage_sizes(sizes: Sequence[int], n_stages: int) -> list[tuple[int, ...]]:
    """Spatial sizes after each stride-2 stage, the input's first.

    Examples
    --------
    >>> stage_sizes((28, 17), 2)
    [(28, 17), (14, 9), (7, 5)]
    >>> stage_sizes((50,), 2)
    [(50,), (25,), (13,)]
    """
    stages = [tuple(int(n) for n in sizes)]
    for _ in range(n_stages):
        stages.append(tuple((n + 1) // 2 for n in stages[-1]))
    return stages


def _layers(shape: Sequence[int]) -> tuple[type[nn.Module], type[nn.Module]]:
    """The convolution and transposed convolution for samples of ``shape``."""
    if len(shape) == 2:
        return nn.Conv1d, nn.ConvTranspose1d
    if len(shape) == 3:
        return nn.Conv2d, nn.ConvTranspose2d
    raise ValueError(
        f"a convolutional backbone takes (channels, length) or (channels, height, width), "
        f"got the shape {tuple(shape)}."
    )


def _downsampling(
    shape: Sequence[int], channels: Sequence[int], *, normalized: bool
) -> nn.Sequential:
    """Unflatten, then one stride-2 convolution (kernel 3) per entry of ``channels``."""
    conv_type = _layers(shape)[0]
    widths = [shape[0], *channels]
    layers: list[nn.Module] = [nn.Unflatten(1, tuple(shape))]
    for width_in, width_out in zip(widths[:-1], widths[1:]):
        conv = conv_type(width_in, width_out, kernel_size=3, stride=2, padding=1)
        # The critic is spectral-normalised and uses LeakyReLU, as its MLP counterpart.
        layers += [spectral_norm(conv), nn.LeakyReLU(0.2)] if normalized else [conv, nn.ReLU()]
    layers.append(nn.Flatten())
    return nn.Sequential(*layers)


def _flat_size(shape: Sequence[int], channels: Sequence[int]) -> int:
    return channels[-1] * prod(stage_sizes(shape[1:], len(channels))[-1])


class ConvEncoder(nn.Sequential):
    """Strided convolutions, then a linear layer: flattened samples to ``out_features``.

    Parameters
    ----------
    image_shape : (channels, height, width) or (channels, length)
        Shape of one image, or of one window of a time series.
    channels : sequence of int
        Output channels of each stride-2 stage (at least one).
    out_features : int
        Width of the output.

    Examples
    --------
    >>> import torch
    >>> ConvEncoder((1, 28, 28), (8, 16), 4)(torch.zeros(2, 784)).shape
    torch.Size([2, 4])
    >>> ConvEncoder((3, 50), (8, 16), 4)(torch.zeros(2, 150)).shape
    torch.Size([2, 4])
    """

    def __init__(
        self, image_shape: Sequence[int], channels: Sequence[int], out_features: int
    ) -> None:
        super().__init__(
            *_downsampling(image_shape, channels, normalized=False),
            nn.Linear(_flat_size(image_shape, channels), out_features),
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last convolutional stage's activations, flattened."""
        for layer in list(self)[:-1]:
            x = layer(x)
        return x


class ConvDecoder(nn.Module):
    """A linear layer, then transposed convolutions: ``in_features`` to flattened samples.

    The mirror of :class:`ConvEncoder`: each stride-2 transposed convolution
    doubles every size, with the output padding chosen per stage so that the
    output has exactly the sizes the encoder's stages had (odd sizes
    included).

    Parameters
    ----------
    in_features : int
        Width of the input (the latent code).
    channels : sequence of int
        The encoder's stage channels, in the encoder's order.
    image_shape : (channels, height, width) or (channels, length)
        Shape of one image or window.
    out_channels : int
        Channels of the output maps (e.g. twice the image's for a mean and a
        scale per pixel).

    Examples
    --------
    >>> import torch
    >>> ConvDecoder(4, (8, 16), (1, 28, 17), 2)(torch.zeros(3, 4)).shape
    torch.Size([3, 952])
    """

    def __init__(
        self,
        in_features: int,
        channels: Sequence[int],
        image_shape: Sequence[int],
        out_channels: int,
    ) -> None:
        super().__init__()
        sizes = stage_sizes(image_shape[1:], len(channels))[::-1]
        transposed_type = _layers(image_shape)[1]
        self.project = nn.Sequential(
            nn.Linear(in_features, _flat_size(image_shape, channels)),
            nn.ReLU(),
            nn.Unflatten(1, (channels[-1], *sizes[0])),
        )
        widths = [*channels[::-1], out_channels]
        layers: list[nn.Module] = []
        for i, (size_in, size_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            # A stride-2, kernel-3, padding-1 transposed convolution gives 2n - 1 + output_padding.
            padding = tuple(n_out - (2 * n_in - 1) for n_in, n_out in zip(size_in, size_out))
            layers.append(
                transposed_type(
                    widths[i], widths[i + 1], 3, stride=2, padding=1, output_padding=padding
                )
            )
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        layers.append(nn.Flatten())
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.project(z))


class ConvDiscriminator(nn.Module):
    """Convolutional critic with spectral-normalised layers, for flattened images or windows.

    Same interface as :class:`anomaly.networks.Discriminator`: ``features(x)``
    is the flattened output of the last convolution, ``forward(x)`` one
    real-vs-generated logit per image.

    Parameters
    ----------
    image_shape : (channels, height, width) or (channels, length)
        Shape of one image or window.
    channels : sequence of int
        Output channels of each stride-2 stage.

    Examples
    --------
    >>> import torch
    >>> critic = ConvDiscriminator((1, 12, 12), (4, 8))
    >>> critic(torch.zeros(2, 144)).shape, critic.features(torch.zeros(2, 144)).shape
    (torch.Size([2]), torch.Size([2, 72]))
    """

    def __init__(self, image_shape: Sequence[int], channels: Sequence[int]) -> None:
        super().__init__()
        self.body = _downsampling(image_shape, channels, normalized=True)
        self.head = spectral_norm(nn.Linear(_flat_size(image_shape, channels), 1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Flattened last feature maps of ``x``."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).squeeze(1)
