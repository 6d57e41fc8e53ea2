"""Detectors: hyper-parameters, losses and scoring rules over the shared contract."""

from anomaly.detectors.gan import GANDetector
from anomaly.detectors.vae import VAEDetector

__all__ = ["GANDetector", "VAEDetector"]
