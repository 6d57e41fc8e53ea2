"""anomaly: scikit-learn anomaly detectors built on deep generative models."""

from typing import Any

from anomaly.detectors import GANDetector, VAEDetector, VAEGANDetector
from anomaly.persistence import load, save
from anomaly.timeseries import TimeSeriesDetector

__all__ = [
    "GANDetector",
    "TimeSeriesDetector",
    "VAEDetector",
    "VAEGANDetector",
    "compare",
    "load",
    "save",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The harness pulls in scikit-learn's metrics and pandas; importing it on first use keeps
    # `import anomaly` (and `anomaly score`) from paying for them.
    if name == "compare":
        from anomaly.comparison import compare

        return compare
    raise AttributeError(f"module 'anomaly' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
