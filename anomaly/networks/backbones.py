"""Backbones: the family of networks a detector builds for its input.

Every detector assembles its model from up to three parts: an encoder (input
to features), a decoder (features to a number of outputs per input value) and
a critic (input to a logit, with ``features``). A backbone builds all three
for one kind of network: MLPs for rows, convolutions for images and windows,
GRUs for windows. Detectors name it by their ``backbone`` parameter and never
build a network of a given kind themselves: a new backbone is one class here,
added to :data:`BACKBONES`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from math import prod
from numbers import Integral
from typing import Any, ClassVar

from torch import nn

from anomaly.networks.conv import ConvDecoder, ConvDiscriminator, ConvEncoder, stage_sizes
from anomaly.networks.gan import Discriminator
from anomaly.networks.mlp import MLP
from anomaly.networks.recurrent import GRUDecoder, GRUDiscriminator, GRUEncoder

__all__ = [
    "BACKBONES",
    "Backbone",
    "ConvBackbone",
    "GRUBackbone",
    "InputShape",
    "MLPBackbone",
    "choose_backbone",
    "positive_widths",
]


@dataclass(frozen=True)
class InputShape:
    """What one sample is: ``n_features`` values, flattened from an image or a window.

    Parameters
    ----------
    n_features : int
        Values per sample, as the networks receive them (flattened).
    image_shape : tuple of int, optional
        ``(channels, height, width)`` of an image.
    window_shape : tuple of int, optional
        ``(variables, length)`` of a time-series window, flattened variable-major.
    """

    n_features: int
    image_shape: tuple[int, ...] | None = None
    window_shape: tuple[int, ...] | None = None

    @property
    def sample_shape(self) -> tuple[int, ...] | None:
        """``(channels, *sizes)`` of an image or a window; None for rows."""
        return self.image_shape if self.image_shape is not None else self.window_shape


def positive_widths(name: str, widths: Any) -> list[int]:
    """``widths`` as a list of ints, each at least 1, or a ValueError naming ``name``."""
    widths = list(widths)
    if not all(isinstance(width, Integral) and width >= 1 for width in widths):
        raise ValueError(f"{name} must hold positive integer widths, got {widths!r}.")
    return [int(width) for width in widths]


class Backbone(ABC):
    """Builds the encoder, decoder and critic of one network type for one input shape.

    Parameters
    ----------
    inputs : InputShape
        The samples the networks take.
    hidden_sizes : sequence of int
        Widths of the MLP's hidden layers (the GRU's state takes the widest).
    conv_channels : sequence of int
        Channels of the convolutional stages.
    """

    name: ClassVar[str]

    def __init__(
        self, inputs: InputShape, *, hidden_sizes: Sequence[int], conv_channels: Sequence[int]
    ) -> None:
        self.inputs = inputs
        self.hidden_sizes = hidden_sizes
        self.conv_channels = conv_channels

    @classmethod
    def check_input(cls, inputs: InputShape) -> None:
        """Raise a ValueError saying what to pass if this backbone cannot take ``inputs``.

        By default every input goes, flattened.
        """
        return None

    @abstractmethod
    def encoder(self, out_features: int) -> nn.Module:
        """Flattened input to ``out_features``."""

    @abstractmethod
    def decoder(self, in_features: int, outputs_per_value: int) -> nn.Module:
        """``in_features`` to ``outputs_per_value`` outputs per input value, flattened."""

    @abstractmethod
    def discriminator(self) -> nn.Module:
        """A spectral-normalised critic: input to one logit, with ``features(x)``."""

    @abstractmethod
    def activation_width(self) -> int:
        """Activations of one sample through encoder and decoder (to size scoring blocks)."""


class MLPBackbone(Backbone):
    """Fully connected layers over the flattened sample; the decoder mirrors the encoder."""

    name = "mlp"

    def _hidden(self) -> list[int]:
        return positive_widths("hidden_sizes", self.hidden_sizes)

    def encoder(self, out_features: int) -> nn.Module:
        return MLP(self.inputs.n_features, self._hidden(), out_features)

    def decoder(self, in_features: int, outputs_per_value: int) -> nn.Module:
        return MLP(in_features, self._hidden()[::-1], outputs_per_value * self.inputs.n_features)

    def discriminator(self) -> nn.Module:
        return Discriminator(self.inputs.n_features, self._hidden())

    def activation_width(self) -> int:
        return sum(self._hidden())


class ConvBackbone(Backbone):
    """Stride-2 convolutions: 2-D over images, 1-D over windows; transposed ones back."""

    name = "conv"

    @classmethod
    def check_input(cls, inputs: InputShape) -> None:
        if inputs.sample_shape is None:
            raise ValueError(
                "backbone='conv' needs images or windows: pass X of shape (n_samples, height, "
                "width) or (n_samples, channels, height, width), or flattened rows with "
                "image_shape or window_shape."
            )

    def _channels(self) -> list[int]:
        channels = positive_widths("conv_channels", self.conv_channels)
        if not channels:
            raise ValueError("conv_channels must name at least one convolution stage.")
        return channels

    def encoder(self, out_features: int) -> nn.Module:
        return ConvEncoder(self.inputs.sample_shape, self._channels(), out_features)

    def decoder(self, in_features: int, outputs_per_value: int) -> nn.Module:
        shape = self.inputs.sample_shape
        return ConvDecoder(in_features, self._channels(), shape, outputs_per_value * shape[0])

    def discriminator(self) -> nn.Module:
        return ConvDiscriminator(self.inputs.sample_shape, self._channels())

    def activation_width(self) -> int:
        channels = self._channels()
        stages = stage_sizes(self.inputs.sample_shape[1:], len(channels))[1:]
        # The decoder's upsampled maps are as large again as the encoder's.
        return 2 * sum(c * prod(sizes) for c, sizes in zip(channels, stages))


class GRUBackbone(Backbone):
    """A GRU over a window's steps, its state as wide as the MLP's widest layer."""

    name = "gru"

    @classmethod
    def check_input(cls, inputs: InputShape) -> None:
        if inputs.window_shape is None:
            raise ValueError(
                "backbone='gru' needs time-series windows: pass window_shape, or use "
                "anomaly.TimeSeriesDetector."
            )

    def _width(self) -> int:
        return max(positive_widths("hidden_sizes", self.hidden_sizes), default=64)

    def encoder(self, out_features: int) -> nn.Module:
        return GRUEncoder(self.inputs.window_shape, self._width(), out_features)

    def decoder(self, in_features: int, outputs_per_value: int) -> nn.Module:
        shape = self.inputs.window_shape
        return GRUDecoder(in_features, self._width(), shape, outputs_per_value * shape[0])

    def discriminator(self) -> nn.Module:
        return GRUDiscriminator(self.inputs.window_shape, self._width())

    def activation_width(self) -> int:
        # A state per step, in the encoder and again in the decoder.
        return 2 * self._width() * self.inputs.window_shape[1]


BACKBONES: dict[str, type[Backbone]] = {
    backbone.name: backbone for backbone in (MLPBackbone, ConvBackbone, GRUBackbone)
}


def choose_backbone(name: str, inputs: InputShape) -> str:
    """The backbone ``name`` stands for, checked against ``inputs``.

    ``"auto"`` takes convolutions for images and windows and an MLP for rows.

    Examples
    --------
    >>> choose_backbone("auto", InputShape(784, image_shape=(1, 28, 28)))
    'conv'
    >>> choose_backbone("auto", InputShape(6))
    'mlp'
    """
    if name == "auto":
        name = "mlp" if inputs.sample_shape is None else "conv"
    BACKBONES[name].check_input(inputs)
    return name
