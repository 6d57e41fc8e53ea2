"""Many series files scored with one model: one after another here, or one task per file on a
Dask cluster (``anomaly score INPUT... --output-dir``)."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from anomaly.file_scoring import score_file
from anomaly.persistence import load
from anomaly.timeseries import TimeSeriesDetector

__all__ = ["score_files"]


def score_files(
    model_path: str | os.PathLike,
    inputs: Sequence[str | os.PathLike],
    output_dir: str | os.PathLike,
    *,
    client: Any = None,
    timestamp_column: str | None = None,
    chunk_rows: int | None = None,
    explain: bool = False,
    explain_top: int | None = None,
    device: str | None = None,
    threads: int | None = None,
) -> dict[Path, int | Exception]:
    """Score each input file as its own series into ``output_dir``, under the input's name.

    Each file goes through :func:`anomaly.file_scoring.score_file` with the
    time-series model saved at ``model_path``: one task per file on the
    cluster of ``client``, a ``distributed.Client`` (e.g. from
    :func:`anomaly.dask.connect`; each worker loads the model once, and the
    files and the model must be readable there at the same paths), else one
    file after another here.
    Each output is written atomically, so a task that a dying worker leaves
    unfinished and the cluster runs again leaves one complete file; the
    partial files of such attempts are removed at the end. A file that fails
    does not stop the others.

    Parameters
    ----------
    model_path : str or path-like
        A model file of a :class:`~anomaly.TimeSeriesDetector` (``anomaly fit``).
    inputs : sequence of str or path-like, or one
        CSV or Parquet files, each one series; their names must differ.
    output_dir : str or path-like
        An existing folder; each output takes its input's name.
    client : distributed.Client, optional
        Where to run; by default here, one file after another.
    timestamp_column, chunk_rows, explain, explain_top :
        As for :func:`anomaly.file_scoring.score_file`.
    device : str, optional
        Where to load the model (default: where it was fitted).
    threads : int, optional
        torch's CPU threads for each file, wherever it is scored (default: the
        scoring process's own; one on workers that Dask's nannies start, with
        ``OMP_NUM_THREADS=1``). A worker of several threads scores as many files
        at once: keep its threads times ``threads`` within its cores.

    Returns
    -------
    results : dict
        For each input path, the rows scored, or the error that stopped it.
    """
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}.")
    # Absolute paths: workers may run elsewhere, in other folders.
    model_path = Path(model_path).resolve()
    if isinstance(inputs, (str, os.PathLike)):  # one file, not its name's letters
        inputs = [inputs]
    inputs = [Path(path) for path in inputs]
    names = [path.name for path in inputs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"Inputs share the output names {repeated} in {output_dir}.")
    outputs = [Path(output_dir).resolve() / name for name in names]
    arguments = [
        (
            str(model_path),
            device,
            threads,
            str(source.resolve()),
            str(target),
            dict(
                timestamp_column=timestamp_column,
                chunk_rows=chunk_rows,
                explain=explain,
                explain_top=explain_top,
            ),
        )
        for source, target in zip(inputs, outputs)
    ]
    results: dict[Path, int | Exception] = {}
    if client is None:
        return {path: _outcome(*args) for path, args in zip(inputs, arguments)}
    from distributed import as_completed  # only with a cluster: Dask is an optional extra

    futures = {
        client.submit(_outcome, *args, pure=False): path for path, args in zip(inputs, arguments)
    }
    for future in as_completed(futures):
        error = future.exception()  # a worker lost, say
        results[futures[future]] = future.result() if error is None else error
    for output in outputs:  # left by attempts on workers that died
        for partial in output.parent.glob(f".{glob.escape(output.name)}.*.part"):
            partial.unlink(missing_ok=True)
    return {path: results[path] for path in inputs}


def _outcome(*args: Any) -> int | Exception:
    """:func:`_score_file`'s rows, or the error that stopped it, reported with the file's name
    while the others go on: returned, not raised, so that a worker does not log it with its
    traceback too."""
    try:
        return _score_file(*args)
    except Exception as error:  # noqa: BLE001 (one file's failure is its result)
        return error


def _score_file(
    model_path: str,
    device: str | None,
    threads: int | None,
    source: str,
    target: str,
    options: dict[str, Any],
) -> int:
    detector = _load_time_series_model(model_path, os.stat(model_path).st_mtime_ns, device)
    before = torch.get_num_threads()  # restored for whatever the process runs next
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return score_file(detector, source, target, progress=False, **options)
    finally:
        torch.set_num_threads(before)


@lru_cache(maxsize=4)
def _load_time_series_model(path: str, mtime_ns: int, device: str | None) -> TimeSeriesDetector:
    """The model at ``path``, loaded once per process (and again if the file changes)."""
    detector = load(path, device=device)
    if not isinstance(detector, TimeSeriesDetector):
        raise ValueError(f"{path} holds a {type(detector).__name__}, not a time-series model.")
    return detector
