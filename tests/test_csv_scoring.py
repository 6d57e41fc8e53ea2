"""Streamed scoring of CSV series (anomaly/csv_scoring.py); the command line is in test_cli.py."""

import numpy as np
import pandas as pd
import pytest

from anomaly import TimeSeriesDetector
from anomaly.csv_scoring import score_csv
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
    assert score_csv(detector, tmp_path / "in.csv", tmp_path / "out.csv", chunk_rows=7) == 200
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
        score_csv(detector, tmp_path / "link.csv", tmp_path / "in.csv")
    assert (tmp_path / "in.csv").read_bytes() == before
