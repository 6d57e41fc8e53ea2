"""Reading time series from CSV files: a timestamp column and numeric value columns.

:func:`read_series_csv` reads a whole file into a DataFrame (``anomaly fit``);
:func:`iter_series_csv` streams a file larger than memory in blocks
(``anomaly score``). Both check the file as they read it and name the line
and column of the first problem.
"""

from __future__ import annotations

import csv
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.tseries.api import guess_datetime_format
from pyarrow import csv as pa_csv

__all__ = ["TIMESTAMP_NAMES", "iter_series_csv", "read_series_csv"]

TIMESTAMP_NAMES = ("timestamp", "datetime", "time", "date")


def read_series_csv(
    path: str | os.PathLike,
    *,
    timestamp_column: str | None = None,
    value_columns: str | Sequence[str] | None = None,
    ordered: bool = True,
    allow_missing: bool = False,
) -> pd.DataFrame:
    """Read a CSV file of one timestamp column and numeric value columns.

    Parameters
    ----------
    path : str or path-like
        A CSV file with a header row.
    timestamp_column : str, optional
        The column of timestamps; by default the first column whose lower-cased name is one of
        ``timestamp``, ``datetime``, ``time`` or ``date``.
    value_columns : str or sequence of str, optional
        The value columns, in the order wanted; by default every other column.
    ordered : bool, default=True
        Refuse timestamps that repeat or go back in time; with False, keep the rows in file order
        whatever their timestamps (some published series, such as NAB's, repeat a few).
    allow_missing : bool, default=False
        Read missing values (empty cells and pandas' NA markers) as NaN instead of refusing them,
        for a model that takes them (e.g. ``VAEDetector(missing="marginalize")``); timestamps stay
        required.

    Returns
    -------
    frame : pandas.DataFrame
        The timestamp column (``datetime64``; time-zone aware if the file gives one offset)
        followed by the value columns (float64), one row per data row of the file, in file order.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file is empty or holds a header only; if no timestamp column is found or a named
        column is missing; if a value is not a number, is missing or is infinite; if a timestamp
        cannot be parsed or is missing; or if timestamps repeat or go back in time.

    Notes
    -----
    Errors name the file, the column and the *line* of the file where the first problem is,
    counting the header as line 1: the first data row is line 2, as a spreadsheet or a text editor
    numbers it. Blank lines inside the data count as rows with missing values (blank lines at the
    end are ignored), so line numbers stay exact unless a quoted field spans lines. The file must
    be UTF-8 text (a byte-order mark is allowed) with lines ended by ``\\n`` or ``\\r\\n``, and no
    column name may repeat.

    Timestamps must be strictly increasing: the file is refused if a timestamp repeats or is
    earlier than the one before, because detectors map their scores to time order, and sorting or
    de-duplicating silently would change which value a score belongs to. Fix the file, or read it
    with :func:`pandas.read_csv` and decide yourself. ISO 8601 timestamps (``2014-02-19 10:50:00``,
    ``2014-02-19T10:50:00Z``, dates alone) are read as such; other formats are inferred by pandas
    from the first value and must be used throughout; plain numbers (such as Unix seconds) are
    refused, convert them first. Missing values are refused too (fill or drop them first, or pass
    ``allow_missing``): empty cells and pandas' NA markers (``NA``, ``NaN``, ``null``, ...) count
    as missing; a cell of spaces alone is refused (leave it empty), and so is a row with fewer
    fields than the header (a damaged line, not missing values).

    Examples
    --------
    >>> import tempfile
    >>> path = tempfile.mkdtemp() + "/cpu.csv"
    >>> with open(path, "w") as f:
    ...     _ = f.write("time,cpu,memory\\n2024-01-01 00:00,0.5,10\\n2024-01-01 00:05,0.7,12\\n")
    >>> read_series_csv(path)
                     time  cpu  memory
    0 2024-01-01 00:00:00  0.5    10.0
    1 2024-01-01 00:05:00  0.7    12.0
    """
    if isinstance(value_columns, str):
        value_columns = [value_columns]
    return _read_series(
        path, timestamp_column, value_columns, ordered=ordered, allow_missing=allow_missing
    )


