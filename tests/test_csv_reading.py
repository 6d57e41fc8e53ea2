"""Reading CSV time series, whole and streamed (anomaly/csv_reading.py)."""

import numpy as np
import pandas as pd
import pytest

from anomaly.csv_reading import iter_series_csv, read_series_csv

# --- read_series_csv, on small files written here ----------------------------------------------


def _write(tmp_path, text, name="series.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_read_series_csv_finds_the_timestamp_column_and_reads_values(tmp_path):
    path = _write(tmp_path, "host,Date,cpu\n1,2024-01-01,0.5\n2,2024-01-02,7\n3,2024-01-03,-1e3\n")
    frame = read_series_csv(path)
    assert list(frame.columns) == ["Date", "host", "cpu"]
    assert pd.api.types.is_datetime64_dtype(frame["Date"])
    assert frame["Date"].iloc[2] == pd.Timestamp("2024-01-03")
    assert (frame.dtypes.iloc[1:] == np.float64).all()
    np.testing.assert_array_equal(frame["cpu"], [0.5, 7.0, -1000.0])


def test_read_series_csv_with_named_columns(tmp_path):
    path = _write(tmp_path, "when,a,b,note\n2024-01-01 00:00,1,2,x\n2024-01-01 00:05,3,4,y\n")
    frame = read_series_csv(path, timestamp_column="when", value_columns=["b", "a"])
    assert list(frame.columns) == ["when", "b", "a"]
    assert list(read_series_csv(path, timestamp_column="when", value_columns="a").columns) == [
        "when",
        "a",
    ]


def test_read_series_csv_formats_it_accepts(tmp_path):
    iso = _write(tmp_path, "time,v\n2024-01-01T00:00:00Z,1\n2024-01-01T00:00:01.5Z,2\n\n\n")
    frame = read_series_csv(iso)  # time zone kept; trailing blank lines ignored
    assert len(frame) == 2 and str(frame["time"].dt.tz) == "UTC"
    us = _write(tmp_path, "date,v\n07/04/2013 00:00,1\n07/04/2013 01:00,2\n", "us.csv")
    assert read_series_csv(us)["date"].iloc[1] == pd.Timestamp("2013-07-04 01:00")
    crlf = _write(tmp_path, "timestamp,v\r\n2024-01-01,1\r\n2024-01-02,2\r\n", "crlf.csv")
    assert read_series_csv(crlf)["v"].tolist() == [1.0, 2.0]


HEADER = "timestamp,v,w\n"
ROWS = "2024-01-01,1,2\n2024-01-02,3,4\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("timestamp,v\n", "header but no data rows"),
        ("timestamp,v\n\n\n", "header but no data rows"),
        (HEADER + ROWS + "2024-01-03,abc,6\n", r"line 4: 'abc' in 'v' is not a number"),
        (HEADER + ROWS + "2024-01-03,True,6\n", r"line 4: 'True' in 'v' is not a number"),
        (HEADER + "2024-01-01,1,\n", r"line 2: missing value in 'w'"),
        (HEADER + ROWS + "2024-01-03,NaN,6\n", r"line 4: missing value in 'v'"),
        # Refused as the streaming reader refuses it: blank, not missing.
        (HEADER + ROWS + "2024-01-03, ,6\n", r"line 4: a cell of spaces in 'v'"),
        (HEADER + "2024-01-01,1,2\n\n2024-01-03,5,6\n", r"line 3: missing value in 'timestamp'"),
        (HEADER + "2024-01-01,1,2\n2024-01-02,3\n", r"line 3: 2 fields, where the header has 3"),
        (HEADER + ROWS + "2024-01-03,inf,6\n", r"line 4: 'inf' in 'v' is not finite"),
        (
            HEADER + ROWS + "yesterday,5,6\n",
            r"line 4: 'yesterday' in 'timestamp' is not a timestamp",
        ),
        (HEADER + ROWS + ",5,6\n", r"line 4: missing value in 'timestamp'"),
        ("time,v\n1400000000,1\n", r"line 2: '1400000000' in 'time' is not a timestamp"),
        (HEADER + ROWS + "2024-01-02,5,6\n", r"line 4: timestamp 2024-01-02 00:00:00 repeats"),
        (HEADER + ROWS + "2023-12-31,5,6\n", r"line 4: .* is earlier than the one on line 3"),
        ("v,w\n1,2\n", r"no column named timestamp / datetime / time / date"),
        (HEADER + "2024-01-01,1,2,3\n", r"line 2: 4 fields, where the header has 3"),
        ("timestamp,v,v\n2024-01-01,1,2\n", r"repeats the column name\(s\) \['v'\]"),
        (HEADER + ROWS + "2024-01-03,1,2,3\n", "not a well-formed CSV file"),
        ("time,v,\n2024-01-01,1,\n", r"column 3 of the header has no name"),
        (",time,v\n0,2024-01-01,1\n", r"column 1 of the header has no name.*index=False"),
        (
            "time,v\n2024-01-01T00:00,1\n2024-01-01T03:00+02:00,2\n",
            "cannot be read as timestamps",  # with and without an offset: which time is meant?
        ),
    ],
)
def test_read_series_csv_rejects_malformed_files(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(ValueError, match=message) as error:
        read_series_csv(path)
    assert str(path) in str(error.value)


def test_unnamed_columns_left_unread_are_no_matter(tmp_path):
    # A DataFrame's index written by to_csv: read when value columns are chosen, and streamed.
    path = _write(tmp_path, ",time,v\n0,2024-01-01,1\n1,2024-01-02,2\n")
    assert read_series_csv(path, value_columns=["v"])["v"].tolist() == [1, 2]
    streamed = list(iter_series_csv(path, ["v"], timestamp_column="time"))
    assert [v.tolist() for _, v in streamed] == [[[1], [2]]]


def test_offsets_that_change_are_read_in_utc_whole_and_in_chunks(tmp_path):
    # A change to daylight saving time: +01:00, then +02:00, an hour apart in UTC.
    path = _write(tmp_path, "time,v\n2024-03-31T01:30:00+01:00,1\n2024-03-31T03:30:00+02:00,2\n")
    whole = read_series_csv(path)
    assert whole["time"].diff().iloc[1] == pd.Timedelta(hours=1)
    assert [v.tolist() for _, v in iter_series_csv(path, ["v"], chunk_rows=1)] == [[[1]], [[2]]]
    assert len(list(iter_series_csv(path, ["v"]))) == 1
    backwards = _write(
        tmp_path, "time,v\n2024-03-31T03:30:00+01:00,1\n2024-03-31T03:00:00+02:00,2\n"
    )
    for chunk_rows in (None, 1):
        with pytest.raises(ValueError, match="line 3: .* is earlier than the one on line 2"):
            list(iter_series_csv(backwards, ["v"], chunk_rows=chunk_rows))


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (dict(timestamp_column="when"), "has no column 'when'"),
        (dict(value_columns=["v", "x"]), "has no column 'x'"),
        (dict(value_columns=["timestamp", "v"]), "other than the timestamp column"),
        (dict(value_columns=[]), "one or more columns"),
    ],
)
def test_read_series_csv_rejects_bad_column_choices(tmp_path, columns, message):
    with pytest.raises(ValueError, match=message):
        read_series_csv(_write(tmp_path, HEADER + ROWS), **columns)


