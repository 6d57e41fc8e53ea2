"""Streamed scoring of CSV and Parquet series (anomaly/file_scoring.py); the command line is in
test_cli.py."""

import numpy as np
import pandas as pd
import pytest

from anomaly import TimeSeriesDetector, VAEDetector
from anomaly.file_scoring import score_file
from anomaly.parquet_reading import iter_series_parquet
from tests.conftest import fast_vae


@pytest.fixture(scope="module")
def fitted_and_series():
    t = np.arange(200)
    series = pd.DataFrame({"cpu": np.sin(t / 5), "memory": np.cos(t / 11)})
    detector = TimeSeriesDetector(fast_vae(epochs=2), window_size=8, stride=2).fit(series)
    frame = series.assign(time=pd.date_range("2024-01-01", periods=len(t), freq="min"))
    return detector, frame[["time", "cpu", "memory"]]


def test_scores_are_anomaly_scores_equal_to_in_memory_scoring(fitted_and_series, tmp_path):
    detector, frame = fitted_and_series
    frame.to_csv(tmp_path / "in.csv", index=False)
    assert score_file(detector, tmp_path / "in.csv", tmp_path / "out.csv", chunk_rows=7) == 200
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out.columns) == ["time", "anomaly_score", "label"]
    values = frame[["cpu", "memory"]]
    np.testing.assert_array_equal(out["anomaly_score"], -detector.score_samples(values))
    np.testing.assert_array_equal(out["label"], detector.predict(values))


def test_the_input_is_never_the_output(fitted_and_series, tmp_path):
    detector, frame = fitted_and_series
    frame.to_csv(tmp_path / "in.csv", index=False)
    (tmp_path / "link.csv").symlink_to(tmp_path / "in.csv")
    before = (tmp_path / "in.csv").read_bytes()
    with pytest.raises(ValueError, match="is the input file"):
        score_file(detector, tmp_path / "link.csv", tmp_path / "in.csv")
    assert (tmp_path / "in.csv").read_bytes() == before


@pytest.mark.parametrize("output", ["out.parquet", "out.csv"])
def test_parquet_in_and_out_equal_csv(fitted_and_series, tmp_path, output):
    detector, frame = fitted_and_series
    frame.to_parquet(tmp_path / "in.parquet", row_group_size=64)
    frame.to_csv(tmp_path / "in.csv", index=False)
    assert score_file(detector, tmp_path / "in.parquet", tmp_path / output, chunk_rows=30) == 200
    assert score_file(detector, tmp_path / "in.csv", tmp_path / "csv.csv") == 200
    read = pd.read_parquet if output.endswith(".parquet") else pd.read_csv
    out, csv = read(tmp_path / output), pd.read_csv(tmp_path / "csv.csv")
    np.testing.assert_array_equal(out["anomaly_score"], csv["anomaly_score"])
    np.testing.assert_array_equal(out["label"], csv["label"])
    if output.endswith(".parquet"):  # the timestamps keep their type
        pd.testing.assert_series_equal(out["time"], frame["time"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.assign(cpu=f["cpu"].where(f.index != 150)), "row 151: 'cpu' is missing"),
        (lambda f: f.assign(time=f["time"].where(f.index != 99, f["time"][98])), "row 100: time"),
        (lambda f: f.assign(extra=1.0), "the other columns are"),
        (lambda f: f.assign(cpu=f["cpu"].astype(str)), "not numbers"),
    ],
)
def test_parquet_rules_are_the_csv_rules(fitted_and_series, tmp_path, change, message):
    detector, frame = fitted_and_series
    change(frame).to_parquet(tmp_path / "in.parquet", row_group_size=64)
    with pytest.raises(ValueError, match=message):
        score_file(detector, tmp_path / "in.parquet", tmp_path / "out.csv", chunk_rows=30)
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize(
    "stamps",
    [
        pd.date_range("2024-01-01", periods=200, freq="D").date,  # date32
        pd.date_range("2024-01-01", periods=200, freq="h", tz="Europe/Paris"),
        pd.date_range("2024-01-01", periods=200, freq="h", tz="UTC").strftime("%Y-%m-%dT%H:%M%z"),
    ],
)
def test_parquet_timestamps_of_other_types(fitted_and_series, tmp_path, stamps):
    detector, frame = fitted_and_series
    frame.assign(time=stamps).to_parquet(tmp_path / "in.parquet")
    assert score_file(detector, tmp_path / "in.parquet", tmp_path / "out.csv") == 200


@pytest.mark.parametrize("output", ["out.parquet", "out.csv"])
def test_parquet_categorical_columns_read_as_their_values(fitted_and_series, tmp_path, output):
    # pandas writes a categorical column dictionary-encoded.
    detector, frame = fitted_and_series
    text = frame.assign(time=frame["time"].dt.strftime("%Y-%m-%dT%H:%M"))
    text.to_parquet(tmp_path / "plain.parquet")
    text.astype({"time": "category", "cpu": "category"}).to_parquet(tmp_path / "coded.parquet")
    for name in ("plain", "coded"):
        score_file(detector, tmp_path / f"{name}.parquet", tmp_path / f"{name}_{output}")
    read = pd.read_parquet if output.endswith(".parquet") else pd.read_csv
    plain, coded = read(tmp_path / f"plain_{output}"), read(tmp_path / f"coded_{output}")
    np.testing.assert_array_equal(coded["anomaly_score"], plain["anomaly_score"])
    assert list(coded["time"].astype(str)) == list(plain["time"].astype(str))


