"""The checks on the means and scales that a detector standardises its inputs by."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.preprocessing import StandardScaler

__all__ = ["channel_standardization", "checked_standardization", "feature_standardization"]


def checked_standardization(
    columns: np.ndarray, mean: np.ndarray, scale: np.ndarray, kind: str
) -> tuple[np.ndarray, np.ndarray]:
    """``mean`` and ``scale`` of each of ``columns`` (one per row of it), a constant one's
    set to its value and 1, or refused where the arithmetic overflowed.

    Summed in floating point, the mean of a large constant (1e20, say) misses it, and the
    column would reach the network as a large constant instead of 0; its standard deviation
    comes out tiny rather than 0 (5.6e-17 for 0.3), which would blow a value just off the
    constant up to millions. Values beyond about
    1e154 overflow the variance: refused, naming the ``kind`` ("feature", "channel") and
    its index.

    Examples
    --------
    >>> columns = np.array([[1e20, 1e20, 1e20], [0.0, 1.0, 2.0]])
    >>> mean, scale = checked_standardization(columns, columns.mean(axis=1), np.ones(2), "feature")
    >>> bool(mean[0] == 1e20)
    True
    """
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # a column of NaN only: refused later
        low, high = np.nanmin(columns, axis=1), np.nanmax(columns, axis=1)
    constant = low == high
    mean, scale = np.where(constant, low, mean), np.where(constant, 1.0, scale)
    bad = ~(np.isfinite(mean) & np.isfinite(scale))
    if bad.any():
        raise ValueError(
            f"X's {kind} {int(np.argmax(bad))} holds values too large to standardise (its "
            "variance overflows float64): rescale it."
        )
    return mean, scale


def channel_standardization(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean and scale (the standard deviation, 1 where it is 0) of each channel of
    ``samples`` (shape (n, channels, ...)), missing values (NaN) left out, as
    :func:`checked_standardization` checks them."""
    channels = samples.reshape(len(samples), samples.shape[1], -1).transpose(1, 0, 2)
    channels = channels.reshape(samples.shape[1], -1)
    with np.errstate(over="ignore"):  # refused by checked_standardization
        if np.isnan(channels).any():
            mean, std = np.nanmean(channels, axis=1), np.nanstd(channels, axis=1)
        else:
            mean, std = channels.mean(axis=1), channels.std(axis=1)
    return checked_standardization(channels, mean, np.where(std > 0, std, 1.0), "channel")


def feature_standardization(
    X: np.ndarray, sample_shape: tuple[int, ...] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale of each feature of ``X``: per column for rows, per channel (or a
    window's variable) for samples of ``sample_shape``."""
    if sample_shape is None:
        scaler = StandardScaler().fit(X)
        return checked_standardization(X.T, scaler.mean_, scaler.scale_, "feature")
    # One mean and scale per channel: per-pixel scaling would blow up near-constant border
    # pixels, break the convolutions' shared weights, and make a window's scale depend on its
    # position.
    mean, scale = channel_standardization(X.reshape(len(X), sample_shape[0], -1))
    values = X.shape[1] // sample_shape[0]
    return np.repeat(mean, values), np.repeat(scale, values)
