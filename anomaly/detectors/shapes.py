"""What a detector's samples are: rows, images (3-D or 4-D X, or ``image_shape``) or windows.

The networks take flattened samples, so images arrive as rows too; these
functions turn X into rows, find the fitted image or window shape, and name
the problem when X does not match it.
"""

from __future__ import annotations

from math import prod
from typing import Any

import numpy as np

from anomaly.networks.backbones import positive_widths

__all__ = ["check_image_shape", "fitted_image_shape", "fitted_window_shape", "flatten_images"]


def flatten_images(X: Any, *, windows: bool) -> tuple[Any, tuple[int, ...] | None]:
    """X as rows, and the ``(channels, height, width)`` of its images when it held images.

    ``windows`` says the detector takes flattened windows (``window_shape``
    is set), which must not be mistaken for 3-D images.
    """
    ndim = X.ndim if hasattr(X, "ndim") else np.asarray(X).ndim
    if ndim > 2 and windows:
        # (n, length, variables) windows and (n, height, width) images are both 3-D.
        raise ValueError(
            f"window_shape is set, so X must hold flattened windows of shape (n_windows, "
            f"variables * length), variable-major; got a {ndim}-D array of shape "
            f"{np.shape(X)}. Series are windowed by anomaly.TimeSeriesDetector."
        )
    if ndim > 4:
        raise ValueError(
            "X must be 2-D (n_samples, n_features), 3-D (n_samples, height, width) or "
            f"4-D (n_samples, channels, height, width); got a {ndim}-D array of shape "
            f"{np.shape(X)}."
        )
    if ndim < 3:
        return X, None
    X = np.asarray(X)
    shape = X.shape[1:] if ndim == 4 else (1, *X.shape[1:])
    return X.reshape(len(X), prod(shape)), tuple(int(n) for n in shape)


def fitted_image_shape(
    declared: Any, given: tuple[int, ...] | None, n_features: int
) -> tuple[int, ...] | None:
    """The image shape to fit: the ``image_shape`` parameter checked against X, or X's own."""
    if declared is None:
        return given
    shape = tuple(positive_widths("image_shape", declared))
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3:
        raise ValueError(
            "image_shape must be (height, width) or (channels, height, width) of "
            f"positive sizes, got {declared!r}."
        )
    if given is not None and given != shape:
        raise ValueError(
            f"X holds images of shape {given} (channels, height, width) but image_shape is {shape}."
        )
    if prod(shape) != n_features:
        raise ValueError(
            f"image_shape {shape} holds {prod(shape)} values but X has "
            f"{n_features} features per sample."
        )
    return shape


def fitted_window_shape(declared: Any, image_shape: Any, n_features: int) -> tuple[int, ...] | None:
    """The ``window_shape`` parameter, checked against X and ``image_shape``."""
    if declared is None:
        return None
    if image_shape is not None:
        raise ValueError("Pass image_shape or window_shape, not both.")
    shape = tuple(positive_widths("window_shape", declared))
    if len(shape) != 2:
        raise ValueError(f"window_shape must be (variables, length), got {declared!r}.")
    if prod(shape) != n_features:
        raise ValueError(
            f"window_shape {shape} holds {prod(shape)} values but X has "
            f"{n_features} features per sample."
        )
    return shape


def check_image_shape(
    given: tuple[int, ...], fitted: tuple[int, ...] | None, n_features: int, name: str
) -> None:
    """Refuse images at scoring time that differ from those of fit, saying how."""
    if fitted is None:
        raise ValueError(
            f"X holds images of shape {given} (channels, height, width) but {name} was "
            f"fitted on rows of {n_features} features; pass X of shape (n_samples, n_features)."
        )
    fitted = tuple(fitted)
    if given == fitted:
        return
    if given[0] != fitted[0]:
        problem = f"{given[0]} channels where the detector expects {fitted[0]}"
    else:
        problem = f"{given[1:]} pixels where the detector expects {fitted[1:]}"
    raise ValueError(
        f"X holds images of shape {given} (channels, height, width) but "
        f"{name} was fitted on {fitted}: {problem}."
    )