def iter_series_csv(
    path: str | os.PathLike,
    value_columns: Sequence[str],
    *,
    timestamp_column: str | None = None,
    chunk_rows: int | None = None,
    block_bytes: int = 1 << 24,
    allow_missing: bool = False,
) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """Read a large CSV of a timestamp column and ``value_columns`` in chunks.

    The streaming counterpart of :func:`read_series_csv`, with the same rules (see its Notes) and
    error messages, for files larger than memory: blocks of about ``block_bytes`` of whole lines
    are parsed by pyarrow one at a time, so only one is in memory. Quoted fields must not span
    lines. Without ``timestamp_column``, the file must hold exactly ``value_columns`` and one more
    column, the timestamps, in any order, so that a file with a column too many is refused; with
    it, other columns are left unread.

    Parameters
    ----------
    path : str or path-like
        A CSV file with a header row.
    value_columns : sequence of str
        The numeric columns, in the order wanted (e.g. a model's ``feature_names_in_``).
    timestamp_column : str, optional
        The column of timestamps; by default the one column besides ``value_columns``.
    chunk_rows : int, optional
        Cut blocks into chunks of at most this many rows.
    block_bytes : int, default=16 MiB
        Bytes read and parsed at a time (rounded up to a whole line).
    allow_missing : bool, default=False
        Yield missing values as NaN instead of refusing them (see
        :func:`read_series_csv`).

    Yields
    ------
    timestamps : pyarrow.Table
        One column, named as in the file: the timestamps as written there.
    values : ndarray of shape (n_rows, len(value_columns))
        The values, float64.

    Raises
    ------
    ValueError
        On the first malformed row, naming its line and column: the file is checked as it is read,
        so rows before it have been yielded. Blank lines are refused as rows of missing values,
        except at the end of the file, where empty lines and rows of empty cells are no rows (as
        for :func:`read_series_csv`). A header that repeats a name, a file that is not UTF-8 and
        lines ended by a lone carriage return are refused. The timestamps' format is fixed by the
        first chunk (ISO 8601, else inferred from its first value) for the file.

    Examples
    --------
    >>> import tempfile
    >>> path = tempfile.mkdtemp() + "/cpu.csv"
    >>> with open(path, "w") as f:
    ...     _ = f.write("time,cpu\\n2024-01-01 00:00,0.5\\n2024-01-01 00:05,0.7\\n")
    >>> [(t.to_pydict(), v.tolist()) for t, v in iter_series_csv(path, ["cpu"])]
    [({'time': ['2024-01-01 00:00', '2024-01-01 00:05']}, [[0.5], [0.7]])]
    """
    path = Path(path)
    value_columns = list(value_columns)
    if chunk_rows is not None and chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}.")
    header, timestamp_column = _stream_columns(path, value_columns, timestamp_column)
    options = pa_csv.ConvertOptions(
        column_types={timestamp_column: pa.string(), **dict.fromkeys(value_columns, pa.float64())},
        include_columns=[timestamp_column, *value_columns],
        # Missing values as pandas reads them in read_series_csv: pyarrow lacks these two.
        null_values=[*pa_csv.ConvertOptions().null_values, "None", "<NA>"],
    )
    read_options = pa_csv.ReadOptions(column_names=header)
    # Blank lines are rows (of missing values) as in read_series_csv, so line numbers hold.
    parse_options = pa_csv.ParseOptions(ignore_empty_lines=False)
    first_row, previous = 0, None  # rows read so far; the last timestamp read, offset or not
    held, time_format = 0, None  # empty rows since the last with a value; the first chunk's format
    with open(path, "rb") as handle:
        # Blank lines at the end are no rows, as for read_series_csv: reading stops before them.
        end = _content_end(handle)
        handle.readline()  # the header, read above
        # Blocks read here: pyarrow's own streaming reads ahead without bound of a slow consumer.
        while block := _next_block(handle, block_bytes, end):
            try:
                table = pa_csv.read_csv(
                    pa.py_buffer(block),
                    read_options=read_options,
                    parse_options=parse_options,
                    convert_options=options,
                ).combine_chunks()
            except pa.ArrowInvalid as err:
                # pyarrow's message lacks the file's line: find it (this raises).
                _diagnose(path, timestamp_column, value_columns, allow_missing)
                raise ValueError(f"{path} is not a well-formed CSV file ({err}).") from err
            for start in range(0, table.num_rows, chunk_rows or max(table.num_rows, 1)):
                piece = table.slice(start, chunk_rows)
                stamps = piece.column(timestamp_column)
                values = np.column_stack([piece.column(c).to_numpy() for c in value_columns])
                # Rows of empty cells are counted, not kept: at the end they are no rows.
                written = pc.not_equal(stamps, "").fill_null(False).to_numpy()
                filled = np.flatnonzero(written | ~np.isnan(values).all(axis=1))
                if held and len(filled):
                    _diagnose(path, timestamp_column, value_columns, allow_missing)  # raises
                    raise ValueError(f"{path}, line {_line(first_row)}: a row of empty cells.")
                kept = int(filled[-1]) + 1 if len(filled) else 0
                held += piece.num_rows - kept
                if not kept:
                    continue
                piece, stamps, values = piece.slice(0, kept), stamps.slice(0, kept), values[:kept]
                previous, time_format = _check_stream_chunk(
                    path,
                    timestamp_column,
                    value_columns,
                    stamps,
                    values,
                    first_row,
                    previous,
                    time_format,
                    allow_missing,
                )
                first_row += piece.num_rows
                yield piece.select([timestamp_column]), values
    if first_row == 0:
        raise ValueError(f"{path} has a header but no data rows.")


