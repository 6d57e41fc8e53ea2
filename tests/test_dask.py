"""anomaly.dask: scores over Dask collections on a LocalCluster of 2 worker processes equal the
scores in memory, to the bit."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
import torch
from distributed import Client, LocalCluster

from anomaly import GANDetector, TimeSeriesDetector, VAEDetector, batch_scoring
from anomaly import dask as anomaly_dask
from anomaly.batch_scoring import score_files
from anomaly.cli import main
from anomaly.dask import connect
from tests.conftest import clear_anomalies, fast_gan, fast_vae

METHODS = ["score_samples", "decision_function", "predict"]


@pytest.fixture(scope="module")
def client():
    with connect("local", n_workers=2) as client:
        yield client


def _series(n_steps: int = 400, seed: int = 0) -> np.ndarray:
    steps = np.arange(n_steps)[:, None]
    noise = np.random.default_rng(seed).normal(scale=0.05, size=(n_steps, 3))
    return np.sin(steps / (4 + np.arange(3))) + noise


@pytest.mark.parametrize("method", METHODS)
def test_rows_over_unequal_blocks_equal_scores_in_memory(client, method):
    X, _ = clear_anomalies()
    detector = fast_vae().fit(X)
    lazy = getattr(anomaly_dask, method)(detector, da.from_array(X, chunks=((1, 200, 19, 200), 6)))
    assert isinstance(lazy, da.Array)
    assert np.array_equal(lazy.compute(), getattr(detector, method)(X))


def test_rows_of_a_dataframe_keep_its_index(client):
    X, _ = clear_anomalies()
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(6)], index=np.arange(len(X)) * 10)
    detector = fast_gan().fit(frame)
    lazy = anomaly_dask.score_samples(detector, dd.from_pandas(frame, npartitions=3))
    scores = lazy.compute()
    pd.testing.assert_index_equal(scores.index, frame.index)
    assert np.array_equal(scores.to_numpy(), detector.score_samples(frame))


def test_images_cut_along_any_axis_are_scored_whole(client):
    images = np.random.default_rng(0).random((40, 1, 10, 10)).astype(np.float32)
    detector = fast_vae(epochs=1).fit(images)
    lazy = anomaly_dask.score_samples(detector, da.from_array(images, chunks=(7, 1, 5, 10)))
    assert np.array_equal(lazy.compute(), detector.score_samples(images))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("stride", [1, 5])
def test_series_over_partitions_equals_the_whole_series(client, method, stride):
    # Partitions shorter than the window, of one step, and one as long as the rest together.
    series = _series()
    detector = TimeSeriesDetector(fast_vae(epochs=2), window_size=16, stride=stride).fit(series)
    chunks = ((3, 150, 0, 7, 1, 200, 39), 3)
    lazy = getattr(anomaly_dask, method)(detector, da.from_array(series, chunks=chunks))
    assert lazy.chunks[0] == chunks[0]
    assert np.array_equal(lazy.compute(), getattr(detector, method)(series))


def test_series_of_a_dataframe_by_its_columns(client):
    frame = pd.DataFrame(_series(), columns=["cpu", "memory", "disk"])
    detector = TimeSeriesDetector(
        GANDetector(hidden_sizes=(16,), latent_dim=2, epochs=2, random_state=0), window_size=16
    ).fit(frame)
    lazy = anomaly_dask.score_samples(detector, dd.from_pandas(frame, npartitions=9))
    assert np.array_equal(lazy.compute().to_numpy(), detector.score_samples(frame))


def test_series_of_parquet_files_equals_the_whole_series(client, tmp_path):
    # Small files, which dask's optimiser may merge: values and index must stay together.
    frame = pd.DataFrame(_series(), columns=["cpu", "memory", "disk"])
    detector = TimeSeriesDetector(fast_vae(epochs=1), window_size=16).fit(frame)
    expected = detector.score_samples(frame)
    frame.iloc[:150].to_parquet(tmp_path / "a.parquet")
    frame.iloc[150:].to_parquet(tmp_path / "b.parquet")
    lazy = anomaly_dask.score_samples(detector, dd.read_parquet(tmp_path))
    scores = lazy.compute()
    assert np.array_equal(scores.to_numpy(), expected)
    assert scores.index.equals(frame.index)
    folder = tmp_path / "from_dask"
    dd.from_pandas(frame, npartitions=3).to_parquet(folder)
    lazy = anomaly_dask.score_samples(detector, dd.read_parquet(folder))
    assert np.array_equal(lazy.compute().to_numpy(), expected)


def test_series_with_nullable_columns_and_missing_values(client):
    frame = pd.DataFrame(_series(), columns=["cpu", "memory", "disk"]).astype("Float64")
    frame.iloc[[40, 41, 200], 1] = pd.NA
    detector = TimeSeriesDetector(fast_vae(epochs=1, missing="marginalize"), window_size=16)
    detector.fit(frame)
    lazy = anomaly_dask.score_samples(detector, dd.from_pandas(frame, npartitions=3))
    assert np.array_equal(lazy.compute().to_numpy(), detector.score_samples(frame))


def test_the_detector_is_one_task_of_the_graph():
    X, _ = clear_anomalies()
    detector = fast_vae().fit(X)
    lazy = anomaly_dask.score_samples(detector, da.from_array(X, chunks=50))
    graph = dict(lazy.__dask_graph__())
    holding = [key for key, task in graph.items() if any(v is detector for v in _values(task))]
    assert len(holding) == 1


def _values(task) -> list:
    """The plain values a task of the graph holds (a Task's arguments, or the value itself)."""
    return [getattr(arg, "value", arg) for arg in getattr(task, "args", ())] + [
        getattr(task, "value", task)
    ]


def test_series_errors_are_clear():
    detector = TimeSeriesDetector(VAEDetector(epochs=1, random_state=0), window_size=16)
    detector.fit(_series())
    with pytest.raises(ValueError, match="2-D series"):
        anomaly_dask.score_samples(detector, da.zeros((100, 3, 2)))
    with pytest.raises(ValueError, match="window"):
        anomaly_dask.score_samples(detector, da.zeros((10, 3)))
    # A gap a window long is named by its step in the whole series, not in its partition.
    gappy = _series()
    gappy[150:166] = np.nan
    detector.set_params(detector=VAEDetector(epochs=1, random_state=0, missing="marginalize"))
    detector.fit(_series())
    with pytest.raises(ValueError, match="from step 150:"):
        anomaly_dask.score_samples(detector, da.from_array(gappy, chunks=(50, 3))).compute()


def _write_series(path: Path, n_steps: int, seed: int) -> None:
    frame = pd.DataFrame(_series(n_steps, seed), columns=["cpu", "memory", "disk"])
    frame.insert(0, "time", pd.date_range("2024-01-01", periods=n_steps, freq="s").astype(str))
    frame.to_csv(path, index=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A model file and four series files to score with it."""
    folder = tmp_path_factory.mktemp("files")
    training = pd.DataFrame(_series(), columns=["cpu", "memory", "disk"])
    model = folder / "model.safetensors"
    TimeSeriesDetector(fast_vae(epochs=2), window_size=16).fit(training).save(model)
    inputs = []
    for seed, n_steps in enumerate([20_000, 3_000, 16, 25_000]):
        inputs.append(folder / f"machine-{seed}.csv")
        _write_series(inputs[-1], n_steps, seed)
    expected = folder / "expected"
    expected.mkdir()
    assert score_files(model, inputs, expected) == dict(zip(inputs, [20_000, 3_000, 16, 25_000]))
    return model, inputs, expected


def _same_outputs(inputs: list[Path], folder: Path, expected: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in inputs)
    for path in inputs:
        assert (folder / path.name).read_bytes() == (expected / path.name).read_bytes()


def test_files_on_a_cluster_equal_files_scored_here(client, files, tmp_path):
    model, inputs, expected = files
    results = score_files(model, inputs, tmp_path, client=client)
    assert list(results) == inputs and all(isinstance(n, int) for n in results.values())
    _same_outputs(inputs, tmp_path, expected)


def test_a_bad_file_fails_alone(client, files, tmp_path):
    model, inputs, expected = files
    bad = tmp_path / "in" / "broken.csv"
    bad.parent.mkdir()
    bad.write_text("time,cpu,memory,disk\n2024-01-01,1,2,3\n2024-01-02,1,oops,3\n")
    out = tmp_path / "out"
    out.mkdir()
    results = score_files(model, [*inputs, bad], out, client=client)
    assert isinstance(results[bad], ValueError) and "line 3" in str(results[bad])
    _same_outputs(inputs, out, expected)


def test_one_input_path_is_one_file(files, tmp_path):
    model, inputs, expected = files
    for one in (inputs[2], str(inputs[2])):  # not the letters of its name
        assert score_files(model, one, tmp_path) == {inputs[2]: 16}
    _same_outputs(inputs[2:3], tmp_path, expected)


def test_a_killed_worker_loses_and_duplicates_nothing(files, tmp_path):
    model, inputs, expected = files
    with connect("local", n_workers=2) as client:
        killed = threading.Event()

        def kill_a_worker_mid_file() -> None:
            # Once a file is being written, kill the process of a worker writing one.
            deadline = time.monotonic() + 60
            while not list(tmp_path.glob(".*.part")) and time.monotonic() < deadline:
                time.sleep(0.01)
            pids = client.run(os.getpid)
            busy = [address for address, keys in client.processing().items() if keys]
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed.set()

        killer = threading.Thread(target=kill_a_worker_mid_file)
        killer.start()
        results = score_files(model, inputs, tmp_path, client=client)
        killer.join()
    assert killed.is_set()
    assert all(isinstance(n, int) for n in results.values()), results
    _same_outputs(inputs, tmp_path, expected)  # no partial file left either


def test_threads_apply_to_each_file_wherever_it_is_scored(files, tmp_path, monkeypatch):
    model, inputs, _ = files
    # Each "scoring" returns the thread count it ran with; a cluster of threads sees the patch
    # (on a cluster of processes, `threads` travels as a task argument like the paths).
    monkeypatch.setattr(batch_scoring, "score_file", lambda *a, **k: torch.get_num_threads())
    before = torch.get_num_threads()
    with (
        LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        for where in (None, client):
            results = score_files(model, inputs, tmp_path, client=where, threads=before + 1)
            assert set(results.values()) == {before + 1}
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads must be at least 1"):
        score_files(model, inputs, tmp_path, threads=0)


def test_the_command_line_scores_on_a_running_scheduler(client, files, tmp_path, capsys):
    model, inputs, expected = files
    argv = ["score", str(model), *map(str, inputs), "--output-dir", str(tmp_path)]
    assert main([*argv, "--scheduler", client.scheduler.address]) == 0
    assert "scored 48016 rows of 4 file(s)" in capsys.readouterr().out
    _same_outputs(inputs, tmp_path, expected)


def test_dask_ml_parallel_post_fit_predicts_as_in_memory(client):
    # Checked with dask-ml 2025.1.0; skipped where dask-ml is not installed (not a dependency).
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, _ = clear_anomalies()
    detector = fast_vae().fit(X)
    lazy = wrappers.ParallelPostFit(detector).predict(da.from_array(X, chunks=(100, 6)))
    assert np.array_equal(lazy.compute(), detector.predict(X))


def test_empty_partitions_are_kept_empty(client):
    X, _ = clear_anomalies()
    detector = fast_vae().fit(X)
    lazy = anomaly_dask.score_samples(detector, da.from_array(X, chunks=((0, 200, 0, 220), 6)))
    assert lazy.chunks[0] == (0, 200, 0, 220)
    assert np.array_equal(lazy.compute(), detector.score_samples(X))
    frame = pd.DataFrame(_series(), columns=["cpu", "memory", "disk"])
    series = TimeSeriesDetector(fast_vae(epochs=1), window_size=16).fit(frame)
    parts = dd.from_pandas(frame, npartitions=4).partitions
    empty = dd.from_pandas(frame.iloc[:0], npartitions=1)
    lazy = anomaly_dask.score_samples(series, dd.concat([parts[0], empty, parts[1:]]))
    assert np.array_equal(lazy.compute().to_numpy(), series.score_samples(frame))
