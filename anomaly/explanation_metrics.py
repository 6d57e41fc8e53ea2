"""How well per-variable scores name the variables that caused an anomaly."""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_array

__all__ = ["hit_rate"]


def hit_rate(feature_scores: np.ndarray, causes: np.ndarray, *, percent: float = 100.0) -> float:
    """HitRate@P% (Su et al., KDD 2019, OmniAnomaly): the causes found among the top variables.

    For each step with labelled causes, the share of them among its
    ``floor(P% x n_causes)`` highest-scored variables; the mean over those
    steps. 1 when every step's causes are its top-ranked variables; about
    ``n_causes / n_variables`` for random scores (at P = 100). Variables tied
    at the cut count by their chance of a place in a random order among them,
    so that the order of the columns does not matter.

    Parameters
    ----------
    feature_scores : array-like of shape (n_steps, n_variables)
        Each variable's abnormality at each step, higher = more abnormal
        (e.g. ``TimeSeriesDetector.feature_scores``).
    causes : array-like of bool, shape (n_steps, n_variables)
        The labelled causes (e.g. :func:`anomaly.datasets.load_interpretation`);
        steps without any are left out.
    percent : float, default=100.0
        P: how many variables are looked at, as a share of the step's causes
        (at most all of them).

    Returns
    -------
    hit_rate : float

    Examples
    --------
    >>> scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.3, 0.1], [0.0, 0.0, 0.0]])
    >>> causes = np.array([[1, 0, 1], [1, 0, 0], [0, 0, 0]], dtype=bool)
    >>> hit_rate(scores, causes)  # step 1: both causes in its top 2; step 2: none in its top 1
    0.5
    >>> hit_rate(scores, causes, percent=200)  # step 2's top 2 hold its cause
    1.0
    """
    scores = check_array(feature_scores, dtype=np.float64, ensure_all_finite=False)
    causes = check_array(causes, dtype=None, ensure_all_finite=False)
    if not np.isin(causes, (0, 1)).all():  # "0" or 2 would read as a cause; NaN too
        others = np.unique(causes[~np.isin(causes, (0, 1))].astype(str))[:5].tolist()
        raise ValueError(f"causes must hold only 0 and 1 (1 = cause), got {others}")
    causes = causes.astype(bool)
    if scores.shape != causes.shape:
        raise ValueError(f"feature_scores {scores.shape} and causes {causes.shape} differ.")
    if not percent > 0:  # NaN too
        raise ValueError(f"percent must be positive, got {percent}.")
    percent = min(percent, 100.0 * scores.shape[1])  # beyond that every variable is looked at
    labelled = causes.any(axis=1)
    if not labelled.any():
        raise ValueError("No step has labelled causes.")
    scores, causes = scores[labelled], causes[labelled]
    n_causes = causes.sum(axis=1)
    # percent * n first: 116 / 100 * 25 is 28.999... in floating point, 116 * 25 / 100 is 29.
    looked_at = np.minimum(np.floor(percent * n_causes / 100).astype(int), scores.shape[1])
    # Ties at the cut share its remaining places: each tied variable counts as the chance
    # that a random order among them would look at it, so that no order of the columns is
    # favoured. A variable without a score (NaN) ranks last, below -inf.
    ranked = -np.sort(-scores, axis=1)  # NaN last
    cut = ranked[np.arange(len(scores)), np.maximum(looked_at - 1, 0)][:, None]
    unscored, cut_unscored = np.isnan(scores), np.isnan(cut)
    above = np.where(cut_unscored, ~unscored, scores > cut)
    tied = np.where(cut_unscored, unscored, scores == cut)
    places = looked_at - above.sum(axis=1)
    hits = (causes & above).sum(axis=1) + (causes & tied).sum(axis=1) * places / tied.sum(axis=1)
    hits = np.where(looked_at > 0, hits, 0.0)
    return float(np.mean(hits / n_causes))