def test_parquet_refuses_a_value_column_as_the_timestamps(fitted_and_series, tmp_path):
    detector, frame = fitted_and_series
    frame.to_parquet(tmp_path / "in.parquet")
    with pytest.raises(ValueError, match="'cpu' is a value column"):
        score_file(detector, tmp_path / "in.parquet", tmp_path / "o.csv", timestamp_column="cpu")


def test_a_truncated_parquet_file_is_named_and_leaves_no_output(fitted_and_series, tmp_path):
    detector, frame = fitted_and_series
    frame.to_parquet(tmp_path / "in.parquet")
    data = (tmp_path / "in.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.parquet is not a readable Parquet file"):
        score_file(detector, tmp_path / "cut.parquet", tmp_path / "out.csv")
    assert list(tmp_path.glob("out*")) == [] and list(tmp_path.glob(".out*")) == []


def test_a_corrupt_page_is_named_by_its_file(fitted_and_series, tmp_path):
    # The footer reads, a data page does not: pyarrow's error names no file.
    detector, frame = fitted_and_series
    frame.to_parquet(tmp_path / "in.parquet", compression="snappy")
    data = bytearray((tmp_path / "in.parquet").read_bytes())
    data[len(data) // 4 : len(data) // 2] = bytes(
        b ^ 0x5A for b in data[len(data) // 4 : len(data) // 2]
    )
    (tmp_path / "bad.parquet").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="bad.parquet is not a readable Parquet file"):
        score_file(detector, tmp_path / "bad.parquet", tmp_path / "out.csv")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_model_that_takes_missing_values_scores_files_with_gaps(tmp_path, suffix):
    t = np.arange(200)
    series = pd.DataFrame({"cpu": np.sin(t / 5), "memory": np.cos(t / 11)})
    series.loc[[5, 90, 91], "cpu"] = np.nan
    detector = TimeSeriesDetector(fast_vae(epochs=2, missing="marginalize"), window_size=8)
    detector.fit(series)
    frame = series.assign(time=pd.date_range("2024-01-01", periods=len(t), freq="min"))
    path = tmp_path / f"in{suffix}"
    if suffix == ".csv":
        frame[["time", "cpu", "memory"]].to_csv(path, index=False)
    else:
        frame[["time", "cpu", "memory"]].to_parquet(path, row_group_size=64)
    assert score_file(detector, path, tmp_path / "out.csv", chunk_rows=30) == 200
    out = pd.read_csv(tmp_path / "out.csv")
    np.testing.assert_array_equal(out["anomaly_score"], -detector.score_samples(series))


def test_a_missing_value_ranks_last_among_the_top_variables(tmp_path):
    # Under the log-probability rule observed values' shares fall below 0, a missing
    # value's share is 0: ranked by the scores alone, the missing variable would come first.
    rng = np.random.default_rng(0)
    t = np.arange(300)[:, None]
    series = pd.DataFrame(np.sin(t / 5 + np.arange(3)) + 0.02 * rng.normal(size=(300, 3)))
    series.columns = ["a", "b", "c"]
    rule = dict(missing="marginalize", scoring_rule="reconstruction_probability")
    detector = TimeSeriesDetector(VAEDetector(epochs=30, random_state=0, **rule), window_size=8)
    detector.set_params(step_scoring="both").fit(series)
    gappy = series.copy()
    gappy.iloc[150, 1] = np.nan
    assert detector.feature_scores(gappy).iloc[150].idxmax() == "b"
    stamps = pd.date_range("2024-01-01", periods=300, freq="min")
    gappy.assign(time=stamps)[["time", "a", "b", "c"]].to_csv(tmp_path / "in.csv", index=False)
    score_file(detector, tmp_path / "in.csv", tmp_path / "out.csv", explain_top=3, chunk_rows=7)
    top = pd.read_csv(tmp_path / "out.csv")[["top_1", "top_2", "top_3"]]
    # Ranked last and named by no rank: an empty cell (the observed two in their order).
    assert sorted(top.iloc[150].tolist()[:2]) == ["a", "c"] and pd.isna(top.iloc[150, 2])
    assert top.drop(index=150).notna().all().all()
    # Elsewhere the order of the scores.
    complete = series.assign(time=stamps)[["time", "a", "b", "c"]]
    complete.to_csv(tmp_path / "complete.csv", index=False)
    score_file(detector, tmp_path / "complete.csv", tmp_path / "ranked.csv", explain_top=1)
    expected = detector.feature_scores(series).idxmax(axis=1)
    assert (pd.read_csv(tmp_path / "ranked.csv")["top_1"] == expected).all()


def test_parquet_text_timestamps_order_across_chunks_whatever_their_precision(tmp_path):
    # One value with nanoseconds: pandas reads that chunk in ns and the others in us.
    stamps = [f"2024-01-01T00:00:{second:02d}" for second in range(6)]
    stamps[2] = "2024-01-01T00:00:02.000000001"
    path = tmp_path / "series.parquet"
    pd.DataFrame({"time": stamps, "a": np.arange(6.0)}).to_parquet(path)
    for chunk_rows in (None, 3):
        assert sum(len(v) for _, v in iter_series_parquet(path, ["a"], chunk_rows=chunk_rows)) == 6
