"""The model file format: tensors and a JSON header that run no code when read.

A model file is a safetensors file. Its tensors are whatever the estimator
saves (network weights, fitted arrays); its header holds the estimator's own
string fields (class name, parameters and fitted attributes as JSON), plus
the format's name, its version and a SHA-256 of every tensor and field.
Reading parses JSON and raw tensors only, unlike pickle, and checks the
checksum, so a truncated, edited or corrupted file is refused.

This module knows no estimator: each estimator writes and reads its own
fields (``_model_file_content`` / ``_from_model_file``), and
:mod:`anomaly.persistence` maps a file's class name to the class.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from anomaly._atomic import atomic_write

__all__ = [
    "FORMAT_VERSION",
    "ModelFile",
    "check_own_class",
    "read_model_file",
    "to_json",
    "write_model_file",
]

# 1: MLP models of rows.
# 2: images and windows (new parameters and fitted attributes).
# 3: the parameters score and n_samples renamed scoring_rule and n_draws.
# Estimators read every version up to this one (what changed is theirs to undo).
FORMAT_VERSION = 3
_FORMAT_NAME = "anomaly-detector"
_FORMAT_FIELDS = ("format", "format_version", "sha256")


@dataclass(frozen=True)
class ModelFile:
    """A model file's content, its format checked.

    Attributes
    ----------
    fields : dict of str to str
        The estimator's header fields (the format's own are left out).
    tensors : dict of str to torch.Tensor
        The saved tensors, on the CPU.
    version : int
        The format version the file was written in.
    """

    fields: dict[str, str]
    tensors: dict[str, torch.Tensor]
    version: int


def check_own_class(estimator: object) -> None:
    """Refuse to save a class defined outside this package (a subclass of one of its
    detectors, say): a file names its class, and loading builds only this package's."""
    cls = type(estimator)
    if cls.__module__.partition(".")[0] != __name__.partition(".")[0]:
        raise TypeError(
            f"anomaly saves this package's detectors, not a {cls.__name__} defined in "
            f"{cls.__module__}: anomaly.load could not build it. Pickle it instead."
        )


def to_json(value: object) -> str:
    """``value`` as JSON, numpy scalars and arrays as numbers and lists."""
    return json.dumps(value, default=_json_default)


def _json_default(value: object) -> object:
    # numpy scalars and arrays, e.g. parameters taken from a np.arange grid.
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"cannot save a parameter or attribute of type {type(value).__name__}")


def write_model_file(
    path: str | os.PathLike, fields: Mapping[str, str], tensors: Mapping[str, torch.Tensor]
) -> None:
    """Write ``fields`` and ``tensors`` to ``path``, atomically: a failure leaves no file."""
    tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in tensors.items()}
    metadata = {
        "format": _FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        **fields,
    }
    metadata["sha256"] = _digest(tensors, metadata)
    payload = save_tensors(tensors, metadata=metadata)
    with atomic_write(path) as handle:
        handle.write(payload)


def read_model_file(path: str | os.PathLike) -> ModelFile:
    """Read and check a file written by :func:`write_model_file`.

    Raises
    ------
    ValueError
        If the file is not a model file, is truncated or corrupted (the
        checksum does not match), or was written in a newer format version.
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
    fields = {key: value for key, value in metadata.items() if key not in _FORMAT_FIELDS}
    return ModelFile(fields, tensors, int(version))


def _digest(tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str]) -> str:
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
