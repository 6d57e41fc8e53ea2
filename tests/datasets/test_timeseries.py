"""Time-series loaders: NAB, SMD and ASD (anomaly/datasets/timeseries.py)."""

import csv
import dataclasses
import hashlib
import json
import shutil
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from anomaly.csv_reading import read_series_csv
from anomaly.datasets import (
    asd_entities,
    load_asd,
    load_interpretation,
    load_nab,
    load_smd,
    nab_series,
    registry,
    smd_machines,
)

# Anomalous test steps per file, as given in the SOURCE.md of ../shared/datasets/{smd,asd}.
SMD_TEST_ANOMALIES = {
    "machine-1-6": 3708,
    "machine-1-7": 2398,
    "machine-2-2": 2833,
    "machine-2-7": 417,
    "machine-2-8": 161,
}
ASD_TEST_ANOMALIES = {1: 441, 2: 55, 3: 146, 4: 151, 5: 74, 6: 198, 7: 87, 8: 188}


# --- catalogue entries (no data needed) --------------------------------------------------------


def test_catalogue_has_the_time_series_files():
    names = registry()
    assert sum(name.startswith("nab/") and "labels" not in name for name in names) == 58
    assert "nab/labels/combined_windows" in names
    assert smd_machines() == list(SMD_TEST_ANOMALIES)  # the 5 shared machines, sorted
    assert asd_entities() == [f"omi-{k}" for k in ASD_TEST_ANOMALIES]


def test_unknown_names(tmp_path):
    with pytest.raises(ValueError, match="Unknown NAB series 'nope'"):
        load_nab("nope", data_home=tmp_path)
    with pytest.raises(ValueError, match="Unknown SMD name 'machine-9-9'; known: machine-1-6"):
        load_smd("machine-9-9", data_home=tmp_path)
    with pytest.raises(ValueError, match="Unknown ASD name 'omi-12'"):
        load_asd("omi-12", data_home=tmp_path)


def test_missing_files_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_nab("nyc_taxi", data_home=tmp_path)
    with pytest.raises(FileNotFoundError, match="cannot be downloaded by this package"):
        load_smd("machine-1-6", data_home=tmp_path)


# --- real data from ../shared/datasets ---------------------------------------------------------


def test_nab_series_are_the_58_labelled_files(shared_datasets):
    names = nab_series(shared_datasets)
    assert len(names) == 58 == len(set(names))
    on_disk = {
        f"{p.parent.name}/{p.stem}" for p in (shared_datasets / "nab" / "data").glob("*/*.csv")
    }
    assert set(names) == on_disk
    assert len({name.split("/")[0] for name in names}) == 7


@pytest.mark.parametrize(
    "name", ["realKnownCause/nyc_taxi", "realKnownCause/machine_temperature_system_failure"]
)
def test_nab_point_labels_follow_the_windows(shared_datasets, name):
    # Independent reading: csv + json + datetime, no pandas.
    root = shared_datasets / "nab"
    with open(root / "data" / f"{name}.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    stamps = [datetime.strptime(row["timestamp"], "%Y-%m-%d %H:%M:%S") for row in rows]
    windows = json.loads((root / "labels" / "combined_windows.json").read_text())[f"{name}.csv"]
    spans = [[datetime.strptime(t, "%Y-%m-%d %H:%M:%S.%f") for t in span] for span in windows]
    expected = [int(any(start <= t <= end for start, end in spans)) for t in stamps]

    data = load_nab(name, data_home=shared_datasets)
    assert data.name == name and len(data.windows) == len(windows) > 0
    assert data.target.dtype == int and data.target.tolist() == expected
    assert 0 < data.target.sum() < len(expected)
    assert list(data.frame.columns) == ["timestamp", "value"]
    assert pd.api.types.is_datetime64_dtype(data.frame["timestamp"])
    assert list(data.frame["timestamp"]) == stamps  # file order kept, repeats included
    np.testing.assert_allclose(data.frame["value"], [float(row["value"]) for row in rows])


def test_nab_by_stem_and_without_anomalies(shared_datasets):
    taxi = load_nab("nyc_taxi.csv", data_home=shared_datasets)
    assert taxi.name == "realKnownCause/nyc_taxi" and taxi.frame.shape == (10320, 2)
    flat = load_nab("artificialNoAnomaly/art_flatline", data_home=shared_datasets)
    assert flat.windows == [] and flat.target.sum() == 0


def test_nab_file_with_repeated_timestamps_is_refused_by_the_strict_reader(shared_datasets):
    path = shared_datasets / "nab/data/realKnownCause/machine_temperature_system_failure.csv"
    with pytest.raises(ValueError, match="timestamps must be strictly increasing"):
        read_series_csv(path)


@pytest.mark.parametrize("machine", SMD_TEST_ANOMALIES)
def test_load_smd(shared_datasets, machine):
    data = load_smd(machine, data_home=shared_datasets)
    assert data.train.dtype == data.test.dtype == np.float32
    assert data.train.shape[1] == data.test.shape[1] == 38 and len(data.train) > 23000
    assert data.test_labels.shape == (len(data.test),) and data.test_labels.dtype == int
    assert data.test_labels.sum() == SMD_TEST_ANOMALIES[machine] and data.name == machine


@pytest.mark.parametrize("k", ASD_TEST_ANOMALIES)
def test_load_asd(shared_datasets, k):
    data = load_asd(f"omi-{k}", data_home=shared_datasets)
    assert data.train.shape == (8640, 19) and data.test.shape == (4320, 19)
    assert data.test_labels.shape == (4320,) and data.test_labels.dtype == int
    assert data.test_labels.sum() == ASD_TEST_ANOMALIES[k]


# --- checksums: copies of real files in a temporary data home ----------------------------------


def _copy(shared_datasets, home, relative):
    target = home / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shared_datasets / relative, target)
    return target