def _next_block(handle: BinaryIO, block_bytes: int, end: int) -> bytes:
    """About ``block_bytes`` of whole lines before byte ``end`` (quoted fields must not span
    lines)."""
    block = handle.read(max(0, min(block_bytes, end - handle.tell())))
    if block and not block.endswith(b"\n"):
        block += handle.readline()
    return block


def _content_end(handle: BinaryIO) -> int:
    """The offset just after the last byte that is not a line break; the position is kept."""
    position = handle.tell()
    end = handle.seek(0, os.SEEK_END)
    while end:
        start = max(0, end - 4096)
        handle.seek(start)
        tail = handle.read(end - start).rstrip(b"\r\n")
        if tail:
            end = start + len(tail)
            break
        end = start
    handle.seek(position)
    return end


def _stream_columns(
    path: Path, value_columns: list[str], timestamp_column: str | None
) -> tuple[list[str], str]:
    """The header and the timestamp column of a streamed file, after checking them."""
    if not path.is_file():
        raise FileNotFoundError(f"No CSV file at {path}.")
    header = _header(path)
    return header, series_timestamp_column(path, header, value_columns, timestamp_column)


def series_timestamp_column(
    path: Path, names: list[str], value_columns: list[str], timestamp_column: str | None
) -> str:
    """The timestamp column of a series file with columns ``names``, after checking them:
    every value column present, and the timestamps named or the one other column."""
    missing = [c for c in value_columns if c not in names]
    if missing:
        raise ValueError(f"{path} lacks the value column(s) {missing} (columns: {names}).")
    if timestamp_column is not None:
        if timestamp_column not in names:
            raise ValueError(f"{path} has no column {timestamp_column!r} (columns: {names}).")
        if timestamp_column in value_columns:
            raise ValueError(f"{timestamp_column!r} is a value column, not the timestamps.")
        return timestamp_column
    others = [c for c in names if c not in value_columns]
    if len(others) != 1:
        raise ValueError(
            f"{path} must hold the value columns {value_columns} and one timestamp column; "
            f"the other columns are {others} (name the timestamp column to leave the others "
            "unread)."
        )
    return others[0]


def _header(path: Path) -> list[str]:
    """The column names of a CSV file, checked: there are some, and none repeats."""
    with open(path, "rb") as handle:
        line = handle.readline(1 << 20)  # bounded: a file of lone \r has no \n to stop at
    try:
        # utf-8-sig: a byte-order mark is not part of the first column's name (pandas agrees).
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError as err:  # e.g. another encoding, or not text at all
        raise ValueError(f"{path} is not UTF-8 text ({err}).") from err
    if "\r" in text.rstrip("\r\n"):
        raise ValueError(
            f"{path} ends its lines with a lone carriage return (\\r): convert them to \\n or "
            "\\r\\n."
        )
    header = next(csv.reader([text]), None)
    if not header:
        raise ValueError(f"{path} is empty: expected a header row and data rows.")
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise ValueError(f"{path} repeats the column name(s) {repeated} in its header.")
    return header


