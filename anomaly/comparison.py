"""Detectors x datasets x seeds -> one tidy table of metrics, times and memory."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils import check_consistent_length
from tqdm.auto import tqdm

from anomaly import metrics as anomaly_metrics
from anomaly.adapters import anomaly_scores

__all__ = ["compare"]

# Metrics by name: functions of (y_true, anomaly scores) -> float.
METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "roc_auc": anomaly_metrics.roc_auc,
    "pr_auc": anomaly_metrics.pr_auc,
    "best_f1": lambda y, s: anomaly_metrics.best_f1(y, s)[0],
    "vus_roc": anomaly_metrics.vus_roc,
    "vus_pr": anomaly_metrics.vus_pr,
}
COLUMNS = [
    "detector",
    "dataset",
    "seed",
    "metric",
    "value",
    "fit_seconds",
    "score_seconds",
    "peak_memory_mib",
    "error",
]


def compare(
    detectors: Mapping[str, Any],
    datasets: Mapping[str, tuple],
    *,
    metrics: Sequence[str | Callable] | Mapping[str, str | Callable] = ("roc_auc", "pr_auc"),
    seeds: Sequence[int] = (0,),
    progress: bool = True,
    return_scores: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, dict[tuple[str, str, int], np.ndarray]]:
    """Fit and score every detector on every dataset with every seed; one row per metric.

    Detectors may be ours, scikit-learn's or PyOD's: each is cloned, seeded
    (every ``random_state`` parameter, nested ones included, and NumPy's
    global generator, which PyOD draws from: the caller's global state
    changes), fitted, and its scores turned to "higher = more abnormal" by
    :func:`anomaly.adapters.anomaly_scores` before the metrics see them. A
    detector that fails on a dataset gets rows with ``value`` NaN and the
    exception in ``error``; the comparison goes on.

    Parameters
    ----------
    detectors : mapping of str to estimator
        Names and unfitted detectors.
    datasets : mapping of str to tuple
        Names and either ``(X, y)``, fitted and scored on the same X (the
        unsupervised protocol), or ``(X_train, X_test, y_test)``. ``y`` is 1
        for anomalies, 0 for normal samples.
    metrics : sequence of str or callable, or mapping, default=("roc_auc", "pr_auc")
        Names among ``roc_auc``, ``pr_auc``, ``best_f1``, ``vus_roc``,
        ``vus_pr``, or functions ``f(y_true, anomaly_scores) -> float`` (named
        by their ``__name__``); or a mapping of the names to give the rows to
        either, e.g. for ``functools.partial`` objects or two lambdas. Two
        metrics of one name are refused.
    seeds : sequence of int, default=(0,)
        One fit per seed.
    progress : bool, default=True
        Show a progress bar over the fits.
    return_scores : bool, default=False
        Also return every run's anomaly scores (higher = more abnormal), e.g.
        for ROC curves.

    Returns
    -------
    table : pandas.DataFrame
        Columns ``detector, dataset, seed, metric, value, fit_seconds,
        score_seconds, peak_memory_mib, error``. ``peak_memory_mib`` is the
        peak of memory traced by Python's ``tracemalloc`` during fit and
        score: numpy and Python objects, not torch's CPU tensors, so it is
        exact for NumPy-based detectors and a lower bound for ours. Tracing
        slows allocation-heavy Python code a little, seconds included.
    scores : dict of (detector, dataset, seed) to ndarray
        With ``return_scores``: the scores of the runs that did not fail.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import IsolationForest
    >>> from anomaly import VAEDetector
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(size=(200, 4)), rng.normal(5, 1, size=(10, 4))]
    >>> y = np.r_[np.zeros(200), np.ones(10)]
    >>> table = compare(
    ...     {"VAE": VAEDetector(epochs=5), "IForest": IsolationForest()},
    ...     {"blobs": (X, y)},
    ...     progress=False,
    ... )
    >>> list(table.columns[:5])
    ['detector', 'dataset', 'seed', 'metric', 'value']
    >>> roc = table[table.metric == "roc_auc"]
    >>> dict(zip(roc.detector, roc.value.round(1)))
    {'VAE': 1.0, 'IForest': 1.0}
    """
    metric_functions = _metric_functions(metrics)
    # Every dataset's shape checked before the first fit, not when its turn comes.
    splits = {dataset: _split(dataset, data) for dataset, data in datasets.items()}
    runs = [(d, name, seed) for d in datasets for name in detectors for seed in seeds]
    rows, scores = [], {}
    for dataset, name, seed in tqdm(runs, desc="compare", disable=not progress):
        X_train, X_test, y_test = splits[dataset]
        outcome = _run(detectors[name], seed, X_train, X_test)
        if outcome["error"] is None:
            scores[name, dataset, seed] = outcome["scores"]
        for metric, function in metric_functions.items():
            value, error = np.nan, outcome["error"]
            if error is None:
                try:
                    value = float(function(y_test, outcome["scores"]))
                except Exception as err:  # noqa: BLE001 (recorded, not fatal)
                    error = f"{metric}: {type(err).__name__}: {err}"
            rows.append(
                dict(
                    detector=name,
                    dataset=dataset,
                    seed=seed,
                    metric=metric,
                    value=value,
                    fit_seconds=outcome["fit_seconds"],
                    score_seconds=outcome["score_seconds"],
                    peak_memory_mib=outcome["peak_memory_mib"],
                    error=error,
                )
            )
    table = pd.DataFrame(rows, columns=COLUMNS)
    return (table, scores) if return_scores else table


def _metric_functions(
    metrics: Sequence[str | Callable] | Mapping[str, str | Callable],
) -> dict[str, Callable]:
    """Each metric's function, by the name its rows get."""
    if isinstance(metrics, str):  # one name, not a sequence of its letters
        metrics = [metrics]
    if isinstance(metrics, Mapping):
        named = list(metrics.items())
    else:
        named = [(_metric_name(metric), metric) for metric in metrics]
    functions: dict[str, Callable] = {}
    for name, metric in named:
        if name in functions:  # one would silently replace the other's rows
            raise ValueError(
                f"Two metrics are named {name!r}: pass metrics as a mapping of distinct names "
                "to functions."
            )
        functions[name] = _metric_function(metric)
    return functions