def test_corrupted_nab_files_are_detected(shared_datasets, tmp_path):
    series = _copy(shared_datasets, tmp_path, "nab/data/realKnownCause/nyc_taxi.csv")
    labels = _copy(shared_datasets, tmp_path, "nab/labels/combined_windows.json")
    assert load_nab("nyc_taxi", data_home=tmp_path).target.sum() > 0  # intact copies load
    series.write_text(series.read_text().replace("10844", "10845", 1))
    with pytest.raises(ValueError, match="nyc_taxi.csv does not match the checksum"):
        load_nab("nyc_taxi", data_home=tmp_path)
    labels.write_text(labels.read_text()[:-5])
    with pytest.raises(ValueError, match="combined_windows.json does not match the checksum"):
        nab_series(tmp_path)


def test_corrupted_asd_file_is_detected(shared_datasets, tmp_path):
    path = _copy(shared_datasets, tmp_path, "asd/omi-2.npz")
    assert load_asd("omi-2", data_home=tmp_path).test_labels.sum() == 55
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="omi-2.npz does not match the checksum"):
        load_asd("omi-2", data_home=tmp_path)


@pytest.mark.parametrize(("collection", "name"), [("smd", "machine-2-2"), ("asd", "omi-2")])
def test_interpretation_labels_explain_every_anomalous_step(shared_datasets, collection, name):
    series = (load_smd if collection == "smd" else load_asd)(name, data_home=shared_datasets)
    causes = load_interpretation(collection, name, data_home=shared_datasets)
    assert causes.shape == series.test.shape and causes.dtype == bool
    # SMD's ends are exclusive, ASD's inclusive: either way exactly the anomalous steps.
    np.testing.assert_array_equal(causes.any(axis=1), series.test_labels == 1)


def test_a_malformed_interpretation_line_is_named(shared_datasets, tmp_path, monkeypatch):
    (tmp_path / "asd" / "interpretation_label").mkdir(parents=True)
    (tmp_path / "asd" / "omi-2.npz").symlink_to(shared_datasets / "asd" / "omi-2.npz")
    entry = registry()["asd/interpretation_label/omi-2"]
    label = tmp_path / entry.path
    label.write_text("10-20:1,2\n30-x:3\n")
    with pytest.raises(ValueError, match="does not match the checksum"):
        load_interpretation("asd", "omi-2", data_home=tmp_path)
    digest = hashlib.sha256(label.read_bytes()).hexdigest()
    monkeypatch.setitem(registry(), entry.name, dataclasses.replace(entry, sha256=digest))
    with pytest.raises(ValueError, match=r"omi-2.txt, line 2: '30-x:3' is not start-end"):
        load_interpretation("asd", "omi-2", data_home=tmp_path)
    label.write_text("486-498:1,2\n99999-100005:3\n")  # past the test series' 4,320 steps
    digest = hashlib.sha256(label.read_bytes()).hexdigest()
    monkeypatch.setitem(registry(), entry.name, dataclasses.replace(entry, sha256=digest))
    with pytest.raises(ValueError, match="line 2: '99999-100005:3' is outside the test series"):
        load_interpretation("asd", "omi-2", data_home=tmp_path)
    with pytest.raises(ValueError, match="collection must be 'smd' or 'asd'"):
        load_interpretation("nab", "omi-2", data_home=tmp_path)