def _check_stream_chunk(
    path: Path,
    timestamp_column: str,
    value_columns: list[str],
    stamps: pa.Array,
    values: np.ndarray,
    first_row: int,
    previous: tuple[int, bool] | None,
    time_format: str | None,
    allow_missing: bool,
) -> tuple[tuple[int, bool], str]:
    """Missing (unless ``allow_missing``) or infinite values, timestamps out of order and,
    against the chunk before, with and without a UTC offset. Returns the last timestamp (ns)
    and whether it has an offset, and the timestamps' format, for the next chunk."""
    bad_values = np.isinf(values).any() if allow_missing else not np.isfinite(values).all()
    if stamps.null_count or bad_values:
        _diagnose(path, timestamp_column, value_columns, allow_missing)  # raises, naming the line
        raise ValueError(
            f"{path}, lines {_line(first_row)}-{_line(first_row + len(stamps) - 1)}: missing "
            "or non-finite values."
        )
    times, time_format = _parse_times(path, timestamp_column, stamps, first_row, time_format)
    aware = times.type.tz is not None
    if previous is not None and aware != previous[1]:
        # Each chunk is parsed alone: mixed within one, they are refused when it is parsed.
        raise ValueError(
            f"{path}, line {_line(first_row)}: times with and without a UTC offset, mixed "
            "(this line's and the line before's)."
        )
    ticks = np.asarray(pc.cast(times, pa.int64()))
    ticks_before = np.r_[ticks[0] - 1 if previous is None else previous[0], ticks[:-1]]
    bad = np.flatnonzero(ticks <= ticks_before)
    if len(bad):
        row = int(bad[0])
        before = times[row - 1].as_py() if row else pd.Timestamp(previous[0], tz=times.type.tz)
        line = _line(first_row + row)
        _order_error(path, pd.Timestamp(times[row].as_py()), pd.Timestamp(before), line)
    return (int(ticks[-1]), aware), time_format


def _parse_times(
    path: Path, column: str, stamps: pa.Array, first_row: int, time_format: str | None
) -> tuple[pa.Array, str]:
    """Timestamps of one chunk in the format the first chunk fixed (see _timestamps)."""
    if time_format in (None, "ISO8601"):
        try:  # the fast path: plain ISO 8601, parsed by pyarrow
            return pc.cast(pc.utf8_trim_whitespace(stamps), pa.timestamp("ns")), "ISO8601"
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass  # an offset ("Z", "+01:00"), a bad value, or another format: pandas decides
    index = pd.RangeIndex(first_row, first_row + len(stamps))
    raw = pd.Series(stamps.to_pylist(), index=index, name=column, dtype=object)
    parsed, time_format = _timestamps(raw, path, time_format)
    try:  # in ns, as pyarrow's path: pandas' microseconds would not order with its ticks
        return pa.array(parsed.dt.as_unit("ns")), time_format
    except pd.errors.OutOfBoundsDatetime:
        raise ValueError(
            f"{path}, lines {_line(first_row)}-{_line(first_row + len(stamps) - 1)}: timestamps "
            "outside the years 1678-2261, which a streamed file's nanosecond times cannot hold."
        ) from None


def _diagnose(
    path: Path, timestamp_column: str, value_columns: list[str], allow_missing: bool
) -> None:
    """Find the first malformed row of ``path`` with pandas, chunk by chunk, and raise."""
    try:
        fields = _fields_error(path)  # raised once the rows before it are checked
        if fields is not None and fields[0] == 0:  # pandas takes a long first row for an index
            raise ValueError(fields[1])
        chunks = pd.read_csv(path, dtype=str, skip_blank_lines=False, chunksize=1 << 16)
        time_format = None  # fixed by the first chunk, as when streaming
        # Blank rows at a chunk's end wait for the next: at the file's end they are no rows.
        blank_tail = None
        for raw in chunks:
            if blank_tail is not None:
                raw = pd.concat([blank_tail, raw])
            raw = raw if fields is None else raw[raw.index < fields[0]]
            last = _last_nonblank(raw)
            raw, blank_tail = raw.iloc[: last + 1], raw.iloc[last + 1 :]
            if not raw.empty:
                _, time_format = _timestamps(raw[timestamp_column], path, time_format)
                for column in value_columns:
                    _numbers(raw[column], path, allow_missing)
    except pd.errors.ParserError as err:
        raise ValueError(f"{path} is not a well-formed CSV file ({err}).") from err
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not UTF-8 text ({err}).") from err
    if fields is not None:
        raise ValueError(fields[1])


