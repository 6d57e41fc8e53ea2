"""Sign conventions across libraries (anomaly/adapters.py)."""

import numpy as np
import pytest
from pyod.models.iforest import IForest
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from anomaly.adapters import PyODDetector, PyODStyle, anomaly_scores, is_pyod
from tests.conftest import clear_anomalies, fast_vae


@pytest.fixture(scope="module")
def data():
    return clear_anomalies()


@pytest.mark.parametrize(
    "make",
    [
        lambda: fast_vae(epochs=30),
        lambda: IsolationForest(random_state=0),
        lambda: IForest(random_state=0),
        lambda: PyODDetector(IForest(random_state=0)),
        lambda: PyODStyle(fast_vae(epochs=30)),
        lambda: make_pipeline(StandardScaler(), IForest(random_state=0)),
        lambda: make_pipeline(StandardScaler(), fast_vae(epochs=30)),
    ],
    ids=["ours", "sklearn", "pyod", "pyod-as-sklearn", "ours-as-pyod", "pyod-pipe", "ours-pipe"],
)
def test_anomaly_scores_are_higher_for_anomalies_on_every_path(make, data):
    X, y = data
    fitted = make().fit(X)
    assert roc_auc_score(y, anomaly_scores(fitted, X)) > 0.9
    assert roc_auc_score(y, anomaly_scores(fitted, X, training=True)) > 0.9


def test_is_pyod():
    assert is_pyod(IForest()) and not is_pyod(IsolationForest())


def test_pyod_detector_follows_scikit_learn_conventions(data):
    X, _ = data
    model = IForest(random_state=0, contamination=0.05).fit(X)
    wrapped = PyODDetector(IForest(random_state=0, contamination=0.05)).fit(X)
    np.testing.assert_allclose(wrapped.score_samples(X), -model.decision_function(X))
    # The same outliers as PyOD's own labels, as -1 / +1.
    np.testing.assert_array_equal(wrapped.predict(X) == -1, model.labels_ == 1)
    assert wrapped.n_features_in_ == X.shape[1]


def test_pyod_style_gives_pyod_attributes_and_labels(data):
    X, _ = data
    detector = fast_vae(epochs=10, contamination=0.05)
    styled = PyODStyle(detector).fit(X)
    assert styled.decision_scores_.shape == (len(X),)
    assert set(np.unique(styled.labels_)) == {0, 1}
    assert styled.labels_.mean() == pytest.approx(0.05, abs=0.01)
    np.testing.assert_array_equal(styled.predict(X), styled.labels_)
    np.testing.assert_array_equal(styled.decision_function(X), -styled.detector_.score_samples(X))
    assert styled.threshold_ == -styled.detector_.offset_
    assert not hasattr(detector, "offset_")  # the given detector is cloned, not fitted
    with pytest.raises(ValueError, match="'epochs' parameter"):
        PyODStyle(fast_vae(epochs=0)).fit(X)


def test_scikit_learn_lof_scores_its_training_data(data):
    from sklearn.neighbors import LocalOutlierFactor

    X, y = data
    lof = LocalOutlierFactor().fit(X)
    assert roc_auc_score(y, anomaly_scores(lof, X, training=True)) > 0.9
    with pytest.raises(TypeError, match="needs novelty=True"):
        anomaly_scores(lof, X)
    # With novelty=True too: its score_samples would count each sample as its own neighbour.
    novelty = LocalOutlierFactor(novelty=True).fit(X)
    np.testing.assert_array_equal(
        anomaly_scores(novelty, X, training=True), anomaly_scores(lof, X, training=True)
    )
    # And as a pipeline's last step.
    piped = make_pipeline(StandardScaler(), LocalOutlierFactor(novelty=True)).fit(X)
    np.testing.assert_array_equal(
        anomaly_scores(piped, X, training=True), -piped[-1].negative_outlier_factor_
    )


def test_infinite_scores_become_finite_and_keep_their_rank():
    class Overflowing:
        def score_samples(self, X):
            return np.array([0.0, -np.inf, -1.0])

    scores = anomaly_scores(Overflowing(), None)
    assert np.isfinite(scores).all()
    np.testing.assert_array_equal(np.argsort(scores), [0, 2, 1])


def test_pyod_detector_checks_new_data_as_scikit_learn_does():
    import pandas as pd
    from pyod.models.hbos import HBOS

    X = pd.DataFrame(np.random.default_rng(0).normal(size=(200, 3)), columns=list("abc"))
    detector = PyODDetector(HBOS()).fit(X)
    assert list(detector.feature_names_in_) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="feature names"):
        detector.predict(X[["c", "b", "a"]])
    with pytest.raises(ValueError, match="3 features"):
        detector.predict(X.to_numpy()[:, :2])


def test_pyod_detector_fit_predict_flags_the_contamination_share():
    from pyod.models.knn import KNN

    X = np.random.default_rng(0).normal(size=(200, 3))
    labels = PyODDetector(KNN(contamination=0.1)).fit_predict(X)
    assert (labels == -1).sum() == KNN(contamination=0.1).fit(X).labels_.sum() == 20


def test_pyod_style_takes_a_pipeline_ending_in_an_outlier_detector():
    from sklearn.ensemble import IsolationForest
    from sklearn.neighbors import KernelDensity
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = np.random.default_rng(0).normal(size=(200, 3))
    forest = IsolationForest(contamination=0.1, random_state=0)
    styled = PyODStyle(make_pipeline(StandardScaler(), forest)).fit(X)
    assert styled.threshold_ == -styled.detector_[-1].offset_ and styled.labels_.sum() == 20
    assert styled.n_features_in_ == 3
    with pytest.raises(TypeError, match="which a fitted KernelDensity lacks"):
        PyODStyle(make_pipeline(StandardScaler(), KernelDensity())).fit(X)


def test_pyod_style_labels_a_pipeline_as_its_detector_alone():
    # Scored by nearest training samples, each sample left out of its own neighbours.
    from sklearn.preprocessing import FunctionTransformer

    X = np.random.default_rng(0).normal(size=(200, 4))
    alone = PyODStyle(fast_vae(n_neighbors=5, contamination=0.1)).fit(X)
    piped = PyODStyle(
        make_pipeline(FunctionTransformer(), fast_vae(n_neighbors=5, contamination=0.1))
    )
    np.testing.assert_array_equal(piped.fit(X).labels_, alone.labels_)
    assert alone.labels_.mean() == pytest.approx(0.1, abs=0.01)


def test_pyod_style_takes_any_detector_with_an_offset():
    from sklearn.base import BaseEstimator

    class Duck(BaseEstimator):
        def fit(self, X, y=None):
            self.offset_ = -2.0
            return self

        def score_samples(self, X):
            return -np.abs(X).sum(axis=1)

    X = np.random.default_rng(0).normal(size=(50, 2))
    assert PyODStyle(Duck()).fit(X).threshold_ == 2.0
