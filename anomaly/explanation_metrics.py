"""How well per-variable scores name the variables that caused an anomaly."""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_array

from anomaly.metrics import _check_scores

__all__ = ["hit_rate", "interpretation_score"]


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
    scores, causes = _check_explanations(feature_scores, causes)
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


def interpretation_score(
    feature_scores: np.ndarray,
    causes: np.ndarray,
    y_true: np.ndarray,
    y_score: np.ndarray,
    *,
    percent: float = 100.0,
) -> float:
    """InterFusion's interpretation score (IPS): HitRate@P% on the anomalies a detector finds.

    The protocol of Li et al. (KDD 2021; ``cal_IPS`` in their code): the
    detector's threshold is the one of its best point-adjusted F1 (an
    anomaly, a run of 1s in ``y_true``, counts in full once one of its steps
    is flagged); each anomalous step it flags that has labelled causes ranks
    the variables by their highest score over the flagged steps of its
    anomaly; :func:`hit_rate` over those steps. Usually kinder than
    ``hit_rate`` over every labelled step: the steps a detector misses are
    left out, and each step takes the clearest evidence of its anomaly.
    Where scores tie, two choices differ from InterFusion's code: a threshold
    flags every step of its score (their search can stop inside a group of
    tied scores), and variables tied at the cut count by their chance, as in
    ``hit_rate`` (theirs take the sort's order).

    Parameters
    ----------
    feature_scores : array-like of shape (n_steps, n_variables)
        Each variable's abnormality at each step, higher = more abnormal.
    causes : array-like of bool, shape (n_steps, n_variables)
        The labelled causes, as for :func:`hit_rate`.
    y_true : array-like of shape (n_steps,)
        1 for an anomalous step, 0 for a normal one.
    y_score : array-like of shape (n_steps,)
        The detector's step scores, higher = more abnormal (``+inf``: beyond
        the model's arithmetic, the most abnormal).
    percent : float, default=100.0
        P, as for :func:`hit_rate`.

    Returns
    -------
    score : float

    Examples
    --------
    >>> causes = np.array([[0, 0], [1, 0], [1, 0], [0, 0]], dtype=bool)
    >>> feature_scores = np.array([[0.0, 0.0], [0.9, 0.1], [0.2, 0.3], [0.0, 0.0]])
    >>> hit_rate(feature_scores, causes)  # the second anomalous step ranks variable 2 first
    0.5
    >>> y_true, y_score = [0, 1, 1, 0], [0.1, 0.9, 0.9, 0.2]  # both flagged: each 0.9 and 0.3
    >>> interpretation_score(feature_scores, causes, y_true, y_score)
    1.0
    >>> interpretation_score(feature_scores, causes, y_true, [0.1, 0.8, 0.9, 0.2])  # only the 2nd
    0.0
    """
    scores, causes = _check_explanations(feature_scores, causes)
    y_true, y_score = _check_scores(y_true, y_score, need_normals=False, allow_inf=True)
    if len(y_true) != len(scores):
        raise ValueError(f"y_true has {len(y_true)} steps, feature_scores {len(scores)}.")
    anomaly_of_step = np.cumsum(np.diff(y_true, prepend=0) == 1)  # valid where y_true is 1
    threshold = _best_point_adjusted_threshold(y_true, y_score, anomaly_of_step)
    found = (y_true == 1) & (y_score >= threshold) & causes.any(axis=1)
    if not found.any():
        raise ValueError("The detector flags no step with labelled causes at its best threshold.")
    # Each found step's row becomes its anomaly's highest per variable (NaN: unscored, skipped).
    first, counts = _runs(anomaly_of_step[found])
    highest = np.fmax.reduceat(scores[found], first, axis=0)
    return hit_rate(np.repeat(highest, counts, axis=0), causes[found], percent=percent)


def _check_explanations(feature_scores, causes) -> tuple[np.ndarray, np.ndarray]:
    scores = check_array(feature_scores, dtype=np.float64, ensure_all_finite=False)
    causes = check_array(causes, dtype=None, ensure_all_finite=False)
    if not np.isin(causes, (0, 1)).all():  # "0" or 2 would read as a cause; NaN too
        others = np.unique(causes[~np.isin(causes, (0, 1))].astype(str))[:5].tolist()
        raise ValueError(f"causes must hold only 0 and 1 (1 = cause), got {others}")
    if scores.shape != causes.shape:
        raise ValueError(f"feature_scores {scores.shape} and causes {causes.shape} differ.")
    return scores, causes.astype(bool)


def _best_point_adjusted_threshold(
    y_true: np.ndarray, y_score: np.ndarray, anomaly_of_step: np.ndarray
) -> float:
    """The highest threshold of the best point-adjusted F1 (flagged: ``y_score >= it``).

    Our own search rather than scikit-learn's precision-recall curve (weighted by
    the anomalies' lengths), which refuses the ``+inf`` of a model's overflow."""
    anomalous = y_true == 1
    first, lengths = _runs(anomaly_of_step[anomalous])
    # A threshold flags an anomaly's every step once it reaches the anomaly's highest score.
    peaks = np.maximum.reduceat(y_score[anomalous], first)
    normal = y_score[~anomalous]
    candidates = np.r_[peaks, normal]
    flagged_steps = np.r_[lengths, np.ones(len(normal))]
    found_steps = np.r_[lengths, np.zeros(len(normal))]
    order = np.argsort(-candidates, kind="stable")
    candidates = candidates[order]
    flagged, found = np.cumsum(flagged_steps[order]), np.cumsum(found_steps[order])
    last_of_tie = np.r_[candidates[1:] != candidates[:-1], True]  # ties are flagged together
    f1 = 2 * found / (flagged + lengths.sum())  # 2PR / (P + R) = 2 TP / (flagged + anomalous)
    best = np.argmax(np.where(last_of_tie, f1, -1.0))
    return float(candidates[best])


def _runs(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each run of equal ``ids`` starts, and its length."""
    first = np.flatnonzero(np.diff(ids, prepend=ids[0] - 1))
    return first, np.diff(np.r_[first, len(ids)])
