"""Detectors: hyper-parameters, losses and scoring rules over the shared contract."""

from anomaly.detectors.vae import VAEDetector

__all__ = ["VAEDetector"]
