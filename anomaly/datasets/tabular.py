"""Tabular benchmark datasets: ADBench ``.npz`` and ODDS ``.mat`` files."""

from __future__ import annotations

import os

import numpy as np
import scipy.io
from sklearn.utils import Bunch

from anomaly.datasets._store import dataset_path, registry

__all__ = ["ADBENCH_DATASETS", "ODDS_DATASETS", "load_adbench", "load_odds"]

ADBENCH_DATASETS = tuple(
    sorted(
        (name.removeprefix("adbench/") for name in registry() if name.startswith("adbench/")),
        key=lambda stem: int(stem.split("_")[0]),
    )
)
ODDS_DATASETS = tuple(
    sorted(name.removeprefix("odds/") for name in registry() if name.startswith("odds/"))
)


def load_adbench(
    name: str,
    *,
    data_home: str | os.PathLike | None = None,
    download: bool = False,
    return_X_y: bool = False,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load one of ADBench's classical datasets.

    Parameters
    ----------
    name : str
        The upstream file stem, one of ``ADBENCH_DATASETS`` (e.g. ``"4_breastw"``).
    data_home : str or path-like, optional
        Data directory holding ``adbench/<name>.npz``; defaults to
        ``$ANOMALY_DATA``, then ``~/anomaly_data``.
    download : bool, default=False
        Fetch the file from upstream if it is missing.
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.

    Returns
    -------
    data : Bunch
        ``data`` (float64, n_samples x n_features), ``target`` (int, 1 =
        anomaly), ``name``.

    Examples
    --------
    >>> from anomaly.datasets import load_adbench
    >>> X, y = load_adbench("4_breastw", return_X_y=True)  # doctest: +SKIP
    >>> X.shape, round(float(y.mean()), 3)  # doctest: +SKIP
    ((683, 9), 0.35)
    """
    with np.load(dataset_path(f"adbench/{name}", data_home, download=download)) as arrays:
        X, y = arrays["X"], arrays["y"]
    return _result(name, X, y, return_X_y)


def load_odds(
    name: str,
    *,
    data_home: str | os.PathLike | None = None,
    download: bool = False,
    return_X_y: bool = False,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load one of the ODDS ``.mat`` datasets shipped with PyOD.

    Parameters are as for :func:`load_adbench`; ``name`` is one of
    ``ODDS_DATASETS`` (e.g. ``"cardio"``) and the file is ``odds/<name>.mat``.
    """
    arrays = scipy.io.loadmat(dataset_path(f"odds/{name}", data_home, download=download))
    return _result(name, arrays["X"], arrays["y"], return_X_y)


def _result(
    name: str, X: np.ndarray, y: np.ndarray, return_X_y: bool
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y).ravel().astype(int)
    return (X, y) if return_X_y else Bunch(data=X, target=y, name=name)
