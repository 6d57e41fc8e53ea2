"""Dataset files, checksums, downloads and the tabular loaders (anomaly/datasets)."""

import dataclasses
import shutil

import numpy as np
import pytest

from anomaly.datasets import (
    ADBENCH_DATASETS,
    DATA_HOME_ENV,
    ODDS_DATASETS,
    dataset_path,
    fetch,
    get_data_home,
    load_adbench,
    load_odds,
    registry,
)


def test_data_home_argument_then_environment_then_default(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_HOME_ENV, str(tmp_path / "env"))
    assert get_data_home(tmp_path / "arg") == tmp_path / "arg"
    assert get_data_home() == tmp_path / "env"
    monkeypatch.delenv(DATA_HOME_ENV)
    assert get_data_home().name == "anomaly_data"


def test_catalogue_lists_the_supported_sets():
    assert len(ADBENCH_DATASETS) == 15 and ADBENCH_DATASETS[0] == "2_annthyroid"
    assert "cardio" in ODDS_DATASETS and "arrhythmia" in ODDS_DATASETS
    assert all(len(entry.sha256) == 64 for entry in registry().values())
    assert all(entry.url.startswith("https://") for entry in registry().values())


def test_unknown_dataset(tmp_path):
    with pytest.raises(ValueError, match="Unknown dataset 'adbench/nope'"):
        load_adbench("nope", data_home=tmp_path)


def test_missing_file_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_adbench("4_breastw", data_home=tmp_path)


@pytest.mark.parametrize("name", ADBENCH_DATASETS)
def test_load_adbench(name, shared_datasets):
    data = load_adbench(name, data_home=shared_datasets)
    assert data.data.dtype == np.float64 and data.data.ndim == 2
    assert set(np.unique(data.target)) == {0, 1} and len(data.target) == len(data.data)


@pytest.mark.parametrize("name", ODDS_DATASETS)
def test_load_odds(name, shared_datasets):
    X, y = load_odds(name, data_home=shared_datasets, return_X_y=True)
    assert X.dtype == np.float64 and y.shape == (len(X),) and set(np.unique(y)) == {0, 1}


def test_breastw_matches_its_catalogue_entry(shared_datasets):
    X, y = load_adbench("4_breastw", data_home=shared_datasets, return_X_y=True)
    assert X.shape == (683, 9) and y.sum() == 239


def test_fetch_downloads_and_verifies(shared_datasets, tmp_path):
    source = shared_datasets / "adbench" / "42_WBC.npz"
    path = fetch("adbench/42_WBC", tmp_path, url=source.as_uri(), verbose=False)
    assert path == tmp_path / "adbench" / "42_WBC.npz"
    X, y = load_adbench("42_WBC", data_home=tmp_path, return_X_y=True)
    np.testing.assert_array_equal(X, load_adbench("42_WBC", data_home=shared_datasets).data)


def test_load_with_download_fetches_a_missing_file(shared_datasets, tmp_path, monkeypatch):
    # Point the catalogue's upstream address at the local copy.
    entry = registry()["odds/wbc"]
    local = dataclasses.replace(entry, url=(shared_datasets / entry.path).as_uri())
    monkeypatch.setitem(registry(), "odds/wbc", local)
    X, _ = load_odds("wbc", data_home=tmp_path, download=True, return_X_y=True)
    assert X.shape == (378, 30)


def test_fetch_of_a_wrong_file_leaves_nothing(shared_datasets, tmp_path):
    wrong = shared_datasets / "adbench" / "4_breastw.npz"
    with pytest.raises(ValueError, match="does not match the checksum"):
        fetch("adbench/42_WBC", tmp_path, url=wrong.as_uri(), verbose=False)
    assert list((tmp_path / "adbench").iterdir()) == []


def test_corrupted_local_file_is_detected(shared_datasets, tmp_path):
    target = tmp_path / "adbench" / "42_WBC.npz"
    target.parent.mkdir()
    shutil.copy(shared_datasets / "adbench" / "42_WBC.npz", target)
    target.write_bytes(target.read_bytes()[:-10])  # truncated
    with pytest.raises(ValueError, match="42_WBC.npz does not match the checksum"):
        dataset_path("adbench/42_WBC", tmp_path)
