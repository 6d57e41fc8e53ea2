"""Scoring with Dask: fitted detectors over Dask arrays and DataFrames, lazily, block by block,
and many series files at once, one task per file.

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

:func:`score_files` scores many files (e.g. one per machine), each as its own
series, as ``anomaly score MODEL INPUT... --output-dir DIR`` does: one task per
file on a cluster, each worker loading the model file once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
from dask.delayed import Delayed
from distributed import Client, LocalCluster, as_completed
from sklearn.utils.validation import check_is_fitted

from anomaly.base import BaseDetector
from anomaly.file_scoring import score_file
from anomaly.persistence import load
from anomaly.timeseries import TimeSeriesDetector
from anomaly.windowing import check_series_length, window_starts

__all__ = ["connect", "decision_function", "predict", "score_files", "score_samples"]


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
    """``detector.decision_function`` over a Dask array or DataFrame, lazily
    (see :func:`score_samples`)."""
    return _apply(detector, X, "decision_function")


def predict(detector: BaseDetector, X: da.Array | dd.DataFrame) -> da.Array | dd.Series:
    """``detector.predict`` over a Dask array or DataFrame, lazily: -1 for an anomaly,
    1 otherwise (see :func:`score_samples`)."""
    return _apply(detector, X, "predict")


def _apply(detector: BaseDetector, X: Any, method: str) -> da.Array | dd.Series:
    check_is_fitted(detector)
    # One task holding the detector, which every block's task depends on.
    model = dask.delayed(detector, pure=True)
    if isinstance(detector, TimeSeriesDetector):
        if isinstance(X, dd.DataFrame):
            columns = list(X.columns)
            scores = _series(model, detector, X.to_dask_array(lengths=True), method, columns)
            return dd.from_dask_array(scores, index=X.index)
        return _series(model, detector, da.asarray(X), method, None)
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
    return getattr(detector, method)(block)


def _on_partition(part: pd.DataFrame, detector: BaseDetector, method: str) -> pd.Series:
    return pd.Series(getattr(detector, method)(part), index=part.index)


def _series(
    model: Delayed,
    detector: TimeSeriesDetector,
    X: da.Array,
    method: str,
    columns: list[str] | None,
) -> da.Array:
    """Steps of one series cut into partitions, each scored with the rows its windows reach."""
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D series (steps, variables), got {X.ndim} dimensions.")
    size = detector.window_shape_[1]
    detector._check_stride(size)
    check_series_length(len(X), size)
    X = X.rechunk({1: -1})
    grid = window_starts(len(X), size, detector.stride)  # as score_samples cuts the whole series
    bounds = np.cumsum((0, *X.chunks[0]))
    parts = []
    for first, stop in zip(bounds[:-1], bounds[1:]):
        if first == stop:
            continue
        # The windows covering steps first..stop-1, and the rows they span.
        starts = grid[(grid > first - size) & (grid < stop)]
        low, high = starts[0], starts[-1] + size
        scores = dask.delayed(_on_part)(
            model, X[low:high], starts - low, np.arange(first, stop) - low, method, columns
        )
        parts.append(da.from_delayed(scores, shape=(stop - first,), dtype=_dtype(method)))
    return da.concatenate(parts)


def _dtype(method: str) -> np.dtype:
    return np.dtype(int) if method == "predict" else np.dtype(float)


def _on_part(
    detector: TimeSeriesDetector,
    rows: np.ndarray,
    starts: np.ndarray,
    steps: np.ndarray,
    method: str,
    columns: list[str] | None,
) -> np.ndarray:
    part = rows if columns is None else pd.DataFrame(rows, columns=columns, copy=False)
    scores = detector._score_steps(part, starts, steps)
    if method == "score_samples":
        return scores
    decision = scores - detector.offset_  # as BaseDetector.decision_function and predict
    return decision if method == "decision_function" else np.where(decision < 0, -1, 1)


@contextmanager
def connect(scheduler: str = "local", n_workers: int | None = None) -> Iterator[Client]:
    """A client of a Dask cluster: a ``LocalCluster`` started (and closed) here for
    ``"local"``, of ``n_workers`` processes of one thread each (default: one per
    core), else the running scheduler at the address ``scheduler`` (``tcp://host:port``)."""
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


def score_files(
    model_path: str | os.PathLike,
    inputs: Sequence[str | os.PathLike],
    output_dir: str | os.PathLike,
    *,
    client: Client | None = None,
    timestamp_column: str | None = None,
    chunk_rows: int | None = None,
    device: str | None = None,
) -> dict[Path, int | Exception]:
    """Score each input file as its own series into ``output_dir``, under the input's name.

    Each file goes through :func:`anomaly.file_scoring.score_file` with the
    time-series model saved at ``model_path``: one task per file on
    ``client``'s cluster (each worker loads the model once; the files and
    the model must be readable there), else one file after another here.
    Each output is written atomically, so a task that a dying worker leaves
    unfinished and the cluster runs again leaves one complete file; the
    partial files of such attempts are removed at the end. A file that fails
    does not stop the others.

    Returns
    -------
    results : dict
        For each input path, the rows scored, or the error that stopped it.
    """
    inputs = [Path(path) for path in inputs]
    names = [path.name for path in inputs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"Inputs share the output names {repeated} in {output_dir}.")
    outputs = [Path(output_dir) / name for name in names]
    arguments = [
        (str(model_path), device, str(source), str(target), timestamp_column, chunk_rows)
        for source, target in zip(inputs, outputs)
    ]
    results: dict[Path, int | Exception] = {}
    if client is None:
        for path, args in zip(inputs, arguments):
            try:
                results[path] = _score_file(*args)
            except Exception as error:  # reported with the file's name; the others go on
                results[path] = error
        return results
    futures = {
        client.submit(_score_file, *args, pure=False): path for path, args in zip(inputs, arguments)
    }
    for future in as_completed(futures):
        error = future.exception()
        results[futures[future]] = future.result() if error is None else error
    for output in outputs:  # left by attempts on workers that died
        for partial in output.parent.glob(f".{output.name}.*.part"):
            partial.unlink(missing_ok=True)
    return {path: results[path] for path in inputs}


def _score_file(
    model_path: str,
    device: str | None,
    source: str,
    target: str,
    timestamp_column: str | None,
    chunk_rows: int | None,
) -> int:
    detector = _load_time_series_model(model_path, os.stat(model_path).st_mtime_ns, device)
    return score_file(
        detector,
        source,
        target,
        timestamp_column=timestamp_column,
        chunk_rows=chunk_rows,
        progress=False,
    )


@lru_cache(maxsize=4)
def _load_time_series_model(path: str, mtime_ns: int, device: str | None) -> TimeSeriesDetector:
    """The model at ``path``, loaded once per process (and again if the file changes)."""
    detector = load(path, device=device)
    if not isinstance(detector, TimeSeriesDetector):
        raise ValueError(f"{path} holds a {type(detector).__name__}, not a time-series model.")
    return detector
