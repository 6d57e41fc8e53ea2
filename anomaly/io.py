"""Saving and loading fitted detectors without running code on load.

A model file is a safetensors file: the network's weights and the fitted
arrays are tensors; the class name, hyper-parameters, other fitted attributes,
a format version and a SHA-256 of the tensors and the header are strings in its
header. Loading parses JSON and raw tensors only, unlike pickle. A
:class:`anomaly.timeseries.TimeSeriesDetector` is saved as the detector it
wraps, with its own parameters and fitted state in a ``wrapper`` header field.
"""

from __future__ import annotations

import hashlib
import json
import os
from numbers import Integral
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from anomaly._atomic import atomic_write

if TYPE_CHECKING:
    from anomaly.base import BaseDeepDetector
    from anomaly.timeseries import TimeSeriesDetector

__all__ = ["FORMAT_VERSION", "load", "save"]

# 2: images and windows (fitted image_shape_, window_shape_ and backbone_;
# parameters backbone, image_shape, window_shape, conv_channels, likelihood).
# Version 1 files hold MLP models of rows fitted with those parameters'
# defaults, which load fills in.
FORMAT_VERSION = 2
_VERSION_1_ATTRIBUTES = {"image_shape_": None, "window_shape_": None, "backbone_": "mlp"}
_FORMAT_NAME = "anomaly-detector"
_NETWORK_PREFIX = "network."
_ATTRIBUTE_PREFIX = "attribute."


def _detector_classes() -> dict[str, type[BaseDeepDetector]]:
    # Only these classes can be instantiated from a file.
    from anomaly.detectors import GANDetector, VAEDetector, VAEGANDetector

    return {cls.__name__: cls for cls in (GANDetector, VAEDetector, VAEGANDetector)}


# The wrapper's fitted state besides the wrapped detector.
_WRAPPER_ATTRIBUTES = ("n_features_in_", "feature_names_in_", "window_shape_", "offset_")


def save(detector: BaseDeepDetector | TimeSeriesDetector, path: str | os.PathLike) -> None:
    """Write a fitted detector to ``path`` (see :meth:`BaseDeepDetector.save`)."""
    from anomaly.timeseries import TimeSeriesDetector

    check_is_fitted(detector)
    wrapper = None
    if isinstance(detector, TimeSeriesDetector):
        wrapper = {
            "class": type(detector).__name__,
            "params": {k: v for k, v in detector.get_params(deep=False).items() if k != "detector"},
            "attributes": {
                name: getattr(detector, name)
                for name in _WRAPPER_ATTRIBUTES
                if hasattr(detector, name)
            },
        }
        detector = detector.detector_
    tensors = {
        _NETWORK_PREFIX + name: value.detach().cpu().contiguous()
        for name, value in detector.network_.state_dict().items()
    }
    attributes = {}
    for name in detector._persisted_attributes:
        if not hasattr(detector, name):
            continue
        value = getattr(detector, name)
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            tensors[_ATTRIBUTE_PREFIX + name] = torch.from_numpy(np.ascontiguousarray(value))
        else:
            attributes[name] = value
    params = dict(detector.fitted_params_)
    if not isinstance(params["random_state"], (Integral, type(None))):
        # A RandomState object only matters for fitting; the saved model's
        # scores come from scoring_seed_.
        params["random_state"] = None
    metadata = {
        "format": _FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "class": type(detector).__name__,
        "params": json.dumps(params, default=_to_json),
        "attributes": json.dumps(attributes, default=_to_json),
    }
    if wrapper is not None:
        metadata["wrapper"] = json.dumps(wrapper, default=_to_json)
    metadata["sha256"] = _digest(tensors, metadata)
    payload = save_tensors(tensors, metadata=metadata)
    with atomic_write(path) as handle:
        handle.write(payload)


