"""What the benchmarks share: where data and results live, PyOD's detectors, one timed run.

Every benchmark fits a detector, scores data and turns the scores into anomaly
scores (higher = more abnormal) by :func:`anomaly.adapters.anomaly_scores`,
whatever the detector's library: :func:`fit_and_score` does that once for all
of them, seeding NumPy's and torch's global generators first (PyOD's models
draw from them) and keeping PyOD's per-epoch printing off the terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from pyod.models.alad import ALAD
from pyod.models.anogan import AnoGAN
from pyod.models.auto_encoder import AutoEncoder
from pyod.models.deep_svdd import DeepSVDD
from pyod.models.ecod import ECOD
from pyod.models.iforest import IForest
from pyod.models.knn import KNN
from pyod.models.pca import PCA
from pyod.models.so_gaal import SO_GAAL
from pyod.models.vae import VAE

from anomaly._atomic import atomic_write
from anomaly.adapters import anomaly_scores, is_pyod
from anomaly.datasets import DATA_HOME_ENV, get_data_home

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
# $ANOMALY_DATA, else the development machines' shared copy beside the repository, else the
# package's default data home.
_SHARED = REPO.parent / "shared" / "datasets"
DATA_HOME = get_data_home() if os.environ.get(DATA_HOME_ENV) or not _SHARED.is_dir() else _SHARED


# PyOD's detectors at their defaults, by the names the result tables give them.
PYOD_DETECTORS: dict[str, Callable[[int], Any]] = {
    "PyOD VAE": lambda seed: VAE(random_state=seed, verbose=0),
    "PyOD AutoEncoder": lambda seed: AutoEncoder(random_state=seed, verbose=0),
    # n_features is set from the data in fit_and_score.
    "PyOD DeepSVDD": lambda seed: DeepSVDD(n_features=1, random_state=seed, verbose=0),
    "PyOD IForest": lambda seed: IForest(random_state=seed),
    "PyOD ECOD": lambda seed: ECOD(),
    "PyOD KNN": lambda seed: KNN(),
    "PyOD PCA": lambda seed: PCA(random_state=seed),
    # GAN family; seeded through the global generators (no random_state).
    "PyOD AnoGAN": lambda seed: AnoGAN(),
    "PyOD ALAD": lambda seed: ALAD(),
    "PyOD SO_GAAL": lambda seed: SO_GAAL(),
}


def seed_globals(seed: int) -> None:
    """Seed NumPy's and torch's global generators, which PyOD's models draw from."""
    np.random.seed(seed)  # noqa: NPY002
    torch.manual_seed(seed)


@dataclass
class Run:
    """One fitted detector, its anomaly scores (higher = more abnormal) and its seconds."""

    detector: Any
    scores: np.ndarray
    fit_seconds: float
    score_seconds: float


def fit_and_score(detector: Any, X_train: Any, X_test: Any) -> Run:
    """Fit ``detector`` on ``X_train`` and score ``X_test``, each step timed.

    Seed the global generators with :func:`seed_globals` before building the
    detector. A PyOD detector gets rows: images are flattened. Scoring ``X_train`` itself
    (the unsupervised protocol), PyOD models give their training scores, as ADBench takes
    them (see :func:`anomaly.adapters.anomaly_scores`).
    """
    training = X_test is X_train
    if is_pyod(detector):
        X_train = np.reshape(X_train, (len(X_train), -1))
        X_test = np.reshape(X_test, (len(X_test), -1))
        if hasattr(detector, "n_features"):  # DeepSVDD asks for the width up front
            detector.n_features = X_train.shape[1]
    with contextlib.redirect_stdout(io.StringIO()):  # PyOD prints every epoch
        start = time.perf_counter()
        detector.fit(X_train)
        fitted = time.perf_counter()
        scores = anomaly_scores(detector, X_test, training=training)
        done = time.perf_counter()
    return Run(detector, scores, fitted - start, done - fitted)


def merge_results(path: Path, new: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Rows of ``new`` written over those of the CSV at ``path`` with the same ``keys``."""
    if path.exists():
        old = pd.read_csv(path)
        old = old[~old.set_index(keys).index.isin(new.set_index(keys).index)]
        new = pd.concat([old, new], ignore_index=True)
    with atomic_write(path, "w") as handle:
        new.to_csv(handle, index=False, float_format="%.6g")
    return new


def write_text(path: Path, text: str) -> None:
    """Write a report atomically."""
    with atomic_write(path, "w") as handle:
        handle.write(text)


def run_or_report(
    description: str,
    report_file: str,
    run: Callable[[argparse.Namespace], None],
    report: Callable[[Path], str],
    add_run_arguments: Callable[[argparse.ArgumentParser], None],
    results: Path,
) -> None:
    """The command line of a benchmark: ``run`` measures (its own options, and ``--results``),
    ``report`` rewrites ``results/<report_file>`` from the results already there."""
    parser = argparse.ArgumentParser(description=description)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run")
    add_run_arguments(run_parser)
    for command in (run_parser, commands.add_parser("report")):
        command.add_argument("--results", type=Path, default=results)
    args = parser.parse_args()
    if args.command == "run":
        run(args)
    else:
        write_text(args.results / report_file, report(args.results))
