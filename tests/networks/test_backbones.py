"""Backbones: one registry names every network type a detector can build."""

import numpy as np
import pytest
import torch

from anomaly import VAEDetector
from anomaly.networks.backbones import BACKBONES, InputShape, choose_backbone

ROWS = InputShape(6)
IMAGES = InputShape(2 * 8 * 6, image_shape=(2, 8, 6))
WINDOWS = InputShape(3 * 10, window_shape=(3, 10))


def test_every_registered_backbone_is_a_parameter_value():
    options = VAEDetector._parameter_constraints["backbone"][0].options
    assert options == {"auto", *BACKBONES}


@pytest.mark.parametrize(
    "name, inputs",
    [("mlp", ROWS), ("mlp", IMAGES), ("conv", IMAGES), ("conv", WINDOWS), ("gru", WINDOWS)],
)
def test_each_backbone_builds_networks_of_the_right_shapes(name, inputs):
    backbone = BACKBONES[name](inputs, hidden_sizes=(8,), conv_channels=(4,))
    x = torch.zeros(5, inputs.n_features)
    assert backbone.encoder(3)(x).shape == (5, 3)
    assert backbone.decoder(3, 2)(torch.zeros(5, 3)).shape == (5, 2 * inputs.n_features)
    critic = backbone.discriminator()
    assert critic(x).shape == (5,) and critic.features(x).shape[0] == 5
    assert backbone.activation_width() > 0


@pytest.mark.parametrize(
    "name, inputs, expected",
    [
        ("auto", ROWS, "mlp"),
        ("auto", IMAGES, "conv"),
        ("auto", WINDOWS, "conv"),
        ("gru", WINDOWS, "gru"),
    ],
)
def test_choose_backbone(name, inputs, expected):
    assert choose_backbone(name, inputs) == expected


@pytest.mark.parametrize(
    "name, inputs, message",
    [("conv", ROWS, "needs images or windows"), ("gru", IMAGES, "needs time-series windows")],
)
def test_a_backbone_refuses_inputs_it_cannot_read(name, inputs, message):
    with pytest.raises(ValueError, match=message):
        choose_backbone(name, inputs)


@pytest.mark.parametrize(
    "name, widths, message",
    [
        ("mlp", dict(hidden_sizes=(0,)), "hidden_sizes must hold positive integer widths"),
        ("conv", dict(conv_channels=()), "conv_channels must name at least one"),
        ("conv", dict(conv_channels=(2.5,)), "conv_channels must hold positive integer widths"),
    ],
)
def test_bad_widths_are_named(name, widths, message):
    backbone = BACKBONES[name](IMAGES, **{"hidden_sizes": (8,), "conv_channels": (4,), **widths})
    with pytest.raises(ValueError, match=message):
        backbone.encoder(3)


def test_a_detector_builds_through_its_backbone():
    detector = VAEDetector(backbone="mlp", hidden_sizes=(8,), epochs=1, random_state=0)
    detector.fit(np.random.default_rng(0).uniform(size=(20, 8, 6)))
    assert detector.backbone_ == "mlp" and isinstance(detector.network_.encoder[0], torch.nn.Linear)