def _read_series(
    path: str | os.PathLike,
    timestamp_column: str | None,
    value_columns: Sequence[str] | None,
    *,
    ordered: bool,
    allow_missing: bool,
) -> pd.DataFrame:
    """The work of :func:`read_series_csv`; ``ordered=False`` accepts repeats and steps back."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No CSV file at {path}.")
    try:
        header = _header(path)  # pandas would rename a repeated name rather than refuse it
        raw = pd.read_csv(path, dtype=str, keep_default_na=True, skip_blank_lines=False)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path} is empty: expected a header row and data rows.") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not a well-formed CSV file ({err}).") from err
    suspect = raw.iloc[:, -1].isna().any() or not isinstance(raw.index, pd.RangeIndex)
    fields = _fields_error(path) if suspect else None  # raised once the rows before are read
    raw = raw if fields is None else raw.iloc[: fields[0]]
    raw = raw.iloc[: _last_nonblank(raw) + 1]
    if raw.empty:
        raise ValueError(fields[1] if fields else f"{path} has a header but no data rows.")

    columns = [str(column) for column in raw.columns]
    if timestamp_column is None:
        timestamp_column = next((c for c in columns if c.strip().lower() in TIMESTAMP_NAMES), None)
        if timestamp_column is None:
            raise ValueError(
                f"{path} has no column named {' / '.join(TIMESTAMP_NAMES)} (columns: "
                f"{columns}); pass timestamp_column."
            )
    if value_columns is None:
        value_columns = [c for c in columns if c != timestamp_column]
    value_columns = list(value_columns)
    for column in [timestamp_column, *value_columns]:
        if column not in columns:
            raise ValueError(f"{path} has no column {column!r} (columns: {columns}).")
    if not value_columns or timestamp_column in value_columns:
        raise ValueError(
            f"{path}: value columns {value_columns} must be one or more columns other than "
            f"the timestamp column {timestamp_column!r}."
        )
    # pandas names an unnamed column "Unnamed: N", which the streaming reader (scoring) would
    # not find: a column read must have a name.
    read = {timestamp_column, *value_columns}
    unnamed = [number for number, name in enumerate(header) if not name and columns[number] in read]
    if unnamed:
        raise ValueError(
            f"{path}: column {unnamed[0] + 1} of the header has no name (a DataFrame's index "
            "written by to_csv has none, and so has a comma ending each line): name it, write "
            "the file with index=False, or choose the value columns."
        )

    frame = pd.DataFrame({timestamp_column: _timestamps(raw[timestamp_column], path)[0]})
    for column in value_columns:
        frame[column] = _numbers(raw[column], path, allow_missing)
    if ordered:
        _check_order(frame[timestamp_column], path)
    if fields is not None:
        raise ValueError(fields[1])
    return frame


def to_datetime(text: pd.Series, time_format: str) -> pd.Series:
    """Timestamps, NaT where not of ``time_format``; offsets that change (e.g. to daylight
    saving time) in UTC, as the Parquet reader takes them, so that a file reads the same
    whole or in chunks of one offset each. Times with and without an offset, mixed, are
    refused (a ValueError)."""
    try:
        with warnings.catch_warnings():
            # pandas 2 warns of offsets that differ (and gives objects) where pandas 3 refuses.
            warnings.simplefilter("error", FutureWarning)
            return pd.to_datetime(text, format=time_format, errors="coerce")
    except (ValueError, FutureWarning) as err:
        if not text.dropna().str.contains(r"(?:Z|[+-]\d\d:?\d\d)$").all():
            raise ValueError(f"times with and without a UTC offset, mixed ({err})") from None
        return pd.to_datetime(text, format=time_format, errors="coerce", utc=True)


def _fields_error(path: Path) -> tuple[int, str] | None:
    """The first row (0-based) with more or fewer fields than the header, and its error: pandas
    takes a long first row's extra fields for an index, a short row's lacking ones for NaN."""
    limit = csv.field_size_limit(2**31 - 1)  # a long text cell is no error
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = csv.reader(handle)
            header = len(next(rows))
            for row, fields in enumerate(rows):
                if len(fields) not in (0, header):  # a blank line: a row of missing values
                    return row, (
                        f"{path}, line {rows.line_num}: {len(fields)} fields, where the header "
                        f"has {header} (a missing value is an empty cell)."
                    )
    except csv.Error as err:
        raise ValueError(f"{path} is not a well-formed CSV file ({err}).") from err
    finally:
        csv.field_size_limit(limit)


def _last_nonblank(raw: pd.DataFrame) -> int:
    filled = np.flatnonzero(raw.notna().any(axis=1).to_numpy())
    return int(filled[-1]) if len(filled) else -1


def _line(row: int) -> int:
    """File line of a 0-based data row (the index of a row read by pandas): the header is line 1."""
    return row + 2


def _first(mask: pd.Series) -> int:
    return int(np.flatnonzero(mask.to_numpy())[0])


def _check_missing(raw: pd.Series, path: Path, missing: pd.Series | None = None) -> None:
    """Refuse ``raw``'s first missing value (by default: NA or blank), naming its line."""
    missing = raw.isna() | (raw.str.strip() == "") if missing is None else missing
    if missing.any():
        line = _line(raw.index[_first(missing)])
        raise ValueError(f"{path}, line {line}: missing value in {raw.name!r}.")


