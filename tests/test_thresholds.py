"""Peaks-over-threshold (anomaly/thresholds.py)."""

import numpy as np
import pytest
from scipy.stats import genpareto

from anomaly.thresholds import pot_threshold


@pytest.mark.parametrize("shape", [-0.2, 0.0, 0.3])
def test_threshold_matches_the_true_tail_quantile(shape):
    # Scores drawn from a generalised Pareto: the threshold exceeded with
    # probability risk is its (1 - risk) quantile.
    scores = genpareto.rvs(shape, size=200_000, random_state=np.random.default_rng(0))
    risk = 1e-3
    expected = genpareto.isf(risk, shape)
    assert pot_threshold(scores, risk=risk) == pytest.approx(expected, rel=0.1)


def test_flags_about_risk_of_fresh_normal_scores():
    rng = np.random.default_rng(1)
    threshold = pot_threshold(rng.normal(size=100_000), risk=1e-2, level=0.9)
    assert np.mean(rng.normal(size=100_000) > threshold) == pytest.approx(1e-2, rel=0.2)


def test_infinite_scores_are_ignored():
    scores = np.r_[np.random.default_rng(0).exponential(size=10_000), np.inf, -np.inf]
    assert np.isfinite(pot_threshold(scores))


def test_too_few_scores_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 10 finite scores above the 0.98 quantile"):
        pot_threshold(np.arange(100.0))


def test_risk_above_the_tail_is_refused():
    with pytest.raises(ValueError, match="risk must be in"):
        pot_threshold(np.arange(1000.0), risk=0.05, level=0.98)


def test_ties_at_the_level_give_the_empirical_quantile():
    # 98.5 % of the scores tie at 0, so only 1.5 % lie above the 0.98 quantile: a risk of
    # 1.9 % puts the threshold at or below the level, where the tail fit does not reach.
    scores = np.r_[np.zeros(985), np.random.default_rng(0).exponential(size=15) + 1]
    assert pot_threshold(scores, risk=0.019, level=0.98) == np.quantile(scores, 1 - 0.019)


def test_the_largest_floats_are_left_out_as_infinite_scores_are():
    # anomaly_scores gives the largest float for a score of -inf: it must not stretch the tail.
    scores = np.random.default_rng(0).exponential(size=10_000)
    expected = pot_threshold(scores)
    scores[:3] = np.finfo(float).max
    assert pot_threshold(scores) == pytest.approx(expected, rel=0.05)


def test_a_tail_of_tied_scores_is_not_extrapolated_below_itself():
    # 30 scores tied at 5 above the level: a fitted tail put the threshold at 4.99,
    # flagging all of them (2.9 % of the scores at a risk of 1e-3).
    scores = np.r_[np.zeros(1000), np.full(30, 5.0)]
    assert pot_threshold(scores, level=0.95) == 5.0
    # The tied score itself, not rebuilt from its excess (1.1 + 6.6 rounds below 7.7) ...
    scores = np.r_[np.full(1000, 1.1), np.full(30, 7.7)]
    assert pot_threshold(scores, level=0.95) == 7.7
    # ... and ties to the last bits count as ties.
    scores = np.r_[np.zeros(1000), np.full(29, 5.0), np.nextafter(5.0, 6.0)]
    assert pot_threshold(scores, level=0.95) == np.nextafter(5.0, 6.0)
    # A cap at 0 far above the level: its last bits are ties too.
    rng = np.random.default_rng(0)
    capped = np.r_[rng.uniform(-10, -9, 3920), rng.choice([-1e-17, 0.0, 1e-17], 80)]
    assert pot_threshold(capped, level=0.98) == capped.max()


def test_a_tail_of_a_few_tied_values_is_not_put_below_its_largest():
    # 15 scores at 1 and 15 at 2 above the level: a fit ending at 2 put the threshold at
    # 1.99, flagging 1.5 % of the scores at a risk of 1e-3.
    scores = np.r_[np.zeros(1000), np.ones(15), np.full(15, 2.0)]
    assert pot_threshold(scores, level=0.95) == 2.0
    # One score repeated at the top of continuous ones: the fit's threshold below the second
    # largest is not raised past it.
    scores = np.random.default_rng(0).exponential(size=1500)
    scores = np.r_[scores, scores.max()]
    assert pot_threshold(scores) < np.unique(scores)[-2]
    # Rounded continuous scores still give a threshold between their values.
    rounded = np.round(np.random.default_rng(0).exponential(size=100_000), 1)
    assert 6.5 < pot_threshold(rounded) < 7.5


def test_level_outside_0_1_is_refused():
    for level in (1.5, -0.1, np.nan):
        with pytest.raises(ValueError, match="level must be in"):
            pot_threshold(np.arange(1000.0), level=level)
