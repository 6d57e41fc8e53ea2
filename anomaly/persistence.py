"""Saving and loading fitted estimators: the one registry of the classes a file may name.

The file format is :mod:`anomaly.model_file`'s, and each estimator writes and
reads its own fields; this module maps a file's class names to the classes,
so only the estimators below can be built from a file, and a file names its
class, never code to run. It imports every estimator, so none imports it.
"""

from __future__ import annotations

import json
import os

from anomaly.detectors import GANDetector, VAEDetector, VAEGANDetector
from anomaly.detectors.base import BaseDeepDetector
from anomaly.model_file import read_model_file
from anomaly.timeseries import TimeSeriesDetector
from anomaly.training import resolve_device

__all__ = ["load", "save"]

DETECTORS: dict[str, type[BaseDeepDetector]] = {
    cls.__name__: cls for cls in (GANDetector, VAEDetector, VAEGANDetector)
}
# Meta-estimators saved around one of DETECTORS, their own state in the file's "wrapper"
# field (a JSON object that names its class).
WRAPPERS: dict[str, type[TimeSeriesDetector]] = {TimeSeriesDetector.__name__: TimeSeriesDetector}


def save(estimator: BaseDeepDetector | TimeSeriesDetector, path: str | os.PathLike) -> None:
    """Save a fitted detector to ``path``; the same as ``estimator.save(path)``.

    Parameters
    ----------
    estimator : VAEDetector, GANDetector, VAEGANDetector or TimeSeriesDetector
        A fitted detector.
    path : str or path-like
        Destination file; written to a temporary file first and renamed, so a
        failure leaves no partial file.
    """
    if type(estimator) not in {*DETECTORS.values(), *WRAPPERS.values()}:
        raise TypeError(
            f"anomaly.save writes this package's detectors, not a {type(estimator).__name__}."
        )
    estimator.save(path)


def load(
    path: str | os.PathLike, *, device: str | None = None
) -> BaseDeepDetector | TimeSeriesDetector:
    """Load a detector written by ``anomaly.save`` or ``detector.save(path)``.

    Parameters
    ----------
    path : str or path-like
        The model file.
    device : str, optional
        Where to put the network, e.g. ``"cpu"``; by default the device it
        was fitted with (the CPU, with a warning, if that one is missing).

    Returns
    -------
    detector : estimator
        The fitted detector; it gives the same scores as the one saved.

    Raises
    ------
    ValueError
        If the file is not a model file, is truncated or corrupted, names a
        class this package does not save, or was written by a newer version
        of this package.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from anomaly import VAEDetector, load, save
    >>> X = np.random.default_rng(0).normal(size=(50, 3))
    >>> detector = VAEDetector(epochs=2, random_state=0).fit(X)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
    >>> save(detector, path)
    >>> bool(np.array_equal(load(path).score_samples(X), detector.score_samples(X)))
    True
    """
    if device is not None:  # refused as a device, not as the file's fault
        resolve_device(device)
    model = read_model_file(path)
    try:
        cls = _registered(DETECTORS, model.fields.get("class"), "detector")
        estimator = cls._from_model_file(model, device=device)
        if "wrapper" in model.fields:
            try:
                wrapper = json.loads(model.fields["wrapper"])
                name = wrapper["class"]
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                raise ValueError(f"a wrapper field without a class: {err}") from None
            wrapper_cls = _registered(WRAPPERS, name, "wrapper")
            estimator = wrapper_cls._from_wrapper_field(wrapper, estimator)
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        # A header that is valid JSON but not what was saved (edited, with a new checksum).
        detail = err if isinstance(err, ValueError) else f"{type(err).__name__}: {err}"
        raise ValueError(f"{path} has a corrupted header: {detail}") from None
    return estimator


def _registered(classes: dict[str, type], name: object, kind: str) -> type:
    if not isinstance(name, str) or name not in classes:
        raise ValueError(f"unknown {kind} class {name!r}")
    return classes[name]
