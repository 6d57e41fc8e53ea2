"""anomaly: scikit-learn anomaly detectors built on deep generative models."""

from anomaly.detectors import GANDetector, VAEDetector, VAEGANDetector
from anomaly.io import load

__all__ = ["GANDetector", "VAEDetector", "VAEGANDetector", "load"]
__version__ = "0.1.0"
