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
    "missing": "a likelihood leaves missing values out, a GAN hides them from its critic too",
}
# Shared names with options of each detector's own.
OWN_OPTIONS = {"scoring_rule": "each detector has its own scoring rules"}


def parameter_docs(cls, section: str = "Parameters", end: str = "Attributes") -> dict[str, str]:
    """Each entry of a numpydoc section (its line and its text), by name."""
    doc = inspect.getdoc(cls)
    section = doc.split(f"{section}\n{'-' * len(section)}\n", 1)[1].split(f"\n\n{end}\n", 1)[0]
    entries: dict[str, list[str]] = {}
    for line in section.splitlines():
        match = re.match(r"^(\w+) : ", line)
        if match:
            name = match[1]
            entries[name] = []
        entries[name].append(line)
    return {name: "\n".join(lines).strip() for name, lines in entries.items()}


# Every parameter at least two detectors have.
SHARED = sorted(
    name
    for name in {p for cls in DETECTORS for p in inspect.signature(cls).parameters}
    if sum(name in inspect.signature(cls).parameters for cls in DETECTORS) >= 2
)


@pytest.mark.parametrize("cls", DETECTORS)
def test_every_parameter_is_documented_in_order(cls):
    assert list(parameter_docs(cls)) == list(inspect.signature(cls).parameters)


def test_the_base_parameters_are_shared():
    assert set(BaseDeepDetector._parameter_constraints) <= set(SHARED)


@pytest.mark.parametrize("name", SHARED)
def test_shared_parameters_read_the_same(name):
    docs = [parameter_docs(cls)[name] for cls in DETECTORS if name in parameter_docs(cls)]
    if name in OWN_OPTIONS:
        assert len(docs) >= 2
    elif name in OWN_WORDS:
        types = {doc.split(", default=")[0] for doc in docs}
        assert len(types) == 1, docs
    else:
        assert len(set(docs)) == 1, "\n\n".join(docs)


# Fitted attributes that hold what each detector's own networks and training made.
OWN_ATTRIBUTES = {"network_", "history_", "scoring_seed_", "generator_diversity_"}


def test_shared_attributes_read_the_same():
    docs = [parameter_docs(cls, "Attributes", "See Also") for cls in DETECTORS]
    shared = set.intersection(*(set(doc) for doc in docs)) - OWN_ATTRIBUTES
    assert {"offset_", "fitted_params_", "feature_mean_", "n_features_in_"} <= shared
    for name in sorted(shared):
        assert len({doc[name] for doc in docs}) == 1, name
