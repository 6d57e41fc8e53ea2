"""Thresholds on anomaly scores without labels.

Besides the contamination percentile every detector has, the peaks-over-
threshold method of extreme value theory (Siffer et al., "Anomaly Detection in
Streams with Extreme Value Theory", KDD 2017): the tail of the scores above a
high initial level is fitted with a generalised Pareto distribution, and the
threshold is the score exceeded with probability ``risk`` under that fit. It
needs no guess of how many anomalies there are, only of how rare one is.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import genpareto

__all__ = ["check_pot_risk", "pot_threshold"]


def check_pot_risk(risk: float, level: float) -> None:
    """Refuse a ``level`` outside (0, 1), and a ``risk`` that the tail above it cannot hold."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}.")
    if not 0 < risk < 1 - level:
        raise ValueError(f"risk must be in (0, 1 - level) = (0, {1 - level:g}), got {risk}.")


def pot_threshold(anomaly_scores: np.ndarray, *, risk: float = 1e-3, level: float = 0.98) -> float:
    """Peaks-over-threshold: the anomaly score exceeded with probability ``risk``.

    Parameters
    ----------
    anomaly_scores : array-like of shape (n_samples,)
        Scores of (mostly) normal data, higher = more abnormal.
    risk : float, default=1e-3
        Probability that a normal sample exceeds the threshold.
    level : float, default=0.98
        Quantile of the scores above which the tail is fitted; at least 10
        scores must lie above it.

    Returns
    -------
    threshold : float
        Scores above it are anomalies.

    Examples
    --------
    >>> scores = np.random.default_rng(0).exponential(size=100_000)
    >>> threshold = pot_threshold(scores, risk=1e-3)  # exp(1): -log(1e-3) = 6.91
    >>> bool(6.5 < threshold < 7.5)
    True
    """
    scores = np.asarray(anomaly_scores, dtype=float)
    check_pot_risk(risk, level)
    # The largest floats too: anomaly_scores gives them for scores of -inf (rows beyond the
    # model's arithmetic), which would stretch the fitted tail as far.
    scores = scores[np.abs(scores) < np.finfo(float).max]
    initial = float(np.quantile(scores, level)) if len(scores) else np.nan
    excesses = scores[scores > initial] - initial
    if len(excesses) < 10:
        raise ValueError(
            f"Peaks over threshold needs at least 10 finite scores above the {level:g} quantile; "
            f"got {len(excesses)} (of {len(scores)} finite scores). Use more data or a lower level."
        )
    tail_share = len(excesses) / len(scores)  # below 1 - level where scores tie at the level
    if risk >= tail_share:
        # The threshold lies at or below the level, where the scores are their own estimate.
        return float(np.quantile(scores, 1 - risk))
    tail = scores[scores > initial]
    if np.ptp(tail) <= 8 * np.finfo(float).eps * max(np.abs(tail).max(), abs(initial)):
        # Scores tied above the level (a detector's cap, rounded scores), to the last bits:
        # no spread to fit, and none of them lies above the largest.
        return float(tail.max())
    shape, _, scale = genpareto.fit(excesses, floc=0)
    # The level the fitted tail exceeds with probability risk / P(score > initial).
    threshold = initial + float(genpareto.isf(risk / tail_share, shape, 0, scale))
    top = tail.max()
    below_top = tail[tail < top].max(initial=initial)
    if below_top <= threshold < top and np.sum(scores == top) > 1 and np.mean(scores >= top) > risk:
        # A few tied values (rounded scores): a fit that ends at the largest puts the threshold
        # just below it, above every other score, flagging only (and every one of) the scores
        # tied there, more than risk of them.
        return float(top)
    return threshold
