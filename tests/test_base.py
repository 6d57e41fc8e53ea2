"""The estimator contract (anomaly/base.py), exercised through VAEDetector."""

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import make_scorer, roc_auc_score
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tests.conftest import clear_anomalies, fast_vae

METHODS = ["score_samples", "decision_function", "predict", "score"]


@pytest.mark.parametrize("method", METHODS)
def test_not_fitted_error(make, method, blobs):
    with pytest.raises(NotFittedError):
        getattr(make(), method)(blobs)


def test_fit_returns_self_and_accepts_y(make, blobs):
    detector = make()
    assert detector.fit(blobs, np.zeros(len(blobs))) is detector
    assert detector.fit_predict(blobs, np.zeros(len(blobs))).shape == (len(blobs),)


def test_decision_and_predict_follow_score_samples(fitted, blobs):
    scores = fitted.score_samples(blobs)
    assert scores.dtype == np.float64 and scores.shape == (len(blobs),)
    np.testing.assert_array_equal(fitted.decision_function(blobs), scores - fitted.offset_)
    np.testing.assert_array_equal(fitted.predict(blobs), np.where(scores < fitted.offset_, -1, 1))


def test_auto_contamination_is_tukeys_lower_fence(fitted, blobs):
    q1, q3 = np.percentile(fitted.score_samples(blobs), [25, 75])
    assert fitted.offset_ == pytest.approx(q1 - 1.5 * (q3 - q1))


@pytest.mark.parametrize("contamination", [0.05, 0.2, 0.5])
def test_float_contamination_sets_training_outlier_share(make, contamination, blobs):
    detector = make(contamination=contamination).fit(blobs)
    share = np.mean(detector.predict(blobs) == -1)
    assert share == pytest.approx(contamination, abs=1 / len(blobs))


@pytest.mark.parametrize("contamination", [0.0, 0.6, "high"])
def test_bad_contamination(make, contamination, blobs):
    with pytest.raises(ValueError, match="contamination"):
        make(contamination=contamination).fit(blobs)


@pytest.mark.parametrize("method", METHODS)
def test_wrong_number_of_features_at_scoring_time(method, fitted, blobs):
    expected = f"X has 3 features, but {type(fitted).__name__} is expecting 4"
    with pytest.raises(ValueError, match=expected):
        getattr(fitted, method)(blobs[:, :3])


BAD_INPUTS = {
    "nan": (np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 4.0]]), ValueError, "NaN"),
    "inf": (np.array([[0.0, np.inf], [1.0, 2.0], [3.0, 4.0]]), ValueError, "infinity"),
    "empty": (np.empty((0, 3)), ValueError, "0 sample"),
    "one row": (np.ones((1, 3)), ValueError, "1 sample"),
    "no features": (np.empty((5, 0)), ValueError, "0 feature"),
    "strings": (np.array([["a", "b"], ["c", "d"]]), ValueError, "could not convert string"),
    "object": (np.array([[{"a": 1}, 2.0], [3.0, 4.0]], dtype=object), TypeError, "dict"),
    "complex": (np.array([[1 + 1j, 2.0], [3.0, 4.0]]), ValueError, "Complex data not supported"),
    "5-D": (np.zeros((4, 1, 3, 2, 2)), ValueError, "got a 5-D array"),
    "NaN pixel": (np.where(np.eye(3)[None] > 0, np.nan, 0.5).repeat(4, 0), ValueError, "NaN"),
    "1-D": (np.zeros(4), ValueError, "Expected 2D array"),
}


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_input_at_fit_names_the_problem(make, name):
    X, error, message = BAD_INPUTS[name]
    with pytest.raises(error, match=message):
        make().fit(X)


SCORING_BAD_INPUTS = {
    "nan": (np.array([[0.0, np.nan, 0.0, 0.0]]), ValueError, "NaN"),
    "inf": (np.array([[0.0, -np.inf, 0.0, 0.0]]), ValueError, "infinity"),
    "empty": (np.empty((0, 4)), ValueError, "0 sample"),
    "strings": (np.array([["a", "b", "c", "d"]]), ValueError, "could not convert string"),
    "complex": (np.array([[1j, 0.0, 0.0, 0.0]]), ValueError, "Complex data not supported"),
    "images": (np.zeros((2, 2, 2)), ValueError, "fitted on rows of 4 features"),
    "1-D": (np.zeros(4), ValueError, "Expected 2D array"),
    "object": (np.array([[{"a": 1}, 0.0, 0.0, 0.0]], dtype=object), TypeError, "dict"),
}


@pytest.mark.parametrize("name", SCORING_BAD_INPUTS)
def test_bad_input_at_scoring_time_names_the_problem(name, fitted):
    X, error, message = SCORING_BAD_INPUTS[name]
    with pytest.raises(error, match=message):
        fitted.score_samples(X)


def test_dataframe_keeps_feature_names(make, blobs):
    frame = pd.DataFrame(blobs, columns=["a", "b", "c", "d"])
    detector = make().fit(frame)
    np.testing.assert_array_equal(detector.feature_names_in_, ["a", "b", "c", "d"])
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        from_array = detector.score_samples(blobs)
    np.testing.assert_array_equal(detector.score_samples(frame), from_array)
    with pytest.raises(ValueError, match="feature names"):
        detector.score_samples(frame.rename(columns={"a": "z"}))