def test_read_series_csv_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_series_csv(tmp_path / "nope.csv")


# --- iter_series_csv ---


def test_iter_series_csv_streams_what_read_series_csv_reads(tmp_path):

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=3000),
            "stamp": pd.date_range("2024-01-01", periods=3000, freq="s").astype(str),
            "b": rng.normal(size=3000),
        }
    )
    frame.to_csv(tmp_path / "series.csv", index=False)
    chunks = list(iter_series_csv(tmp_path / "series.csv", ["b", "a"], block_bytes=4096))
    assert len(chunks) > 5  # small blocks: many chunks
    stamps = pd.concat([t.to_pandas() for t, _ in chunks])["stamp"].to_numpy()
    values = np.concatenate([v for _, v in chunks])
    whole = read_series_csv(
        tmp_path / "series.csv", timestamp_column="stamp", value_columns=["b", "a"]
    )
    np.testing.assert_array_equal(values, whole[["b", "a"]].to_numpy())
    np.testing.assert_array_equal(stamps, frame["stamp"].to_numpy())


@pytest.mark.parametrize("block_bytes", [16, 4096])
def test_iter_series_csv_reads_what_read_series_csv_reads_at_the_edges(tmp_path, block_bytes):
    # A byte-order mark, CRLF line ends and blank lines at the end: both readers agree.

    text = "\ufefftime,v\r\n2024-01-01,1\r\n2024-01-02,2\r\n2024-01-03,3\r\n\r\n\r\n"
    path = tmp_path / "edges.csv"
    path.write_bytes(text.encode())
    whole = read_series_csv(path)
    assert list(whole.columns) == ["time", "v"]
    chunks = list(iter_series_csv(path, ["v"], block_bytes=block_bytes))
    assert [t.column_names for t, _ in chunks] == [["time"]] * len(chunks)
    np.testing.assert_array_equal(np.concatenate([v for _, v in chunks])[:, 0], whole["v"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("time,v,v\n2024-01-01,1,2\n", r"repeats the column name\(s\) \['v'\]"),
        ("time,v\n2024-01-01,1,2\n", r"line 2: 3 fields, where the header has 2"),
        ("time,v\n\n2024-01-01,1\n", r"line 2: missing value"),  # blank, but not at the end
        ("time,v\n\n\n", "header but no data rows"),
        # The first bad row is named, not the blank lines after it, which are no rows.
        ("time,v\n2024-01-01,abc\n2024-01-02,2\n\n", r"line 2: 'abc' in 'v' is not a number"),
        ("time,v\r2024-01-01,1\r2024-01-02,2\r", r"lone carriage return"),
    ],
)
def test_iter_series_csv_rejects_malformed_files(tmp_path, text, message):

    path = tmp_path / "series.csv"
    path.write_bytes(text.encode())
    with pytest.raises(ValueError, match=message):
        list(iter_series_csv(path, ["v"]))


