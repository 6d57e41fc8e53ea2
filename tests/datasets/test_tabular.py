"""Dataset files, checksums, downloads and the tabular loaders (anomaly/datasets)."""

import hashlib

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
from anomaly.datasets._store import DatasetFile


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
    with pytest.raises(
        ValueError, match="Unknown dataset 'adbench/nope'; known: adbench/18_Ionosphere"
    ):
        load_adbench("nope", data_home=tmp_path)
    # Only its own collection's names, and the nearest of them.
    with pytest.raises(ValueError, match="did you mean 'adbench/4_breastw'") as err:
        load_adbench("breastw", data_home=tmp_path)
    assert "arrhythmia" not in str(err.value)  # an ODDS set


def test_an_empty_data_home_is_the_default(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_HOME_ENV, str(tmp_path))
    assert get_data_home("") == get_data_home() == tmp_path


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


# --- download and checksum logic, on a small synthetic file (no real data needed) ----------


@pytest.fixture
def synthetic(tmp_path, monkeypatch):
    """A catalogue entry "adbench/synthetic" whose upstream is a local file."""
    upstream = tmp_path / "upstream" / "synthetic.npz"
    upstream.parent.mkdir()
    X = np.arange(12.0).reshape(4, 3)
    np.savez(upstream, X=X, y=np.array([0, 0, 0, 1]))
    entry = DatasetFile(
        name="adbench/synthetic",
        path="adbench/synthetic.npz",
        sha256=hashlib.sha256(upstream.read_bytes()).hexdigest(),
        url=upstream.as_uri(),
    )
    monkeypatch.setitem(registry(), entry.name, entry)
    return entry, upstream, X, tmp_path / "home"


def test_fetch_downloads_and_verifies(synthetic):
    entry, _, X, home = synthetic
    assert fetch(entry.name, home, verbose=False) == home / entry.path
    np.testing.assert_array_equal(load_adbench("synthetic", data_home=home).data, X)


def test_load_with_download_fetches_a_missing_file(synthetic):
    _, _, X, home = synthetic
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_adbench("synthetic", data_home=home)
    np.testing.assert_array_equal(load_adbench("synthetic", data_home=home, download=True).data, X)


def test_fetch_of_a_wrong_file_leaves_nothing(synthetic):
    entry, upstream, _, home = synthetic
    upstream.write_bytes(upstream.read_bytes() + b"tampered")
    with pytest.raises(ValueError, match="The download of .* does not match its checksum"):
        fetch(entry.name, home, verbose=False)
    assert list((home / "adbench").iterdir()) == []


def test_fetch_from_a_dead_address_leaves_nothing(synthetic):
    entry, _, _, home = synthetic
    with pytest.raises(OSError):
        fetch(entry.name, home, url=(home / "missing.npz").as_uri(), verbose=False)
    assert not (home / entry.path).exists()


def test_corrupted_local_file_is_detected(synthetic):
    entry, _, _, home = synthetic
    target = fetch(entry.name, home, verbose=False)
    target.write_bytes(target.read_bytes()[:-10])  # truncated
    with pytest.raises(ValueError, match="synthetic.npz does not match the checksum"):
        dataset_path(entry.name, home)


def test_fetch_from_file_url_into_shared_datasets(shared_datasets, tmp_path):
    source = shared_datasets / "adbench" / "42_WBC.npz"
    path = fetch("adbench/42_WBC", tmp_path, url=source.as_uri(), verbose=False)
    X, _ = load_adbench("42_WBC", data_home=tmp_path, return_X_y=True)
    np.testing.assert_array_equal(X, load_adbench("42_WBC", data_home=shared_datasets).data)
    assert path.read_bytes() == source.read_bytes()


def test_a_file_converted_from_upstream_is_not_downloaded(tmp_path):
    with pytest.raises(ValueError, match="cannot be downloaded by this package"):
        fetch("smd/machine-1-6", tmp_path, verbose=False)
    with pytest.raises(FileNotFoundError, match="cannot be downloaded by this package"):
        dataset_path("smd/machine-1-6", tmp_path, download=True)
    assert not any(tmp_path.iterdir())
