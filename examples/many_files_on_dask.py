"""Many metric files, one model, scored in parallel on a Dask LocalCluster.

Writes a few CSV series (one per "host"), fits one TimeSeriesDetector on the
first, saves it, then scores every file on a LocalCluster of 2 worker
processes, each file its own task, and checks the outputs against scoring the
same files one after another here. Run::

    python examples/many_files_on_dask.py [FOLDER]

The command line does the same: ``anomaly score model.safetensors 'hosts/*.csv'
--output-dir scores/ --scheduler local --workers 2``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from anomaly import TimeSeriesDetector, VAEDetector
from anomaly.batch_scoring import score_files
from anomaly.dask import connect


def write_host(path: Path, n_steps: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    steps = np.arange(n_steps)[:, None]
    values = np.sin(steps / (6 + np.arange(2))) + 0.05 * rng.normal(size=(n_steps, 2))
    values[n_steps // 2 : n_steps // 2 + 20] += 1.5  # an incident
    frame = pd.DataFrame(values, columns=["cpu", "memory"])
    frame.insert(0, "time", pd.date_range("2024-01-01", periods=n_steps, freq="min").astype(str))
    frame.to_csv(path, index=False)


def main(folder: Path) -> None:
    hosts = folder / "hosts"
    hosts.mkdir(parents=True, exist_ok=True)
    for seed in range(4):
        write_host(hosts / f"host-{seed}.csv", 5_000, seed)
    training = pd.read_csv(hosts / "host-0.csv")[["cpu", "memory"]]
    detector = TimeSeriesDetector(VAEDetector(epochs=3, random_state=0), window_size=16)
    detector.fit(training).save(folder / "model.safetensors")
    inputs = sorted(hosts.glob("*.csv"))
    for name in ("here", "cluster"):
        (folder / name).mkdir(exist_ok=True)
    here = score_files(folder / "model.safetensors", inputs, folder / "here")
    with connect("local", n_workers=2) as client:
        cluster = score_files(
            folder / "model.safetensors", inputs, folder / "cluster", client=client
        )
    for path in inputs:
        same = (folder / "here" / path.name).read_bytes() == (
            folder / "cluster" / path.name
        ).read_bytes()
        print(f"{path.name}: {cluster[path]} rows scored on the cluster, equal to here: {same}")
        assert here[path] == cluster[path] and same


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