def test_a_binary_file_is_not_text(tmp_path):

    path = tmp_path / "program.csv"
    path.write_bytes(b"\x7fELF\x02\x01\r\x00\x00\x95\xff\n")
    for read in (read_series_csv, lambda path: list(iter_series_csv(path, ["v"]))):
        with pytest.raises(ValueError, match="is not UTF-8 text"):
            read(path)


def test_iter_series_csv_checks_chunk_rows(tmp_path):

    with pytest.raises(ValueError, match="chunk_rows must be at least 1, got 0"):
        list(iter_series_csv(_write(tmp_path, HEADER + ROWS), ["v"], chunk_rows=0))


@pytest.mark.parametrize("where", ["header", "values"])
def test_both_readers_refuse_text_that_is_not_utf8(tmp_path, where):

    text = "time,v\n2024-01-01,1\n2024-01-02,2\n"
    text = text.replace("v", "\xe9") if where == "header" else text.replace(",2\n", ",2\xe9\n")
    path = tmp_path / "latin1.csv"
    path.write_bytes(text.encode("latin-1"))
    column = "\xe9" if where == "header" else "v"
    with pytest.raises(ValueError, match=r"(not UTF-8 text|not a well-formed CSV)"):
        read_series_csv(path)
    with pytest.raises(ValueError, match=f"{path} is not UTF-8 text"):
        list(iter_series_csv(path, [column]))


