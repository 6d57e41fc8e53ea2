"""Training on 2 CPU processes launched by torchrun (gloo): data parallelism in training.py."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import anomaly
from anomaly.cli import main

FIT = ["--window-size", "16", "--stride", "2", "--epochs", "6", "--no-early-stopping"]
LAUNCH = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]


def _write(path, n_steps: int, seed: int, anomalous: slice | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    steps = np.arange(n_steps)[:, None]
    values = np.sin(steps / (3 + np.arange(3))) + 0.05 * rng.normal(size=(n_steps, 3))
    labels = np.zeros(n_steps, dtype=int)
    if anomalous is not None:
        values[anomalous] += 2.0
        labels[anomalous] = 1
    frame = pd.DataFrame(values, columns=["a", "b", "c"])
    frame.insert(0, "time", pd.date_range("2024-01-01", periods=n_steps, freq="s").astype(str))
    frame.to_csv(path, index=False)
    return labels


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ddp")
    _write(folder / "train.csv", 1500, seed=0)
    labels = _write(folder / "test.csv", 600, seed=1, anomalous=slice(300, 330))
    launch = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
    ]
    command = [*launch, "-m", "anomaly.cli", "fit", str(folder / "train.csv"), *FIT]
    done = subprocess.run(
        [*command, "-o", str(folder / "two.safetensors")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    argv = ["fit", str(folder / "train.csv"), *FIT, "--threads", "1"]
    assert main([*argv, "-o", str(folder / "one.safetensors")]) == 0
    return folder, labels, done.stdout


def test_rank_zero_alone_writes_the_model(fitted):
    folder, _, stdout = fitted
    assert stdout.count("saved ") == 1
    assert sorted(p.name for p in folder.glob("*.safetensors")) == [
        "one.safetensors",
        "two.safetensors",
    ]


def test_two_processes_score_like_one(fitted):
    folder, labels, _ = fitted
    test = pd.read_csv(folder / "test.csv")[["a", "b", "c"]]
    aucs = {
        name: roc_auc_score(
            labels, -anomaly.load(folder / f"{name}.safetensors").score_samples(test)
        )
        for name in ("one", "two")
    }
    assert aucs["one"] > 0.9 and aucs["two"] > 0.9, aucs
    assert abs(aucs["one"] - aucs["two"]) < 0.05, aucs
    # Trained differently (batches of rows shared between ranks), so not the same weights.
    one, two = (anomaly.load(folder / f"{name}.safetensors") for name in ("one", "two"))
    assert not np.array_equal(one.score_samples(test), two.score_samples(test))


def test_early_stopping_stops_every_rank_together(tmp_path):
    # The ranks draw different noise: stopping on each rank's own validation loss would leave
    # one rank waiting for the other's gradients. The default fit stops early.
    noise = pd.DataFrame(np.random.default_rng(0).normal(size=(1500, 3)), columns=["a", "b", "c"])
    noise.insert(0, "time", pd.date_range("2024-01-01", periods=1500, freq="s").astype(str))
    noise.to_csv(tmp_path / "train.csv", index=False)  # nothing to learn: the loss soon stalls
    fit = ["-m", "anomaly.cli", "fit", str(tmp_path / "train.csv"), "--window-size", "16"]
    done = subprocess.run(
        [*LAUNCH, *fit, "--epochs", "40", "-o", str(tmp_path / "m.safetensors")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    history = anomaly.load(tmp_path / "m.safetensors").detector_.history_
    assert len(history["loss"]) < 40  # it did stop early


def test_a_gap_in_one_rank_s_batch_only_trains_on_both(tmp_path):
    # With one missing value, one rank's batch has a gap and the other's not: the missing
    # values' mixing, out of the other's graph, has a gradient on one rank alone.
    script = tmp_path / "fit.py"
    script.write_text(
        "import numpy as np\n"
        "from anomaly import VAEDetector\n"
        "X = np.random.default_rng(0).normal(size=(64, 4))\n"
        "X[0, 1] = np.nan\n"
        "detector = VAEDetector(epochs=2, batch_size=8, hidden_sizes=(4,), latent_dim=2,\n"
        "                       random_state=0, device='cpu', missing='marginalize').fit(X)\n"
        "print('weights', sum(float(p.detach().sum()) for p in detector.network_.parameters()))\n"
    )
    done = subprocess.run([*LAUNCH, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    weights = {line for line in done.stdout.splitlines() if line.startswith("weights")}
    assert len(weights) == 1  # the same on both ranks
