"""The comparison harness (anomaly/comparison.py)."""

import functools

import numpy as np
import pandas as pd
import pytest
from pyod.models.iforest import IForest
from pyod.models.knn import KNN
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.ensemble import IsolationForest

from anomaly import compare
from anomaly.adapters import PyODDetector, PyODStyle
from anomaly.timeseries import TimeSeriesDetector
from tests.conftest import clear_anomalies, fast_vae


class Failing(OutlierMixin, BaseEstimator):
    def fit(self, X, y=None):
        raise RuntimeError("cannot fit this")


class Inverted(OutlierMixin, BaseEstimator):
    """Scores anomalies *higher* through score_samples: the wrong convention on purpose."""

    def fit(self, X, y=None):
        self.center_ = np.median(X, axis=0)
        return self

    def score_samples(self, X):
        return np.linalg.norm(np.asarray(X) - self.center_, axis=1)


@pytest.fixture(scope="module")
def data():
    return clear_anomalies()


def test_every_library_gets_its_sign_right(data):
    table = compare(
        {
            "ours": fast_vae(epochs=30),
            "sklearn": IsolationForest(),
            "pyod": IForest(),
            "pyod as sklearn": PyODDetector(IForest()),
            "ours as pyod": PyODStyle(fast_vae(epochs=30)),
        },
        {"clear": data},
        progress=False,
    )
    roc = table[table.metric == "roc_auc"].set_index("detector")["value"]
    assert (roc > 0.9).all(), roc
    assert table.error.isna().all()


def test_a_wrong_convention_shows_as_a_low_score(data):
    # The harness trusts score_samples to be "higher = normal": an inverted detector ranks last.
    table = compare({"inverted": Inverted()}, {"clear": data}, progress=False)
    assert table.loc[table.metric == "roc_auc", "value"].iloc[0] < 0.1


def test_a_failing_detector_is_recorded_and_the_rest_runs(data):
    table = compare(
        {"failing": Failing(), "iforest": IsolationForest()},
        {"clear": data},
        seeds=[0, 1],
        progress=False,
    )
    failing = table[table.detector == "failing"]
    assert len(failing) == 4  # 2 seeds x 2 metrics
    assert failing.value.isna().all()
    assert failing.error.str.contains("RuntimeError: cannot fit this").all()
    assert table[table.detector == "iforest"].value.notna().all()


def test_tidy_columns_seeds_and_train_test_form(data):
    X, y = data
    table = compare(
        {"iforest": IsolationForest()},
        {"whole": (X, y), "split": (X[::2], X[1::2], y[1::2])},
        metrics=["roc_auc", "pr_auc", "best_f1", lambda y, s: float(np.mean(s)), "vus_pr"],
        seeds=[3, 4],
        progress=False,
    )
    assert list(table.columns) == [
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
    assert len(table) == 2 * 2 * 5
    assert set(table.metric) == {"roc_auc", "pr_auc", "best_f1", "<lambda>", "vus_pr"}
    assert (table.fit_seconds > 0).all() and (table.peak_memory_mib > 0).all()
    # Seeds reach the detector: two seeds, two forests, different scores.
    lambdas = table[table.metric == "<lambda>"].set_index(["dataset", "seed"])["value"]
    assert lambdas["whole", 3] != lambdas["whole", 4]


def test_nested_random_state_is_seeded():
    series = np.sin(np.arange(300) / 5)[:, None]
    labels = np.zeros(300, dtype=int)
    labels[100:110] = 1
    series[100:110] += 2
    wrapped = TimeSeriesDetector(fast_vae(epochs=2, random_state=None), window_size=10)
    first = compare({"ts": wrapped}, {"sine": (series, labels)}, progress=False)
    again = compare({"ts": wrapped}, {"sine": (series, labels)}, progress=False)
    pd.testing.assert_series_equal(first.value, again.value)


def test_pyod_models_score_their_training_data_as_pyod_does():
    # decision_function on the training data would find each point its own nearest
    # neighbour: with one neighbour, every score 0.
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(size=(200, 2)), rng.uniform(4, 8, size=(10, 2))]
    y = np.r_[np.zeros(200), np.ones(10)]
    table, scores = compare(
        {"knn": KNN(n_neighbors=1)}, {"d": (X, y)}, progress=False, return_scores=True
    )
    np.testing.assert_array_equal(scores["knn", "d", 0], KNN(n_neighbors=1).fit(X).decision_scores_)
    wrapped = compare(
        {"knn": PyODDetector(KNN(n_neighbors=1))}, {"d": (X, y)}, progress=False, return_scores=True
    )[1]
    np.testing.assert_array_equal(wrapped["knn", "d", 0], scores["knn", "d", 0])
    assert table.loc[table.metric == "roc_auc", "value"].iloc[0] > 0.9


def test_metrics_by_name():
    data = (np.r_[np.zeros((20, 2)), [[5.0, 5.0]]], np.r_[np.zeros(20), 1])
    picks = {
        "top": lambda y, s: float(y[np.argmax(s)]),
        "bottom": lambda y, s: float(y[np.argmin(s)]),
    }
    table = compare({"iforest": IsolationForest()}, {"d": data}, metrics=picks, progress=False)
    assert dict(zip(table.metric, table.value)) == {"top": 1.0, "bottom": 0.0}
    with pytest.raises(ValueError, match="Two metrics are named '<lambda>'"):
        compare({}, {}, metrics=list(picks.values()))
    with pytest.raises(ValueError, match="has no __name__.*mapping"):
        compare({}, {}, metrics=[functools.partial(max)])


def test_bad_arguments():
    with pytest.raises(ValueError, match="Unknown metric 'auc'"):
        compare({}, {}, metrics=["auc"])
    with pytest.raises(ValueError, match=r"must be \(X, y\) or \(X_train, X_test, y_test\)"):
        compare({"iforest": IsolationForest()}, {"bad": (1, 2, 3, 4)}, progress=False)
    # Before any fit: a bad dataset after good ones does not cost their runs.
    fits = []

    class Recording(IsolationForest):
        def fit(self, X, y=None):
            fits.append(len(X))
            return super().fit(X)

    good = (np.zeros((20, 2)), np.r_[np.zeros(19), 1])
    for bad in [(1,), (good[0], good[1][:-1]), {"data": good[0], "target": good[1]}]:
        # A loader's Bunch (a dict) and labels one short are refused as well.
        with pytest.raises(ValueError, match="Dataset 'bad'"):
            compare({"iforest": Recording()}, {"good": good, "bad": bad}, progress=False)
    assert fits == []


def test_one_metric_name_is_one_metric():
    X, y = clear_anomalies()
    table = compare(
        {"iforest": IsolationForest(n_estimators=10)},
        {"toy": (X, y)},
        metrics="roc_auc",
        progress=False,
    )
    assert list(table.metric.unique()) == ["roc_auc"]


def test_peak_memory_leaves_out_what_a_tracing_caller_holds():
    import tracemalloc

    X, y = clear_anomalies()

    def peak() -> float:
        detectors = {"iforest": IsolationForest(n_estimators=10)}
        return compare(detectors, {"toy": (X, y)}, progress=False).peak_memory_mib[0]

    alone = peak()
    tracemalloc.start()
    try:
        held = np.ones(2**23 // 8)  # 8 MiB the caller holds, traced
        assert peak() < alone + 4
        del held
    finally:
        tracemalloc.stop()
