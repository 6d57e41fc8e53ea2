"""hit_rate and interpretation_score: causes found among the top-scored variables."""

import numpy as np
import pytest

from anomaly.explanation_metrics import (
    _best_point_adjusted_threshold,
    hit_rate,
    interpretation_score,
)
from anomaly.metrics import anomaly_events, point_adjusted_f1


def _causes(n_steps=400, n_variables=10, seed=0):
    rng = np.random.default_rng(seed)
    causes = rng.random((n_steps, n_variables)) < 0.3
    causes[np.arange(n_steps), rng.integers(0, n_variables, n_steps)] = True  # one at least
    causes[:50] = False  # normal steps: left out
    return causes


def test_scores_that_rank_the_causes_first_hit_every_one():
    causes = _causes()
    scores = causes + 0.01 * np.random.default_rng(1).random(causes.shape)
    assert hit_rate(scores, causes) == 1.0 == hit_rate(scores, causes, percent=150)


def test_random_scores_hit_about_the_share_of_causes():
    causes = _causes(4000)
    scores = np.random.default_rng(2).random(causes.shape)
    labelled = causes[causes.any(axis=1)]
    # A cause is among the top n_causes of n_variables with chance n_causes / n_variables
    # (floored counts and per-step means make the expectation exact only on average).
    expected = np.mean(labelled.sum(axis=1) / causes.shape[1])
    assert abs(hit_rate(scores, causes) - expected) < 0.02
    assert hit_rate(scores, causes, percent=150) > hit_rate(scores, causes)


def test_looking_at_more_variables_than_there_are_takes_them_all():
    causes = np.array([[True, True, True]])
    assert hit_rate(np.array([[3.0, 2.0, 1.0]]), causes, percent=150) == 1.0
    # floor(150 % of 1) = 1: one variable looked at.
    assert hit_rate(np.array([[3.0, 2.0, 1.0]]), np.array([[False, True, False]]), percent=150) == 0


def test_the_count_looked_at_is_exact():
    # 116 % of 25 causes is 29 variables, not floor(28.999...) in floating point.
    causes = np.zeros((1, 40), dtype=bool)
    causes[0, :25] = True
    scores = -np.arange(40.0)[None, :]  # the causes first
    scores[0, [24, 28]] = scores[0, [28, 24]]  # the last cause ranked 29th
    assert hit_rate(scores, causes, percent=116) == 1.0


def test_clear_errors():
    with pytest.raises(ValueError, match="differ"):
        hit_rate(np.zeros((3, 2)), np.ones((3, 3), dtype=bool))
    with pytest.raises(ValueError, match="No step has labelled causes"):
        hit_rate(np.zeros((3, 2)), np.zeros((3, 2), dtype=bool))
    with pytest.raises(ValueError, match="percent must be positive"):
        hit_rate(np.zeros((1, 2)), np.ones((1, 2), dtype=bool), percent=0)
    with pytest.raises(ValueError, match="percent must be positive"):
        hit_rate(np.zeros((1, 2)), np.ones((1, 2), dtype=bool), percent=np.nan)
    # Causes other than 0 and 1 would each read as a cause.
    for causes in ([["1", "0"]], [[1, 2]], [[np.nan, 1]]):
        with pytest.raises(ValueError, match="causes must hold only 0 and 1"):
            hit_rate(np.zeros((1, 2)), np.array(causes))


def test_an_unbounded_percent_looks_at_every_variable():
    causes = np.array([[False, True, False]])
    assert hit_rate(np.array([[3.0, 2.0, 1.0]]), causes, percent=np.inf) == 1.0


def test_ties_count_by_their_chance_whatever_the_order_of_the_columns():
    # Scores that say nothing: each of 4 tied variables has a 1 in 4 chance of the one place.
    scores, causes = np.zeros((3, 4)), np.zeros((3, 4), dtype=bool)
    causes[:, 0] = True
    assert hit_rate(scores, causes) == 0.25 == hit_rate(scores[:, ::-1], causes[:, ::-1])
    # One cause above the tie, one of two places left to three tied variables, one a cause.
    scores, causes = np.array([[5.0, 1.0, 1.0, 1.0]]), np.array([[True, False, True, False]])
    assert hit_rate(scores, causes) == (1 + 1 / 3) / 2
    # A variable without a score ranks last, below -inf.
    assert hit_rate(np.array([[np.nan, 1.0]]), np.array([[True, False]])) == 0.0
    assert hit_rate(np.array([[-np.inf, np.nan]]), np.array([[False, True]])) == 0.0