def test_pipeline_fits_and_scores(make):
    X, y = clear_anomalies()
    pipeline = make_pipeline(StandardScaler(), make(epochs=30)).fit(X)
    manual = make(epochs=30).fit(StandardScaler().fit_transform(X))
    np.testing.assert_array_equal(
        pipeline.score_samples(X), manual.score_samples(StandardScaler().fit(X).transform(X))
    )
    assert pipeline.predict(X).shape == (len(X),)
    assert roc_auc_score(y, -pipeline.score_samples(X)) > 0.9


def test_clone_refits_to_identical_scores(fitted, blobs):
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "network_")
    np.testing.assert_array_equal(copy.fit(blobs).score_samples(blobs), fitted.score_samples(blobs))


def test_grid_search_with_label_based_roc_auc(make):
    X, y = clear_anomalies(seed=1)
    labels = np.where(y == 1, -1, 1)  # scikit-learn's convention: +1 inlier, -1 outlier
    scorer = make_scorer(roc_auc_score, response_method="decision_function")
    cv = StratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    search = GridSearchCV(make(epochs=20), {"latent_dim": [1, 2]}, scoring=scorer, cv=cv)
    search.fit(X, labels)
    assert search.best_score_ > 0.9
    assert search.best_estimator_.fitted_params_["latent_dim"] == search.best_params_["latent_dim"]


def test_score_is_the_mean_of_score_samples(fitted, blobs):
    assert fitted.score(blobs) == np.mean(fitted.score_samples(blobs))
    assert fitted.score(blobs, np.zeros(len(blobs))) == fitted.score(blobs)  # y is ignored


def test_unsupervised_grid_search_picks_the_highest_held_out_mean_score():
    X, _ = clear_anomalies(n_anomalous=0)
    grid = [1, 4]
    search = GridSearchCV(fast_vae(epochs=10), {"latent_dim": grid}, cv=KFold(3)).fit(X)
    held_out = [
        np.mean(
            [
                fast_vae(epochs=10, latent_dim=latent_dim).fit(X[train]).score(X[test])
                for train, test in KFold(3).split(X)
            ]
        )
        for latent_dim in grid
    ]
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"], held_out)
    assert search.best_params_ == {"latent_dim": grid[int(np.argmax(held_out))]}
    assert np.all(np.isfinite(held_out))


def test_scores_do_not_depend_on_how_rows_are_grouped(fitted):
    X = np.random.default_rng(1).normal(size=(2500, 4))
    full = fitted.score_samples(X)
    order = np.random.default_rng(2).permutation(len(X))
    np.testing.assert_array_equal(fitted.score_samples(X[order]), full[order])
    np.testing.assert_array_equal(fitted.score_samples(X[7:8]), full[7:8])
    np.testing.assert_array_equal(fitted.score_samples(X[1000:2100]), full[1000:2100])


def test_scoring_blocks_follow_working_memory(fitted):
    X = np.random.default_rng(1).normal(size=(300, 4))
    assert fitted._scoring_block_rows() == 1024
    full = fitted.score_samples(X)
    with sklearn.config_context(working_memory=fitted._scoring_row_bytes() * 50 / 2**20):
        assert fitted._scoring_block_rows() == 50
        np.testing.assert_allclose(fitted.score_samples(X), full, rtol=1e-6)


def test_verbose_scoring_of_many_rows_shows_progress(make, blobs, capsys):
    detector = make(verbose=True).fit(blobs)
    capsys.readouterr()
    detector.score_samples(np.zeros((3000, 4)))
    assert f"{type(detector).__name__} scoring" in capsys.readouterr().err


def test_extreme_finite_input_is_the_most_abnormal(fitted):
    X = np.array([[0.0, 0.0, 0.0, 0.0], [1e25, -1e25, 1e25, 1e25], [1e300, 0.0, 0.0, 0.0]])
    X = np.r_[X, [[0.0, 1e30, 0.0, 0.0]]]  # beyond float32 once standardised
    scores = fitted.score_samples(X)
    assert not np.isnan(scores).any()
    # Infinite, not the lowest float: -inf is what "cannot be scored" reads as downstream.
    assert scores[1] < scores[0] and scores[2] == scores[3] == -np.inf
    np.testing.assert_array_equal(fitted.predict(X), [1, -1, -1, -1])
    # The value beyond the model's arithmetic takes +inf, the others 0: it is named.
    shares = fitted.feature_scores(X[2:])
    np.testing.assert_array_equal(shares, [[np.inf, 0, 0, 0], [0, np.inf, 0, 0]])


def test_failed_refit_leaves_the_detector_unfitted(make, blobs):
    detector = make().fit(blobs)
    with pytest.raises(FloatingPointError):
        detector.set_params(standardize=False).fit(blobs * 1e30)
    with pytest.raises(NotFittedError):
        detector.predict(blobs)


def test_a_refit_refused_after_validation_leaves_no_new_names_beside_the_old_model():
    # Validation sets the new feature names before the all-NaN column is refused.
    rng = np.random.default_rng(0)
    old = pd.DataFrame(rng.normal(size=(30, 3)), columns=["a", "b", "c"])
    detector = fast_vae(epochs=1, missing="marginalize").fit(old)
    new = pd.DataFrame(rng.normal(size=(30, 3)), columns=["x", "y", "z"]).assign(z=np.nan)
    with pytest.raises(ValueError, match="never observed"):
        detector.fit(new)
    assert not hasattr(detector, "feature_names_in_")
    with pytest.raises(NotFittedError):
        detector.score_samples(new.fillna(0.0))