def _numbers(raw: pd.Series, path: Path, allow_missing: bool = False) -> pd.Series:
    """The numbers of a column; missing values refused, or NaN with ``allow_missing``. As the
    streaming reader (pyarrow) reads them: a cell of spaces refused, " nan" missing."""
    text = raw.str.strip()
    spaces = raw.notna() & (text == "")
    if spaces.any():
        raise ValueError(
            f"{path}, line {_line(raw.index[_first(spaces)])}: a cell of spaces in "
            f"{raw.name!r}; leave it empty for a missing value."
        )
    missing = raw.isna() | text.str.fullmatch(r"[+-]?nan", case=False, na=False)
    if not allow_missing:
        _check_missing(raw, path, missing)
    values = pd.to_numeric(text, errors="coerce").astype(np.float64)
    for bad, what in ((values.isna() & ~missing, "a number"), (np.isinf(values), "finite")):
        if bad.any():
            row = _first(bad)
            raise ValueError(
                f"{path}, line {_line(raw.index[row])}: {raw.iloc[row]!r} in {raw.name!r} is "
                f"not {what}."
            )
    return values


def _timestamps(
    raw: pd.Series, path: Path, time_format: str | None = None
) -> tuple[pd.Series, str]:
    """Timestamps of ``raw`` in ``time_format``; with None, in ISO 8601 or the format pandas
    infers from the first value, whichever reads more of the values. Returns the timestamps and
    the format, so that the chunks of a streamed file are all read in the format of the first."""
    _check_missing(raw, path)
    text = raw.str.strip()
    try:
        if time_format is None:
            time_format = "ISO8601"
            guessed = guess_datetime_format(text.iloc[0])
            if guessed is not None:
                iso = to_datetime(text, "ISO8601").isna().sum()
                inferred = to_datetime(text, guessed).isna().sum()
                time_format = guessed if inferred < iso else "ISO8601"
        stamps = to_datetime(text, time_format)
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"{path}: column {raw.name!r} cannot be read as timestamps ({err})."
        ) from err
    bad = stamps.isna()
    if bad.any():
        row = _first(bad)
        raise ValueError(
            f"{path}, line {_line(raw.index[row])}: {raw.iloc[row]!r} in {raw.name!r} is not a "
            f"timestamp (of the file's format, {time_format})."
        )
    return stamps, time_format


def _check_order(stamps: pd.Series, path: Path) -> None:
    steps = stamps.diff().iloc[1:]
    bad = steps <= pd.Timedelta(0)
    if bad.any():
        row = _first(bad) + 1
        _order_error(path, stamps.iloc[row], stamps.iloc[row - 1], _line(stamps.index[row]))


def _order_error(path: Path, stamp: object, previous: object, line: int) -> None:
    problem = "repeats" if stamp == previous else "is earlier than"
    raise ValueError(
        f"{path}, line {line}: timestamp {stamp} {problem} the one on line {line - 1}; "
        "timestamps must be strictly increasing (sort or de-duplicate the file first)."
    )
