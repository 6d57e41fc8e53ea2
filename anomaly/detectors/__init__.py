"""Detectors: hyper-parameters, losses and scoring rules over the shared contract."""

from anomaly.detectors.gan import GANDetector
from anomaly.detectors.vae import VAEDetector
from anomaly.detectors.vaegan import VAEGANDetector

__all__ = ["GANDetector", "VAEDetector", "VAEGANDetector"]
