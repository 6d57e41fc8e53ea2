"""The three detectors describe the parameters they share in the same words."""

import inspect
import re

import pytest

from anomaly import GANDetector, VAEDetector, VAEGANDetector
from anomaly.detectors.base import BaseDeepDetector

DETECTORS = [VAEDetector, GANDetector, VAEGANDetector]

# Shared parameters whose meaning depends on the detector's own networks: their type must
# match, their text may not.
OWN_WORDS = {
    "hidden_sizes": "which networks the widths shape",
    "latent_dim": "the GAN's latent space is its generator's input",
    "conv_channels": "which networks the stages shape",
    "epochs": "the GAN trains its encoder after the GAN, for as many epochs again",
    "learning_rate": "defaults and Adam's beta1 differ (adversarial training)",
    "validation_fraction": "the GAN stops its encoder early, never its adversarial phase",
    "n_iter_no_change": "as validation_fraction",
}


def parameter_docs(cls) -> dict[str, str]:
    """Each parameter's entry in the numpydoc Parameters section: its line and its text."""
    doc = inspect.getdoc(cls)
    section = doc.split("Parameters\n----------\n", 1)[1].split("\n\nAttributes\n", 1)[0]
    entries: dict[str, list[str]] = {}
    for line in section.splitlines():
        match = re.match(r"^(\w+) : ", line)
        if match:
            name = match[1]
            entries[name] = []
        entries[name].append(line)
    return {name: "\n".join(lines).strip() for name, lines in entries.items()}


SHARED = sorted({*BaseDeepDetector._parameter_constraints, "hidden_sizes", "latent_dim"})


@pytest.mark.parametrize("cls", DETECTORS)
def test_every_parameter_is_documented_in_order(cls):
    assert list(parameter_docs(cls)) == list(inspect.signature(cls).parameters)


@pytest.mark.parametrize("name", SHARED)
def test_shared_parameters_read_the_same(name):
    docs = [parameter_docs(cls)[name] for cls in DETECTORS]
    if name in OWN_WORDS:
        types = {doc.split(", default=")[0] for doc in docs}
        assert len(types) == 1, docs
    else:
        assert len(set(docs)) == 1, "\n\n".join(docs)
