"""Reading a large Parquet time series in chunks, with the rules of the CSV reader."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from anomaly.csv_reading import series_timestamp_column

__all__ = ["iter_series_parquet"]

# Rows per chunk when none is asked for: bounded memory whatever the file's row groups.
_BATCH_ROWS = 1 << 17


def iter_series_parquet(
    path: str | os.PathLike,
    value_columns: Sequence[str],
    *,
    timestamp_column: str | None = None,
    chunk_rows: int | None = None,
    allow_missing: bool = False,
) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """Read a Parquet file of a timestamp column and ``value_columns`` in chunks.

    The Parquet counterpart of :func:`anomaly.csv_reading.iter_series_csv`,
    with its rules: without ``timestamp_column`` the file holds exactly
    ``value_columns`` and one more column, the timestamps; values are numbers,
    none missing; timestamps (a time, date or number type, or ISO 8601 text)
    strictly increase. The first row that breaks a rule stops the reading
    with its row number (1 for the first row).

    Parameters
    ----------
    path : str or path-like
        A Parquet file.
    value_columns : sequence of str
        The numeric columns, in the order wanted.
    timestamp_column : str, optional
        The column of timestamps; by default the one column besides ``value_columns``.
    chunk_rows : int, optional
        Rows per chunk (default: 131,072).
    allow_missing : bool, default=False
        Yield missing values (nulls, NaN) as NaN instead of refusing them.

    Yields
    ------
    timestamps : pyarrow.Table
        One column, as stored in the file.
    values : ndarray of shape (n_rows, len(value_columns))
        The values, float64.

    Examples
    --------
    >>> import tempfile
    >>> import pandas as pd
    >>> path = tempfile.mkdtemp() + "/cpu.parquet"
    >>> pd.DataFrame({"time": pd.date_range("2024", periods=2, freq="5min"),
    ...               "cpu": [0.5, 0.7]}).to_parquet(path)
    >>> [v.tolist() for _, v in iter_series_parquet(path, ["cpu"])]
    [[[0.5], [0.7]]]
    """
    path = Path(path)
    value_columns = list(value_columns)
    if chunk_rows is not None and chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}.")
    if not path.is_file():
        raise FileNotFoundError(f"No Parquet file at {path}.")
    try:
        file = pq.ParquetFile(path)
    except pa.ArrowInvalid as err:  # pyarrow's message does not name the file
        raise ValueError(f"{path} is not a readable Parquet file ({err}).") from err
    timestamp_column = series_timestamp_column(
        path, file.schema_arrow.names, value_columns, timestamp_column
    )
    first_row, previous = 0, None
    batches = file.iter_batches(
        batch_size=chunk_rows or _BATCH_ROWS, columns=[timestamp_column, *value_columns]
    )
    for batch in _naming(path, batches):
        if batch.num_rows == 0:
            continue
        values = np.column_stack(
            [
                _numbers(path, _decoded(batch.column(name)), name, first_row, allow_missing)
                for name in value_columns
            ]
        )
        times = _times(path, _decoded(batch.column(timestamp_column)), timestamp_column, first_row)
        joined = times if previous is None else np.r_[previous, times]
        increasing = np.diff(joined) > 0
        if not increasing.all():
            row = first_row + int(np.argmin(increasing)) + (1 if previous is None else 0)
            raise ValueError(
                f"{path}, row {row + 1}: timestamps in {timestamp_column!r} must strictly increase."
            )
        previous = times[-1]
        first_row += batch.num_rows
        yield pa.Table.from_batches([batch.select([timestamp_column])]), values
    if first_row == 0:
        raise ValueError(f"{path} has no rows.")


def _naming(path: Path, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The batches; an error reading one (e.g. a corrupt page) names the file, which
    pyarrow's message does not."""
    try:
        yield from batches
    except (pa.ArrowException, OSError) as err:
        raise ValueError(f"{path} is not a readable Parquet file ({err}).") from err


def _decoded(column: pa.Array) -> pa.Array:
    """A dictionary-encoded column (a pandas categorical written by ``to_parquet``) as
    its values."""
    return column.dictionary_decode() if pa.types.is_dictionary(column.type) else column


def _numbers(
    path: Path, column: pa.Array, name: str, first_row: int, allow_missing: bool
) -> np.ndarray:
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        raise ValueError(f"{path}: column {name!r} holds {column.type}, not numbers.")
    values = column.to_numpy(zero_copy_only=False).astype(np.float64)
    bad = np.isinf(values) if allow_missing else ~np.isfinite(values)
    if bad.any():
        raise ValueError(
            f"{path}, row {first_row + int(np.argmax(bad)) + 1}: {name!r} is missing or not finite."
        )
    return values


def _times(path: Path, column: pa.Array, name: str, first_row: int) -> np.ndarray:
    """The timestamps as numbers that order as they do."""
    if column.null_count:
        row = first_row + int(np.argmax(column.is_null().to_numpy(zero_copy_only=False))) + 1
        raise ValueError(f"{path}, row {row}: {name!r} is missing.")
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        try:  # in UTC, so that times with and without an offset order together
            stamps = pd.to_datetime(column.to_pandas(), format="ISO8601", utc=True)
        except ValueError as err:
            raise ValueError(f"{path}: {name!r} holds text that is not ISO 8601 ({err}).") from err
        # In ns whatever unit pandas parsed to, so that the chunks' numbers order together.
        try:
            return stamps.dt.as_unit("ns").astype("int64").to_numpy()
        except pd.errors.OutOfBoundsDatetime:
            raise ValueError(
                f"{path}, rows {first_row + 1}-{first_row + len(column)}: {name!r} holds times "
                "outside the years 1678-2261, which nanosecond times cannot hold."
            ) from None
    if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        return column.to_numpy(zero_copy_only=False).astype("datetime64[ns]").astype(np.int64)
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        return column.to_numpy(zero_copy_only=False)
    raise ValueError(f"{path}: column {name!r} holds {column.type}, not timestamps.")