def _series(seed, n_steps=300, n_variables=6):
    """Labels with anomalies of 1-20 steps, each with its own causes, and random scores."""
    rng = np.random.default_rng(seed)
    y_true = np.zeros(n_steps, dtype=int)
    causes = np.zeros((n_steps, n_variables), dtype=bool)
    for start in rng.choice(np.arange(10, n_steps - 30, 30), size=5, replace=False):
        stop = start + rng.integers(1, 21)
        y_true[start:stop] = 1
        causes[start:stop, rng.choice(n_variables, size=2, replace=False)] = True
    return y_true, causes, rng.random(n_steps), rng.random((n_steps, n_variables))


@pytest.mark.parametrize("seed", range(5))
def test_the_threshold_is_that_of_the_best_point_adjusted_f1(seed):
    y_true, _, y_score, _ = _series(seed)
    y_score = np.round(y_score, 2)  # ties: flagged together
    f1 = {t: point_adjusted_f1(y_true, (y_score >= t).astype(int)) for t in np.unique(y_score)}
    anomaly_of_step = np.cumsum(np.diff(y_true, prepend=0) == 1)
    threshold = _best_point_adjusted_threshold(y_true, y_score, anomaly_of_step)
    assert f1[threshold] == pytest.approx(max(f1.values()))
    assert threshold == max(
        t for t, value in f1.items() if value == pytest.approx(max(f1.values()))
    )


def test_only_found_steps_count_each_with_its_anomalys_highest_scores():
    y_true, causes, _, feature_scores = _series(0)
    anomalous = y_true == 1
    y_score = np.where(anomalous, 1.0, 0.0)  # every anomaly found, no false alarm
    # Each anomaly's causes score highest at one of its steps (not the same one for both).
    for start, stop in anomaly_events(y_true):
        for k, variable in enumerate(np.flatnonzero(causes[start])):
            feature_scores[start + k % (stop - start), variable] = 2.0
    assert interpretation_score(feature_scores, causes, y_true, y_score) == 1.0
    assert hit_rate(feature_scores, causes) < 1.0
    # An anomaly the detector misses is left out, however badly it is explained.
    start, stop = anomaly_events(y_true)[0]
    feature_scores[start:stop] = np.where(causes[start:stop], -1.0, 1.0)
    assert interpretation_score(feature_scores, causes, y_true, y_score) < 1.0
    y_score[start:stop] = 0.0  # as low as the normal steps
    assert interpretation_score(feature_scores, causes, y_true, y_score) == 1.0


def test_an_anomalys_steps_below_the_threshold_neither_count_nor_lend_their_scores():
    # One anomaly of 4 steps, 2 flagged: the best point-adjusted F1 needs only its highest.
    y_true = np.array([0, 1, 1, 1, 1, 0])
    y_score = np.array([0.0, 0.9, 0.9, 0.1, 0.1, 0.0])
    causes = np.zeros((6, 3), dtype=bool)
    causes[1:5, 0] = True
    feature_scores = np.zeros((6, 3))
    feature_scores[1, 0] = 1.0  # the first flagged step names the cause, the second does not
    feature_scores[2, 1] = 0.5
    feature_scores[3:5, 2] = 5.0  # the unflagged steps point elsewhere, louder
    assert hit_rate(feature_scores, causes) == 0.25
    assert interpretation_score(feature_scores, causes, y_true, y_score) == 1.0


def test_a_step_score_beyond_arithmetic_is_the_most_abnormal():
    y_true, causes, y_score, feature_scores = _series(0)
    start = anomaly_events(y_true)[0][0]
    y_score[start] = np.inf
    assert 0 <= interpretation_score(feature_scores, causes, y_true, y_score) <= 1


def test_interpretation_score_clear_errors():
    y_true, causes, y_score, feature_scores = _series(0)
    with pytest.raises(ValueError, match="steps"):
        interpretation_score(feature_scores[1:], causes[1:], y_true, y_score)
    with pytest.raises(ValueError, match="differ"):
        interpretation_score(feature_scores[:, 1:], causes, y_true, y_score)
    with pytest.raises(ValueError, match="flags no step with labelled causes"):
        interpretation_score(feature_scores, np.zeros_like(causes), y_true, y_score)
    with pytest.raises(ValueError, match="y_score contains NaN"):
        interpretation_score(feature_scores, causes, y_true, np.where(y_true, np.nan, y_score))
    with pytest.raises(ValueError, match="no anomalies"):
        interpretation_score(feature_scores, causes, np.zeros_like(y_true), y_score)
    with pytest.raises(ValueError, match="percent must be positive"):
        interpretation_score(feature_scores, causes, y_true, y_score, percent=0)
