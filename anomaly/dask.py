"""Scoring with Dask: fitted detectors over Dask arrays and DataFrames, lazily, block by block.

Each function returns what the detector's own method returns on the data in
memory, equal to the bit on the CPU: a detector's networks take rows in blocks
of one fixed size, so a row's score does not depend on how the rows are split
(see ``BaseDeepDetector._blockwise``). The detector enters the task graph once,
as one task that every block depends on: on a distributed cluster each worker
receives it once, not once per block.

A :class:`~anomaly.TimeSeriesDetector` reads a Dask array or DataFrame as one
series cut into partitions along time: each partition is scored with the rows
around it that its steps' windows reach into (from as many partitions as they
span), so every step gets exactly the score of the whole series in memory.

``dask_ml.wrappers.ParallelPostFit(detector)`` also runs ``predict`` block by
block; for ``score_samples`` and ``decision_function``, which it does not wrap,
use the functions here.

:func:`connect` gives a client of a LocalCluster or of a running scheduler, on
which :func:`anomaly.batch_scoring.score_files` scores many files, one task each.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
from dask.delayed import Delayed
from distributed import Client, LocalCluster
from sklearn.utils.validation import check_is_fitted

from anomaly.base import BaseDetector
from anomaly.timeseries import TimeSeriesDetector
from anomaly.windowing import check_series_length, window_starts

__all__ = ["connect", "decision_function", "predict", "score_samples"]


def score_samples(detector: BaseDetector, X: da.Array | dd.DataFrame) -> da.Array | dd.Series:
    """``detector.score_samples`` over a Dask array or DataFrame, lazily.

    Parameters
    ----------
    detector : fitted detector
        Any detector of this package, :class:`~anomaly.TimeSeriesDetector` included.
    X : dask.array.Array or dask.dataframe.DataFrame
        Rows, images (chunked along the first axis only, or rechunked so) or,
        for a TimeSeriesDetector, one series cut along time into partitions
        of any sizes, shorter than a window included (a DataFrame's partition
        lengths are computed first: the windows that cross partitions need them).

    Returns
    -------
    scores : dask.array.Array or dask.dataframe.Series
        One score per row (per step), chunked as ``X``'s rows; a Series with
        ``X``'s index for a DataFrame.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from anomaly import VAEDetector
    >>> from anomaly import dask as anomaly_dask
    >>> X = np.random.default_rng(0).normal(size=(500, 4))
    >>> detector = VAEDetector(epochs=2, random_state=0).fit(X)
    >>> lazy = anomaly_dask.score_samples(detector, da.from_array(X, chunks=120))
    >>> bool(np.array_equal(lazy.compute(), detector.score_samples(X)))
    True
    """
    return _apply(detector, X, "score_samples")


def decision_function(detector: BaseDetector, X: da.Array | dd.DataFrame) -> da.Array | dd.Series:
    """``detector.decision_function`` over a Dask array or DataFrame, lazily.

    Parameters
    ----------
    detector : fitted detector
    X : dask.array.Array or dask.dataframe.DataFrame
        As for :func:`score_samples`.

    Returns
    -------
    scores : dask.array.Array or dask.dataframe.Series
        ``score_samples - offset_``: negative for anomalies.
    """
    return _apply(detector, X, "decision_function")


def predict(detector: BaseDetector, X: da.Array | dd.DataFrame) -> da.Array | dd.Series:
    """``detector.predict`` over a Dask array or DataFrame, lazily.

    Parameters
    ----------
    detector : fitted detector
    X : dask.array.Array or dask.dataframe.DataFrame
        As for :func:`score_samples`.

    Returns
    -------
    labels : dask.array.Array or dask.dataframe.Series
        -1 for an anomaly, 1 otherwise.
    """
    return _apply(detector, X, "predict")


def _apply(detector: BaseDetector, X: Any, method: str) -> da.Array | dd.Series:
    check_is_fitted(detector)
    # One task holding the detector, which every block's task depends on.
    model = dask.delayed(detector, pure=True)
    if isinstance(detector, TimeSeriesDetector):
        if isinstance(X, dd.DataFrame):
            # Values, lengths and index from one list of partitions: taken apart, dask may
            # optimise each differently (small Parquet files merged in one, not the other).
            frames = X.to_delayed()
            lengths = dask.compute(*[dask.delayed(len)(frame) for frame in frames])
            dtype, options = X._meta.to_numpy().dtype, {}
            if all(pd.api.types.is_numeric_dtype(column) for column in X.dtypes):
                # Nullable columns (Float64, Int64) with NA as NaN, as validation reads them
                # in memory; float32 stays float32.
                dtype = dtype if dtype.kind == "f" else np.dtype(np.float64)
                options = dict(dtype=dtype, na_value=np.nan)
            values = da.concatenate(
                [
                    da.from_delayed(frame.to_numpy(**options), shape=(n, X.shape[1]), dtype=dtype)
                    for frame, n in zip(frames, lengths)
                ]
            )
            parts = _series(model, detector, values, method, list(X.columns), lengths)
            indexed = [
                dask.delayed(pd.Series)(scores, index=frame.index)
                for (scores, _), frame in zip(parts, frames)
            ]
            return dd.from_delayed(indexed, meta=pd.Series(dtype=_dtype(method)))
        parts = _series(model, detector, da.asarray(X), method, None)
        return da.concatenate(
            [da.from_delayed(scores, shape=(n,), dtype=_dtype(method)) for scores, n in parts]
        ).rechunk((tuple(n for _, n in parts),))  # concatenate leaves out empty parts
    if isinstance(X, dd.DataFrame):
        return X.map_partitions(_on_partition, model, method, meta=pd.Series(dtype=_dtype(method)))
    X = da.asarray(X)
    # Whole samples in each block: the rows axis alone may be cut.
    X = X.rechunk({axis: -1 for axis in range(1, X.ndim)})
    return X.map_blocks(
        _on_block,
        model,
        method,
        drop_axis=list(range(1, X.ndim)),
        meta=np.empty(0, dtype=_dtype(method)),  # else dask calls _on_block to learn it
    )


def _on_block(block: np.ndarray, detector: BaseDetector, method: str) -> np.ndarray:
    if len(block) == 0:  # an empty block, which the detector's validation refuses
        return np.empty(0, dtype=_dtype(method))
    return getattr(detector, method)(block)


def _on_partition(part: pd.DataFrame, detector: BaseDetector, method: str) -> pd.Series:
    if len(part) == 0:
        return pd.Series(np.empty(0, dtype=_dtype(method)), index=part.index)
    return pd.Series(getattr(detector, method)(part), index=part.index)


def _series(
    model: Delayed,
    detector: TimeSeriesDetector,
    X: da.Array,
    method: str,
    columns: list[str] | None,
    lengths: tuple[int, ...] | None = None,
) -> list[tuple[Delayed, int]]:
    """The scores of each partition of one series (of ``lengths``, by default ``X``'s
    chunks), scored with the rows its windows reach, and its length."""
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D series (steps, variables), got {X.ndim} dimensions.")
    size = detector.window_shape_[1]
    detector._check_stride(size)
    check_series_length(len(X), size)
    bounds = np.cumsum((0, *(X.chunks[0] if lengths is None else lengths)))
    X = X.rechunk({1: -1})
    grid = window_starts(len(X), size, detector.stride)  # as score_samples cuts the whole series
    parts = []
    for first, stop in zip(bounds[:-1], bounds[1:]):
        if first == stop:
            parts.append((dask.delayed(np.empty(0, dtype=_dtype(method))), 0))
            continue
        # The windows covering steps first..stop-1, and the rows they span.
        starts = grid[(grid > first - size) & (grid < stop)]
        low, high = starts[0], starts[-1] + size
        scores = dask.delayed(_on_part)(
            model, X[low:high], starts - low, np.arange(first, stop) - low, method, columns, low
        )
        parts.append((scores, int(stop - first)))
    return parts


def _dtype(method: str) -> np.dtype:
    return np.dtype(int) if method == "predict" else np.dtype(float)


def _on_part(
    detector: TimeSeriesDetector,
    rows: np.ndarray,
    starts: np.ndarray,
    steps: np.ndarray,
    method: str,
    columns: list[str] | None,
    first_step: int,
) -> np.ndarray:
    part = rows if columns is None else pd.DataFrame(rows, columns=columns, copy=False)
    scores = detector._score_steps(part, starts, steps, first_step)
    if method == "score_samples":
        return scores
    decision = scores - detector.offset_  # as BaseDetector.decision_function and predict
    return decision if method == "decision_function" else np.where(decision < 0, -1, 1)


@contextmanager
def connect(scheduler: str = "local", n_workers: int | None = None) -> Iterator[Client]:
    """A client of a Dask cluster, closed (with a cluster started here) on leaving.

    Parameters
    ----------
    scheduler : str, default="local"
        ``"local"``: a ``LocalCluster`` started here, of ``n_workers``
        processes of one thread each; else the address of a running
        scheduler (``tcp://host:port``).
    n_workers : int, optional
        Worker processes of the local cluster (default: one per core).

    Yields
    ------
    client : distributed.Client
    """
    if scheduler != "local":
        with Client(scheduler) as client:
            yield client
        return
    # Dask starts workers with MALLOC_TRIM_THRESHOLD_ set, which stops glibc from raising its
    # mmap threshold: every block's tensors were then mapped and unmapped, and a worker scored
    # about 3 times slower than this process on one thread (benchmarks/README.md).
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    with (
        dask.config.set({"distributed.nanny.pre-spawn-environ": environ}),
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            # Any free port: two clusters at once must not compete for the dashboard's.
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
