"""What a detector's samples are: rows, images (3-D or 4-D X, or ``image_shape``) or windows.

The networks take flattened samples, so images arrive as rows too; these
functions turn X into rows, find the fitted image or window shape, and name
the problem when X does not match it.
"""

from __future__ import annotations

from math import prod
from numbers import Integral
from typing import Any

import numpy as np
from sklearn.utils import check_array

from anomaly._warnings import warn_at_caller
from anomaly.networks.backbones import positive_widths

__all__ = [
    "as_image_list",
    "check_image_shape",
    "check_patch_fits",
    "check_patched_pixels",
    "fitted_image_shape",
    "fitted_patch_size",
    "fitted_window_shape",
    "flatten_images",
    "unused_patch_size",
    "warn_if_channels_last",
]


def as_image_list(X: Any) -> list[np.ndarray] | None:
    """X's images as a list of ``(channels, height, width)`` arrays (views), or None for rows.

    Images come as a 3-D ``(n, height, width)`` or 4-D ``(n, channels,
    height, width)`` array, or as a list of 2-D or 3-D arrays, whose sizes
    may differ (e.g. photographs of parts of different lengths).
    """
    if isinstance(X, (list, tuple)) and len(X) and all(np.ndim(image) in (2, 3) for image in X):
        images = [np.asarray(image) for image in X]
    elif hasattr(X, "ndim") and X.ndim in (3, 4):
        images = list(np.asarray(X))
    else:
        return None
    if not images:  # refused as scikit-learn refuses no rows
        raise ValueError("Found an array of 0 images while at least one is required.")
    images = [image[None] if image.ndim == 2 else image for image in images]
    channels = {image.shape[0] for image in images}
    if len(channels) > 1:
        hint = ""
        if all(image.shape[-1] in (1, 3, 4) for image in images):  # as PIL and imageio give
            hint = (
                ": images are (channels, height, width); if their last axis holds the "
                "colours, pass each image's np.moveaxis(image, -1, 0)"
            )
        raise ValueError(f"X holds images of different channel counts {sorted(channels)}{hint}.")
    return images


def check_patched_pixels(images: list[np.ndarray], name: str, *, missing_allowed: bool) -> None:
    """Refuse images to cut into patches unless their pixels are finite numbers; each checked
    alone, as each is converted to float32 alone."""
    for image in images:
        pixels = check_array(
            image.reshape(len(image), -1),
            dtype=None,
            ensure_all_finite="allow-nan" if missing_allowed else True,
        )
        if missing_allowed and pixels.dtype.kind == "f" and np.isnan(pixels).any():
            raise ValueError(
                f"{name} cuts these images into patches, which take no missing values (NaN): "
                "missing='marginalize' covers rows, whole images and windows."
            )


def warn_if_channels_last(image_shape: tuple[int, ...]) -> None:
    """Warn where an image's (channels, height, width) look like (height, width, channels):
    arrays from PIL or imageio hold the colours last, and would train as nonsense."""
    channels, *_, last = image_shape
    if channels > 4 and last in (1, 3, 4):  # grey (Keras' (n, 28, 28, 1)), RGB, RGBA
        warn_at_caller(
            f"X's images are read as {channels} channels of {image_shape[1]} x {last} "
            "pixels: images are (channels, height, width); if their last axis holds the "
            "colours, pass np.moveaxis(X, -1, 1) (or each image's np.moveaxis(image, -1, 0))."
        )


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


def _colours_last_hint(shape: tuple[int, ...], channels: int) -> str:
    """A hint where an image's last axis, not its first, holds the expected channels."""
    if shape[0] != channels and shape[-1] == channels:  # as PIL and imageio give them
        return (
            "; images are (channels, height, width): if their last axis holds the colours, "
            "pass each image's np.moveaxis(image, -1, 0)"
        )
    return ""


def check_image_shape(
    given: tuple[int, ...],
    fitted: tuple[int, ...] | None,
    n_features: int,
    name: str,
    patch_size: Any = None,
) -> None:
    """Refuse images at scoring time that differ from those of fit, saying how (and that
    ``patch_size``, where one was given, went unused at fit)."""
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
        problem += _colours_last_hint(given, fitted[0])
    else:
        problem = f"{given[1:]} pixels where the detector expects {fitted[1:]}"
        if patch_size is not None:
            problem += (
                f"; patch_size={patch_size!r} went unused, as no training image was larger "
                "than a patch, so images went whole: fit on larger images to cut patches"
            )
    raise ValueError(
        f"X holds images of shape {given} (channels, height, width) but "
        f"{name} was fitted on {fitted}: {problem}."
    )


def fitted_patch_size(declared: Any, images: list[np.ndarray]) -> tuple[int, int] | None:
    """The ``(height, width)`` of the patches to cut, or None when images go whole.

    Images are cut into patches when every one is at least ``patch_size``
    and some are larger; otherwise they go whole, which needs one size.
    """
    sizes = sorted({image.shape[1:] for image in images})
    patch = None
    if declared is not None:
        patch = [declared] * 2 if isinstance(declared, Integral) else declared
        patch = tuple(positive_widths("patch_size", patch))
        if len(patch) != 2:
            raise ValueError(f"patch_size must be an int or (height, width), got {declared!r}.")
        fits = all(h >= patch[0] and w >= patch[1] for h, w in sizes)
        if fits and any(h > patch[0] or w > patch[1] for h, w in sizes):
            return patch
    if len(sizes) > 1:
        smallest = (min(h for h, _ in sizes), min(w for _, w in sizes))
        raise ValueError(
            f"X holds images of {len(sizes)} different sizes (height, width), from "
            f"{sizes[0]} to {sizes[-1]}. Images of different sizes are cut into patches, "
            f"which needs a patch_size no larger than every image, at most {smallest}; got "
            f"patch_size={declared!r}."
        )
    return None


def check_patch_fits(
    images: list[np.ndarray], channels: int, patch: tuple[int, ...], name: str
) -> None:
    """Refuse images of another channel count, or smaller than a patch, saying how."""
    for image in images:
        if image.shape[0] != channels:
            raise ValueError(
                f"X holds images of {image.shape[0]} channels where {name} expects "
                f"{channels}{_colours_last_hint(image.shape, channels)}."
            )
        height, width = image.shape[1:]
        if height < patch[0] or width < patch[1]:
            raise ValueError(
                f"X holds an image of {height} x {width} pixels, smaller than the "
                f"{patch[0]} x {patch[1]} patches {name} was fitted on; pass images at "
                "least that large."
            )


def unused_patch_size(fitted_params: dict, given_shape: tuple[int, ...]) -> Any:
    """The ``patch_size`` fitted with, where images of ``given_shape`` would have been cut
    into patches had the training images been larger than one (for the error refusing them)."""
    declared = fitted_params.get("patch_size")
    if declared is None or fitted_params.get("image_shape") is not None:
        return None
    patch = (declared, declared) if isinstance(declared, Integral) else tuple(declared)
    larger = given_shape[1] > patch[0] or given_shape[2] > patch[1]
    fits = given_shape[1] >= patch[0] and given_shape[2] >= patch[1]
    return declared if fits and larger else None
