"""hit_rate: causes found among the top-scored variables."""

import numpy as np
import pytest

from anomaly.explanation_metrics import hit_rate


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
