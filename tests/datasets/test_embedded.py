"""Embedded data: scikit-learn's bundled sets with a minority class, and generated clusters."""

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

from anomaly.datasets import load_embedded, make_clusters


def test_embedded_sets_are_small_labelled_and_deterministic():
    sets = load_embedded()
    again = load_embedded()
    expected = {
        "breast_cancer": (377, 30, 20),
        "wine": (140, 13, 10),
        "digits": (198, 64, 20),
        "clusters": (1050, 10, 50),
    }
    assert {name: (*X.shape, int(y.sum())) for name, (X, y) in sets.items()} == expected
    for name, (X, y) in sets.items():
        assert set(np.unique(y)) == {0, 1} and np.isfinite(X).all()
        np.testing.assert_array_equal(X, again[name][0])
    assert not np.array_equal(sets["wine"][0], load_embedded(random_state=1)["wine"][0])


def test_generated_anomalies_are_detectable():
    X, y = make_clusters(random_state=3)
    scores = -IsolationForest(random_state=0).fit(X).score_samples(X)
    assert roc_auc_score(y, scores) > 0.9


def test_committed_csv_files_match_the_generators(tmp_path):
    from pathlib import Path

    import pandas as pd

    from anomaly.datasets.embedded import write_embedded

    committed = Path(__file__).resolve().parents[2] / "datasets" / "embedded"
    for path in write_embedded(tmp_path):
        fresh, kept = pd.read_csv(path), pd.read_csv(committed / path.name)
        pd.testing.assert_frame_equal(fresh, kept)
        X, y = load_embedded()[path.stem]
        np.testing.assert_allclose(kept.drop(columns="label").to_numpy(), X, rtol=1e-9)
        np.testing.assert_array_equal(kept["label"], y)
