"""anomaly: scikit-learn anomaly detectors built on deep generative models."""

from anomaly.comparison import compare
from anomaly.detectors import GANDetector, VAEDetector, VAEGANDetector
from anomaly.io import load

__all__ = ["GANDetector", "VAEDetector", "VAEGANDetector", "compare", "load"]
__version__ = "0.1.0"
