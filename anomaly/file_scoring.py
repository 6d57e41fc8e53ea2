"""Scoring CSV and Parquet time series too large for memory with a fitted TimeSeriesDetector."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import csv as pa_csv
from sklearn.utils import get_tags
from tqdm.auto import tqdm

from anomaly._atomic import atomic_write, check_not_same_file
from anomaly.csv_reading import iter_series_csv
from anomaly.parquet_reading import iter_series_parquet
from anomaly.timeseries import TimeSeriesDetector

__all__ = ["score_file"]


def score_file(
    detector: TimeSeriesDetector,
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    *,
    timestamp_column: str | None = None,
    chunk_rows: int | None = None,
    explain: bool = False,
    explain_top: int | None = None,
    progress: bool | None = None,
) -> int:
    """Score a CSV or Parquet series block by block and write one row of results per input row.

    The input holds the detector's value columns (its ``feature_names_in_``)
    and one timestamp column (other columns too, if ``timestamp_column``
    names it), under the rules of :func:`anomaly.csv_reading.iter_series_csv`
    (a ``.parquet`` file: :func:`anomaly.parquet_reading.iter_series_parquet`).
    The output, Parquet for a ``.parquet`` path and CSV otherwise, has the
    timestamp as written in the input, ``anomaly_score``
    (minus ``score_samples``: the higher, the more abnormal, as the metrics
    take it; equal to scoring the whole series in memory) and ``label`` (-1
    anomaly, 1 normal, as ``predict``). Empty cells are read as missing
    values where the model takes them (``VAEDetector(missing="marginalize")``),
    and refused otherwise. It is written to a temporary file
    renamed at the end: a failure leaves no output file. An output that is
    the input file (also through a link) is refused before a row is read.

    Parameters
    ----------
    detector : TimeSeriesDetector
        Fitted on a DataFrame, so that it knows its columns' names.
    input_path, output_path : str or path-like
        The files to read and to write, CSV or Parquet by the suffix ``.parquet``.
    timestamp_column : str, optional
        The input's timestamp column; by default the one column besides the
        detector's, and a file with more columns is refused.
    chunk_rows : int, optional
        Rows scored at a time (default: a pyarrow block, 16 MiB of text).
    explain : bool, default=False
        Add one column per variable, ``score_<variable>``: its share of the
        step's abnormality (:meth:`~anomaly.TimeSeriesDetector.feature_scores`;
        the higher, the more abnormal).
    explain_top : int, optional
        Add columns ``top_1`` ... ``top_<explain_top>``: the names of the
        variables of highest feature scores at each step, highest first
        (missing values last).
    progress : bool, optional
        Show a progress bar; by default only on a terminal.

    Returns
    -------
    n_rows : int
        Rows scored.
    """
    check_not_same_file(input_path, output_path)
    names = getattr(detector, "feature_names_in_", None)
    if names is None:
        raise ValueError(
            "The detector was fitted without column names: fit it on a DataFrame (as "
            "`anomaly fit` does) so that the CSV's columns can be matched."
        )
    reader = iter_series_parquet if _is_parquet(input_path) else iter_series_csv
    chunks = reader(
        input_path,
        [str(n) for n in names],
        timestamp_column=timestamp_column,
        chunk_rows=chunk_rows,
        # Empty cells where the model takes missing values (scikit-learn's allow_nan tag).
        allow_missing=get_tags(detector).input_tags.allow_nan,
    )
    if explain_top is not None and not 1 <= explain_top <= len(names):
        raise ValueError(f"explain_top must be from 1 to {len(names)}, got {explain_top}.")
    with_feature_scores = explain or explain_top is not None
    # score_stream holds back a chunk and a window of steps, so their timestamps wait in a queue
    # (with, to rank the variables, which values are missing: their feature scores are 0).
    pending: list[pa.Table] = []

    def values() -> Iterator[pd.DataFrame]:
        for stamps, rows in chunks:
            if explain_top is not None:
                missing = pa.FixedSizeListArray.from_arrays(np.isnan(rows).ravel(), len(names))
                stamps = stamps.append_column("missing", missing)
            pending.append(stamps)
            yield pd.DataFrame(rows, columns=names, copy=False)

    bar = tqdm(
        desc=f"scoring {Path(input_path).name}",
        unit=" rows",
        unit_scale=True,
        disable=None if progress is None else not progress,
    )
    n_rows = 0
    with atomic_write(output_path) as handle, bar:
        writer = None
        for scored in detector.score_stream(values(), with_feature_scores=with_feature_scores):
            scores, feature_scores = scored if with_feature_scores else (scored, None)
            labels = np.where(scores - detector.offset_ < 0, -1, 1).astype(np.int8)
            # Minus score_samples: the output takes "higher = more abnormal", as metrics do.
            taken = _take(pending, len(scores))
            table = taken.select([0]).append_column("anomaly_score", pa.array(-scores))
            table = table.append_column("label", pa.array(labels))
            if explain:
                for name, column in zip(names, feature_scores.T):
                    table = table.append_column(f"score_{name}", pa.array(column))
            if explain_top is not None:
                # A missing value ranks last, whatever its share (observed values'
                # log-probabilities can fall below it), and is named by no rank: an empty
                # cell. Stable on ties: the first variable comes first.
                missing = taken.column(1).combine_chunks().flatten().to_numpy(zero_copy_only=False)
                missing = missing.reshape(-1, len(names))
                ranked = np.where(missing, -np.inf, feature_scores)
                order = np.argsort(-ranked, axis=1, kind="stable")[:, :explain_top]
                steps = np.arange(len(order))
                for rank, column in enumerate(order.T, start=1):
                    named = np.where(missing[steps, column], None, np.asarray(names)[column])
                    table = table.append_column(f"top_{rank}", pa.array(named, type=pa.string()))
            if writer is None:
                _check_distinct(table.column_names)
                writer = (
                    pq.ParquetWriter(handle, table.schema)
                    if _is_parquet(output_path)
                    else pa_csv.CSVWriter(handle, table.schema)
                )
            writer.write_table(table)
            n_rows += len(scores)
            bar.update(len(scores))
        writer.close()
    return n_rows


def _check_distinct(columns: list[str]) -> None:
    """Refuse an output whose timestamp column (the input's) is named as a column the scores
    add: a CSV reader would take one for the other, and Parquet readers refuse the file."""
    if columns[0] in columns[1:]:
        raise ValueError(
            f"The timestamp column is named {columns[0]!r}, as an output column is: rename it "
            "in the input."
        )


def _is_parquet(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() == ".parquet"


def _take(pending: list[pa.Table], n: int) -> pa.Table:
    """The first ``n`` queued timestamp rows, removed from the queue."""
    taken: list[pa.Table] = []
    while n:
        head = pending[0]
        if len(head) <= n:
            taken.append(pending.pop(0))
            n -= len(head)
        else:
            taken.append(head.slice(0, n))
            pending[0] = head.slice(n)
            n = 0
    return pa.concat_tables(taken)