def load(
    path: str | os.PathLike, *, device: str | None = None
) -> BaseDeepDetector | TimeSeriesDetector:
    """Load a detector written by ``detector.save(path)``.

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
        If the file is not a model file, is truncated or corrupted, or was
        written by a newer version of this package.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from anomaly import VAEDetector, load
    >>> X = np.random.default_rng(0).normal(size=(50, 3))
    >>> detector = VAEDetector(epochs=2, random_state=0).fit(X)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
    >>> detector.save(path)
    >>> bool(np.array_equal(load(path).score_samples(X), detector.score_samples(X)))
    True
    """
    path = Path(path)
    payload = path.read_bytes()
    try:
        tensors = load_tensors(payload)
        # The header's JSON, whose bounds load_tensors has just checked.
        header_length = int.from_bytes(payload[:8], "little")
        metadata = json.loads(payload[8 : 8 + header_length]).get("__metadata__") or {}
    except (SafetensorError, ValueError) as err:
        raise ValueError(
            f"{path} is not a readable model file (truncated or corrupted?): {err}"
        ) from None
    if metadata.get("format") != _FORMAT_NAME:
        raise ValueError(f"{path} is a safetensors file but not an anomaly model file.")
    version = metadata.get("format_version", "")
    if not version.isdigit():
        raise ValueError(f"{path} has a corrupted header: format version {version!r}.")
    if int(version) > FORMAT_VERSION:
        raise ValueError(
            f"{path} was written in model format version {version}, newer than the "
            f"version {FORMAT_VERSION} this installation reads; upgrade the anomaly package."
        )
    if metadata.get("sha256") != _digest(tensors, metadata):
        raise ValueError(
            f"{path} is corrupted: its content does not match the checksum in its header."
        )
    cls = _detector_classes().get(metadata.get("class"))
    if cls is None:
        raise ValueError(f"{path} holds an unknown detector class {metadata.get('class')!r}.")
    try:
        params = {
            key: tuple(value) if isinstance(value, list) else value
            for key, value in json.loads(metadata["params"]).items()
        }
        attributes = json.loads(metadata["attributes"])
        detector = cls(**params)
    except (KeyError, TypeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} has a corrupted header: {err}") from None
    # Parameters added after the file was written keep their defaults.
    detector.fitted_params_ = {**detector.get_params(deep=False), **params}
    if int(version) == 1:
        attributes = {**_VERSION_1_ATTRIBUTES, **attributes}
    network_state = {}
    for key, tensor in tensors.items():
        if key.startswith(_ATTRIBUTE_PREFIX):
            attributes[key.removeprefix(_ATTRIBUTE_PREFIX)] = tensor.numpy()
        else:
            network_state[key.removeprefix(_NETWORK_PREFIX)] = tensor
    unexpected = set(attributes) - set(cls._persisted_attributes)
    if unexpected:
        raise ValueError(f"{path} has unexpected attributes {sorted(unexpected)}.")
    for name, value in attributes.items():
        setattr(
            detector,
            name,
            np.asarray(value, dtype=object) if name == "feature_names_in_" else value,
        )
    detector._restore_network(network_state, device)
    if "wrapper" in metadata:
        return _load_wrapper(path, metadata["wrapper"], detector)
    return detector


def _load_wrapper(path: Path, header: str, detector: BaseDeepDetector) -> TimeSeriesDetector:
    """The TimeSeriesDetector around the loaded ``detector``."""
    from anomaly.timeseries import TimeSeriesDetector

    try:
        wrapper = json.loads(header)
        if wrapper["class"] != TimeSeriesDetector.__name__:
            raise ValueError(f"unknown wrapper class {wrapper['class']!r}")
        attributes = wrapper["attributes"]
        unexpected = set(attributes) - set(_WRAPPER_ATTRIBUTES)
        if unexpected:
            raise ValueError(f"unexpected wrapper attributes {sorted(unexpected)}")
        # The unfitted detector as the user gave it: the wrapper sets window_shape.
        template = clone(detector).set_params(window_shape=None)
        wrapped = TimeSeriesDetector(template, **wrapper["params"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path} has a corrupted header: {err}") from None
    for name, value in attributes.items():
        if name == "feature_names_in_":
            value = np.asarray(value, dtype=object)
        elif name == "window_shape_":
            value = tuple(value)
        setattr(wrapped, name, value)
    wrapped.detector_ = detector
    return wrapped


def _to_json(value: object) -> object:
    # numpy scalars and arrays, e.g. parameters taken from a np.arange grid.
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"cannot save a parameter or attribute of type {type(value).__name__}")


def _digest(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> str:
    """SHA-256 of every tensor and every header field but the checksum itself."""
    digest = hashlib.sha256()
    for key in sorted(metadata):
        if key != "sha256":
            digest.update(f"{key}={metadata[key]}|".encode())
    for name in sorted(tensors):
        tensor = tensors[name]
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