def _metric_name(metric: str | Callable) -> str:
    if isinstance(metric, str):
        return metric
    name = getattr(metric, "__name__", None)  # a functools.partial has none
    if name is None:
        raise ValueError(
            f"{metric!r} has no __name__ to name its rows by: pass metrics as a mapping of "
            "names to functions."
        )
    return name


def _metric_function(metric: str | Callable) -> Callable:
    if callable(metric):
        return metric
    if metric not in METRICS:
        raise ValueError(
            f"Unknown metric {metric!r}; choose among {sorted(METRICS)} or a function."
        )
    return METRICS[metric]


def _split(name: str, data: tuple) -> tuple[Any, Any, np.ndarray]:
    # A loader's Bunch is a dict: unpacked, it would give its keys.
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        got = f"{len(data)} items" if isinstance(data, (tuple, list)) else type(data).__name__
        raise ValueError(
            f"Dataset {name!r} must be (X, y) or (X_train, X_test, y_test), got {got} (a "
            "loader gives (X, y) with return_X_y=True)."
        )
    X_train, X_test, y_test = (data[0], *data) if len(data) == 2 else data
    try:
        check_consistent_length(X_test, y_test)
    except ValueError as err:
        raise ValueError(f"Dataset {name!r}: the scored rows and labels differ: {err}") from None
    return X_train, X_test, np.asarray(y_test)


def _seeded(detector: Any, seed: int) -> Any:
    """A clone with every ``random_state`` parameter, nested ones too, set to ``seed``."""
    detector = clone(detector)
    names = [
        name
        for name in detector.get_params(deep=True)
        if name == "random_state" or name.endswith("__random_state")
    ]
    return detector.set_params(**dict.fromkeys(names, seed))


def _run(detector: Any, seed: int, X_train: Any, X_test: Any) -> dict:
    """Fit and score one detector: scores, seconds, traced peak memory, or the error."""
    outcome: dict = dict(scores=None, fit_seconds=np.nan, score_seconds=np.nan, error=None)
    tracing = not tracemalloc.is_tracing()
    if tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    # Under a caller's tracing, what it already holds is in the peak: counted off.
    held = tracemalloc.get_traced_memory()[0]
    try:
        np.random.seed(seed)  # noqa: NPY002 (PyOD's models draw from the global generator)
        fitted = _seeded(detector, seed)
        start = time.perf_counter()
        fitted.fit(X_train)
        outcome["fit_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        outcome["scores"] = anomaly_scores(fitted, X_test, training=X_test is X_train)
        outcome["score_seconds"] = time.perf_counter() - start
    except Exception as err:  # noqa: BLE001 (one failure is recorded, not fatal)
        outcome["error"] = f"{type(err).__name__}: {err}"
    finally:
        outcome["peak_memory_mib"] = (tracemalloc.get_traced_memory()[1] - held) / 2**20
        if tracing:
            tracemalloc.stop()
    return outcome