def test_missing_values_can_be_let_in_as_nan(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("time,cpu,memory\n2024-01-01,0.5,\n2024-01-02,NA,3\n2024-01-03,x,4\n")
    with pytest.raises(ValueError, match="line 3: missing value in 'cpu'"):
        read_series_csv(path)
    # Missing values become NaN; a value that is not a number is still refused, by its line.
    with pytest.raises(ValueError, match="line 4: 'x' in 'cpu' is not a number"):
        read_series_csv(path, allow_missing=True)
    with pytest.raises(ValueError, match="line 4: 'x' in 'cpu' is not a number"):
        list(iter_series_csv(path, ["cpu", "memory"], allow_missing=True))
    path.write_text("time,cpu,memory\n2024-01-01,0.5,\n2024-01-02,NA,3\n2024-01-03,1,4\n")
    frame = read_series_csv(path, allow_missing=True)
    np.testing.assert_array_equal(frame[["cpu", "memory"]], [[0.5, np.nan], [np.nan, 3], [1, 4]])
    streamed = np.concatenate(
        [v for _, v in iter_series_csv(path, ["cpu", "memory"], chunk_rows=1, allow_missing=True)]
    )
    np.testing.assert_array_equal(streamed, frame[["cpu", "memory"]])
    with pytest.raises(ValueError, match="line 3: missing value in 'cpu'"):
        list(iter_series_csv(path, ["cpu", "memory"]))
    # pandas' missing-value markers, pyarrow's or not, in both readers.
    path.write_text("time,cpu\n2024-01-01,None\n2024-01-02,<NA>\n2024-01-03,1\n")
    assert np.isnan(read_series_csv(path, allow_missing=True)["cpu"].iloc[:2]).all()
    streamed = np.concatenate([v for _, v in iter_series_csv(path, ["cpu"], allow_missing=True)])
    np.testing.assert_array_equal(streamed[:, 0], [np.nan, np.nan, 1])


@pytest.mark.parametrize("allow_missing", [False, True])
def test_a_row_short_of_fields_is_a_damaged_line_for_both_readers(tmp_path, allow_missing):
    # pandas would read the fields it lacks as missing values, pyarrow refuses the row: a model
    # fitted on the file would then fail to score it. An empty cell is a missing value.
    path = _write(tmp_path, "time,v,w\n2024-01-01,1,2\n2024-01-02,3\n2024-01-03,4,\n")
    message = "line 3: 2 fields, where the header has 3 .a missing value is an empty cell"
    with pytest.raises(ValueError, match=message):
        read_series_csv(path, allow_missing=allow_missing)
    with pytest.raises(ValueError, match=message):
        list(iter_series_csv(path, ["v", "w"], allow_missing=allow_missing))
    path.write_text("time,v,w\n2024-01-01,1,2\n2024-01-02,3,\n\n")
    assert read_series_csv(path, allow_missing=True)["w"].isna().tolist() == [False, True]
    # The first problem is named: a value before the short row, then the row before a later one.
    path.write_text("time,v,w\n2024-01-01,x,2\n2024-01-02,3\n2024-01-03,y,4\n")
    for read in (read_series_csv, lambda p, **k: list(iter_series_csv(p, ["v", "w"], **k))):
        with pytest.raises(ValueError, match="line 2: 'x' in 'v' is not a number"):
            read(path, allow_missing=allow_missing)
    path.write_text("time,v,w\n2024-01-01,1,2\n2024-01-02,3\n2024-01-03,y,4\n")
    for read in (read_series_csv, lambda p, **k: list(iter_series_csv(p, ["v", "w"], **k))):
        with pytest.raises(ValueError, match="line 3: 2 fields"):
            read(path, allow_missing=allow_missing)


def test_a_long_text_cell_left_unread_is_no_matter(tmp_path):
    # Beyond the csv module's default field size (131,072 characters), in a column not read.
    path = _write(tmp_path, f"time,v,note\n2024-01-01,1,{'a' * 140_000}\n2024-01-02,2,\n")
    assert read_series_csv(path, value_columns=["v"])["v"].tolist() == [1, 2]


def test_chunks_read_by_either_parser_order_together(tmp_path):
    # Unpadded hours ("0:00") fall back from pyarrow's ISO parser to pandas', whose
    # microseconds used to be compared with the nanoseconds of a chunk pyarrow read.
    times = pd.date_range("2024-01-01", periods=48, freq="h")
    rows = [f"{t:%Y-%m-%d} {t.hour}:00,{i}\n" for i, t in enumerate(times)]
    path = _write(tmp_path, "time,v\n" + "".join(rows))
    for chunk_rows in (None, 8, 5):
        assert sum(len(v) for _, v in iter_series_csv(path, ["v"], chunk_rows=chunk_rows)) == 48
    # A step back at a chunk's edge is found whichever parser read each side.
    rows[8] = "2023-12-31 10:00,8\n"
    back = _write(tmp_path, "time,v\n" + "".join(rows))
    for chunk_rows in (None, 8):
        with pytest.raises(ValueError, match="line 10: .* is earlier than the one on line 9"):
            list(iter_series_csv(back, ["v"], chunk_rows=chunk_rows))


def test_times_with_and_without_an_offset_are_refused_across_chunks_too(tmp_path):
    mixed = _write(tmp_path, "time,v\n2024-01-01T00:00Z,1\n2024-01-01T00:01,2\n")
    with pytest.raises(ValueError, match="line 3: times with and without a UTC offset"):
        list(iter_series_csv(mixed, ["v"], chunk_rows=1))
    # The same instant in another offset, at a chunk's edge, repeats it.
    again = _write(tmp_path, "time,v\n2024-01-01T00:01:00Z,1\n2024-01-01T01:01:00+01:00,2\n")
    with pytest.raises(ValueError, match="line 3: timestamp .* repeats the one on line 2"):
        list(iter_series_csv(again, ["v"], chunk_rows=1))


def test_padded_nan_is_missing_in_both_readers(tmp_path):
    path = _write(tmp_path, "time,v\n2024-01-01, nan\n2024-01-02,NaN \n2024-01-03,1\n")
    assert read_series_csv(path, allow_missing=True)["v"].isna().tolist() == [True, True, False]
    streamed = np.concatenate([v for _, v in iter_series_csv(path, ["v"], allow_missing=True)])
    np.testing.assert_array_equal(streamed[:, 0], [np.nan, np.nan, 1])


def test_times_beyond_nanoseconds_are_refused_when_streamed_naming_their_lines(tmp_path):
    path = _write(tmp_path, "time,v\n2300-01-01 0:00,1\n2300-01-01 1:00,2\n")
    with pytest.raises(ValueError, match="lines 2-3: timestamps outside the years 1678-2261"):
        list(iter_series_csv(path, ["v"]))
