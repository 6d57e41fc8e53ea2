"""Metrics for anomaly scores and predictions, point-wise, event-wise and range-based (VUS).

Conventions
-----------
``y_true`` holds one label per sample or time step: 1 for an anomaly, 0 for a normal point.

``y_score`` holds one anomaly score per sample, **higher = more abnormal**. The detectors of this
package follow scikit-learn, whose ``score_samples`` is the opposite (lower = more abnormal), so
pass its negation::

    roc_auc(y_true, -detector.score_samples(X))

or ``anomaly.adapters.anomaly_scores(detector, X)``, which also turns the ``-inf`` that
``score_samples`` gives inputs beyond the model's arithmetic into the largest float.

``y_pred`` holds hard predictions, 1 = anomaly; from a detector, ``detector.predict(X) == -1``.

Which metric
------------
- ``roc_auc``, ``pr_auc`` and ``best_f1`` judge every point on its own.
- ``point_adjusted_f1`` and ``event_f1`` judge anomalous *events*, the runs of consecutive 1s
  that ``anomaly_events`` lists.
- ``vus_roc`` and ``vus_pr`` are threshold-free like ROC-AUC and PR-AUC, but give partial credit
  to scores that rise a little before or after an event, as sliding-window scores do.

Every function raises ``ValueError`` on empty, non 1-D or mismatched inputs, on labels other
than 0 and 1, on NaN or infinite scores, and when the labels lack a class the metric needs.
"""

from __future__ import annotations

import numbers
import statistics

import numpy as np
from numpy.typing import ArrayLike
from scipy import ndimage
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    precision_recall_curve,
    roc_auc_score,
)

__all__ = [
    "anomaly_events",
    "best_f1",
    "event_f1",
    "point_adjusted_f1",
    "pr_auc",
    "roc_auc",
    "vus_pr",
    "vus_roc",
]


def roc_auc(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Area under the ROC curve, point-wise: the chance that an anomaly outscores a normal point.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 for an anomaly, 0 for a normal point; both must occur.
    y_score : array-like of shape (n_samples,)
        Anomaly scores, higher = more abnormal.

    Returns
    -------
    float
        1 for a perfect ranking, 0.5 for chance.

    See Also
    --------
    sklearn.metrics.roc_auc_score : What this validates its inputs for, then calls.

    Examples
    --------
    >>> from anomaly.metrics import roc_auc
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    y_true, y_score = _check_scores(y_true, y_score, need_normals=True)
    return float(roc_auc_score(y_true, y_score))


def pr_auc(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Area under the precision-recall curve, as average precision, point-wise.

    Unlike ROC-AUC it depends on how rare anomalies are: a random score gets about the
    fraction of anomalies.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 for an anomaly, 0 for a normal point; at least one anomaly.
    y_score : array-like of shape (n_samples,)
        Anomaly scores, higher = more abnormal.

    Returns
    -------
    float
        Average precision: the precision at each threshold weighted by the recall it adds.

    See Also
    --------
    sklearn.metrics.average_precision_score : What this validates its inputs for, then calls.

    Examples
    --------
    >>> from anomaly.metrics import pr_auc
    >>> round(pr_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)  # (1 + 2/3) / 2
    0.8333
    """
    y_true, y_score = _check_scores(y_true, y_score, need_normals=False)
    return float(average_precision_score(y_true, y_score))


def best_f1(y_true: ArrayLike, y_score: ArrayLike) -> tuple[float, float]:
    """The best point-wise F1 over all thresholds, and the threshold that reaches it.

    Threshold ``t`` predicts an anomaly wherever ``y_score >= t``. The threshold is chosen
    on the labels being scored, so the F1 is an upper bound of what a detector that must pick
    its threshold without labels would reach.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 for an anomaly, 0 for a normal point; at least one anomaly.
    y_score : array-like of shape (n_samples,)
        Anomaly scores, higher = more abnormal.

    Returns
    -------
    f1 : float
        The highest F1 of any threshold.
    threshold : float
        A score value that reaches it.

    Examples
    --------
    >>> from anomaly.metrics import best_f1
    >>> f1, threshold = best_f1([0, 0, 1, 1, 0], [0.1, 0.2, 0.9, 0.7, 0.8])
    >>> round(f1, 3), threshold  # >= 0.7 flags 3 points, 2 of them anomalies: P=2/3, R=1
    (0.8, 0.7)
    """
    y_true, y_score = _check_scores(y_true, y_score, need_normals=False)
    precision, recall, thresholds = precision_recall_curve(y_true, y_score)
    # The curve's last point (precision 1, recall 0) belongs to no threshold.
    precision, recall = precision[:-1], recall[:-1]
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)
    best = np.argmax(f1)
    return float(f1[best]), float(thresholds[best])


def anomaly_events(y_true: ArrayLike) -> list[tuple[int, int]]:
    """The anomalous events: each run of consecutive 1s as a half-open ``(start, stop)`` range.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 for an anomaly, 0 for a normal point.

    Returns
    -------
    list of (int, int)
        ``y_true[start:stop]`` is all 1s, and the points just outside it are 0 or the series'
        ends; in order of time, empty when there are no anomalies.

    Examples
    --------
    >>> from anomaly.metrics import anomaly_events
    >>> anomaly_events([1, 1, 0, 0, 1, 0, 1])
    [(0, 2), (4, 5), (6, 7)]
    """
    starts, stops = _event_bounds(_check_labels(y_true, "y_true"))
    return list(zip(starts.tolist(), stops.tolist()))


def point_adjusted_f1(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Point-wise F1 after point adjustment: one hit inside an event counts as the whole event.

    The adjustment (Xu et al., 2018) sets every prediction inside a true event to 1 when at
    least one point of that event is predicted, then computes the ordinary F1.

    **It is optimistic: do not report it alone.** A long event is almost surely hit by chance,
    so a detector that raises random alarms can score close to 1 on data with long events
    (Kim et al., 2022). Report it next to a point-wise metric (``best_f1``, ``pr_auc``) or a
    range-based one (``vus_pr``); it is never below the point-wise F1 of the same predictions.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 for an anomaly, 0 for a normal point; at least one anomaly.
    y_pred : array-like of shape (n_samples,)
        Predictions, 1 = anomaly.

    Returns
    -------
    float

    See Also
    --------
    event_f1 : Counts each event once instead of once per point.

    References
    ----------
    .. [1] H. Xu et al., "Unsupervised Anomaly Detection via Variational Auto-Encoder for
       Seasonal KPIs in Web Applications", WWW 2018.
    .. [2] S. Kim, K. Choi, H.-S. Choi, B. Lee and S. Yoon, "Towards a Rigorous Evaluation of
       Time-Series Anomaly Detection", AAAI 2022.

    Examples
    --------
    One hit in a 4-point event: point-wise F1 0.4 (precision 1, recall 1/4), adjusted F1 1.

    >>> from sklearn.metrics import f1_score
    >>> from anomaly.metrics import point_adjusted_f1
    >>> y_true = [0, 1, 1, 1, 1, 0, 0, 0]
    >>> y_pred = [0, 0, 0, 1, 0, 0, 0, 0]
    >>> round(float(f1_score(y_true, y_pred)), 3), point_adjusted_f1(y_true, y_pred)
    (0.4, 1.0)
    """
    y_true, y_pred = _check_predictions(y_true, y_pred)
    detected, event_of_point = _detected_runs(y_true, y_pred)
    adjusted = y_pred.copy()
    adjusted[y_true == 1] = detected[event_of_point]
    return float(f1_score(y_true, adjusted, zero_division=0.0))


def event_f1(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Event-wise F1: every true and every predicted event counts once, whatever its length.

    - recall = the fraction of true events (runs of 1s in ``y_true``) that hold at least one
      predicted point;
    - precision = the fraction of predicted events (runs of 1s in ``y_pred``) that overlap a
      true event;
    - F1 = their harmonic mean; 0 when nothing is predicted.

    A single alarm spanning two events detects both; a predicted event counts as correct
    however far it runs past the true one. Both precision and recall count events, unlike the
    composite F-score of Garg et al. (2022), which pairs event recall with point-wise precision.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 for an anomaly, 0 for a normal point; at least one anomaly.
    y_pred : array-like of shape (n_samples,)
        Predictions, 1 = anomaly.

    Returns
    -------
    float

    See Also
    --------
    anomaly_events : The events both sides are cut into.
    point_adjusted_f1 : Counts each point of an event, after adjustment.

    Examples
    --------
    Two true events, the first hit; two alarms, the first on an event: precision = recall = 1/2.

    >>> from anomaly.metrics import event_f1
    >>> event_f1([0, 1, 1, 0, 0, 0, 1, 1, 0, 0], [0, 0, 1, 0, 1, 0, 0, 0, 0, 0])
    0.5
    """
    y_true, y_pred = _check_predictions(y_true, y_pred)
    if not y_pred.any():
        return 0.0
    recall = _detected_runs(y_true, y_pred)[0].mean()
    precision = _detected_runs(y_pred, y_true)[0].mean()
    # Python floats: statistics takes a zero as 0, where numpy's would warn of a division.
    return float(statistics.harmonic_mean([float(precision), float(recall)]))


def vus_roc(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    max_window: int = 100,
    n_thresholds: int = 250,
) -> float:
    """Volume Under the Surface of range-based ROC curves (VUS-ROC, Paparrizos et al., 2022).

    Range-AUC-ROC softens the labels with a buffer around every event, so that high scores
    just before or after an event earn partial credit; VUS-ROC averages it over buffer lengths
    0, 1, ..., ``max_window`` so that no single length has to be chosen.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 for an anomaly, 0 for a normal point, in time order; both must occur.
    y_score : array-like of shape (n_samples,)
        Anomaly scores, higher = more abnormal.
    max_window : int, default=100
        Largest buffer length ``l``; a buffer reaches ``l // 2`` points out of each side of an
        event. About the series' period or typical event length suits: TSB-AD 1.5 passes the
        period its ``find_length_rank`` finds (the older VUS package, twice it). With 0 there is
        no buffer.
    n_thresholds : int, default=250
        Number of thresholds, taken at evenly spaced ranks of the scores (250 in the reference
        implementation). When ``n_samples <= n_thresholds`` every score is a threshold.

    Returns
    -------
    float
        1 for a perfect detector (every score a threshold, see ``n_thresholds``); about 0.5
        for chance, more when the buffers cover much of the series.

    See Also
    --------
    vus_pr : The same surface for precision-recall curves.
    roc_auc : The point-wise measure that Range-AUC-ROC extends.

    Notes
    -----
    For a buffer length ``l`` (``h = l // 2``) the labels become continuous: 1 inside an event,
    ``sqrt(1 - d / l)`` at a normal point ``d`` = 1, ..., ``h`` steps from the nearest anomalous
    point, 0 further away. Where the buffers of two events overlap the paper adds the two
    curves and caps the sum at 1; as each curve is at least ``sqrt(1/2)`` there, such points
    are 1. With ``pred`` the points whose score is at least the threshold, ``n`` points and
    ``P`` anomalous points:

    - ``TP = sum(label * pred)``, ``FP = sum(pred) - TP``;
    - ``P_l = P + sum(label * pred over normal points) / 2``, ``N_l = n - P_l``;
    - existence = the fraction of events with a predicted point inside the event or its
      buffer, events whose buffers overlap counting as one;
    - ``TPR = min(TP / P_l, 1) * existence``, ``FPR = FP / N_l``, precision ``= TP / sum(pred)``.

    Range-AUC-ROC is the trapezoidal area under (0, 0), the thresholds' (FPR, TPR) and (1, 1).
    VUS-ROC is its mean over ``l`` = 0, 1, ..., ``max_window``, the paper's unit step.

    Choices, following the authors' code (``RangeAUC_volume_opt`` in TheDatumOrg/VUS,
    ``vus/utils/metrics.py``, and TheDatumOrg/TSB-AD, ``TSB_AD/evaluation/basic_metrics.py``):
    the paper counts the whole buffer in ``P_l = (P + sum(label)) / 2``, with which even a
    perfect detector scores below 1 once ``l >= 2``; the code counts buffer points only where
    they are predicted, as above, so a perfect detector scores 1. Recall is capped at 1, and
    buffers are symmetric (the paper's formula makes the trailing one a point shorter).

    With ``max_window=0`` the labels are the binary ones and the existence factor is the only
    difference from ROC-AUC: for a single event, and every score a threshold, VUS-ROC equals
    ``roc_auc`` (up to rounding); with several events it is lower or equal, as missing a whole
    event costs more than its points. With fewer thresholds than distinct scores the curves are
    sampled at evenly spaced ranks, as the reference code samples them: where the anomalies
    are fewer than ``n_samples / n_thresholds``, every threshold but the highest flags more
    points than there are anomalies, and even a perfect ranking scores well below 1 (VUS-PR
    0.45 for 50 anomalous points among 28,000). Pass ``n_thresholds=len(y_true)`` for the
    exact curves.

    The cost is O(n log n + (max_window + 1) * (n + n_events * n_thresholds)).

    References
    ----------
    .. [1] J. Paparrizos, P. Boniol, T. Palpanas, R. S. Tsay, A. Elmore and M. J. Franklin,
       "Volume Under the Surface: A New Accuracy Evaluation Measure for Time-Series Anomaly
       Detection", PVLDB 15(11): 2774-2787, 2022. https://doi.org/10.14778/3551793.3551830
    .. [2] Q. Liu and J. Paparrizos, "The Elephant in the Room: Towards A Reliable Time-Series
       Anomaly Detection Benchmark", NeurIPS 2024 Datasets and Benchmarks Track (TSB-AD).

    Examples
    --------
    A score that peaks 3 steps after the event: VUS-ROC credits the near miss.

    >>> import numpy as np
    >>> from anomaly.metrics import roc_auc, vus_roc
    >>> y_true = np.zeros(100, dtype=int)
    >>> y_true[40:50] = 1
    >>> y_score = np.zeros(100)
    >>> y_score[43:53] = 1.0
    >>> round(roc_auc(y_true, y_score), 3), round(vus_roc(y_true, y_score, max_window=20), 3)
    (0.833, 0.911)
    """
    return float(np.mean(_range_aucs(y_true, y_score, max_window, n_thresholds)[0]))


def vus_pr(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    max_window: int = 100,
    n_thresholds: int = 250,
) -> float:
    """Volume Under the Surface of range-based precision-recall curves (VUS-PR).

    The precision-recall counterpart of ``vus_roc``, on the same soft labels, thresholds and
    buffer lengths (see its Notes for the definition and its sources).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 for an anomaly, 0 for a normal point, in time order; both must occur.
    y_score : array-like of shape (n_samples,)
        Anomaly scores, higher = more abnormal.
    max_window : int, default=100
        Largest buffer length; see ``vus_roc``.
    n_thresholds : int, default=250
        Number of thresholds; see ``vus_roc``.

    Returns
    -------
    float
        1 for a perfect detector (every score a threshold, see ``vus_roc``'s notes); about
        the fraction of anomalies for chance.

    See Also
    --------
    vus_roc : The ROC version, and the definition.
    pr_auc : The point-wise measure that Range-AUC-PR extends.

    Notes
    -----
    Range-AUC-PR sums, over thresholds from the highest down, the range precision times the
    range recall (``TPR`` of ``vus_roc``) that the threshold adds, as average precision does
    (the authors' current code; their first used the trapezoidal rule). VUS-PR is its mean
    over buffer lengths 0, 1, ..., ``max_window``. With ``max_window=0``, a single event and
    every score a threshold, it equals ``pr_auc``.

    References
    ----------
    .. [1] J. Paparrizos, P. Boniol, T. Palpanas, R. S. Tsay, A. Elmore and M. J. Franklin,
       "Volume Under the Surface: A New Accuracy Evaluation Measure for Time-Series Anomaly
       Detection", PVLDB 15(11): 2774-2787, 2022. https://doi.org/10.14778/3551793.3551830

    Examples
    --------
    >>> import numpy as np
    >>> from anomaly.metrics import pr_auc, vus_pr
    >>> y_true = np.zeros(100, dtype=int)
    >>> y_true[40:50] = 1
    >>> y_score = np.zeros(100)
    >>> y_score[43:53] = 1.0
    >>> round(pr_auc(y_true, y_score), 3), round(vus_pr(y_true, y_score, max_window=20), 3)
    (0.52, 0.791)
    """
    return float(np.mean(_range_aucs(y_true, y_score, max_window, n_thresholds)[1]))


def _range_aucs(
    y_true: ArrayLike, y_score: ArrayLike, max_window: int, n_thresholds: int
) -> tuple[np.ndarray, np.ndarray]:
    """Range-AUC-ROC and Range-AUC-PR for each buffer length 0, 1, ..., max_window."""
    y_true, y_score = _check_scores(y_true, y_score, need_normals=True)
    _check_int(max_window, "max_window", minimum=0)
    _check_int(n_thresholds, "n_thresholds", minimum=2)
    n = len(y_true)
    anomalous = y_true == 1
    n_anomalies = anomalous.sum()
    starts, stops = _event_bounds(y_true)

    order = np.argsort(-y_score, kind="stable")
    ranked = y_score[order]
    thresholds = ranked[np.linspace(0, n - 1, n_thresholds).astype(int)]
    # Each threshold predicts the points scoring at least as much: a prefix of `order`. So
    # sums over predicted points are cumulative sums along `order`, read at the prefix's end.
    n_predicted = np.searchsorted(-ranked, -thresholds, side="right")
    last = n_predicted - 1
    event_hits = np.cumsum(anomalous[order])[last]
    distance = ndimage.distance_transform_edt(~anomalous)

    roc_aucs, pr_aucs = [], []
    for window in range(max_window + 1):
        labels = _soft_labels(anomalous, distance, starts, stops, window)
        tp = np.cumsum(labels[order])[last]
        positives = n_anomalies + (tp - event_hits) / 2
        existence = _existence(y_score, starts, stops, window // 2, thresholds)
        tpr = np.minimum(tp / positives, 1) * existence
        fpr = (n_predicted - tp) / (n - positives)
        precision = tp / n_predicted
        tpr_curve, fpr_curve = np.r_[0, tpr, 1], np.r_[0, fpr, 1]
        roc_aucs.append(np.sum(np.diff(fpr_curve) * (tpr_curve[1:] + tpr_curve[:-1]) / 2))
        pr_aucs.append(np.sum(np.diff(tpr, prepend=0) * precision))
    return np.array(roc_aucs), np.array(pr_aucs)


def _soft_labels(
    anomalous: np.ndarray,
    distance: np.ndarray,
    starts: np.ndarray,
    stops: np.ndarray,
    window: int,
) -> np.ndarray:
    """Labels with a buffer of ``window // 2`` points each side of every event (see vus_roc)."""
    half = window // 2
    if half == 0:
        return anomalous.astype(float)
    n = len(anomalous)
    labels = np.zeros(n)
    near = distance <= half
    labels[near] = np.sqrt(1 - distance[near] / window)
    # Count the buffers covering each point: +1 where one begins, -1 after it ends.
    edges = np.concatenate(
        [np.maximum(starts - half, 0), starts, stops, np.minimum(stops + half, n)]
    )
    steps = np.repeat([1.0, -1.0, 1.0, -1.0], len(starts))
    n_buffers = np.cumsum(np.bincount(edges, weights=steps, minlength=n + 1))[:n]
    labels[n_buffers >= 2] = 1.0
    return labels


def _existence(
    y_score: np.ndarray,
    starts: np.ndarray,
    stops: np.ndarray,
    half: int,
    thresholds: np.ndarray,
) -> np.ndarray:
    """For each threshold, the fraction of events, widened by ``half`` points each side and
    merged where they overlap, that hold a score at or above it."""
    separate = np.r_[True, starts[1:] - stops[:-1] >= 2 * half]
    first = np.maximum(starts[separate] - half, 0)
    end = np.minimum(stops[np.r_[separate[1:], True]] + half, len(y_score))
    # The highest score of each widened event; the -inf pad lets `end` be the series' length.
    padded = np.r_[y_score, -np.inf]
    peaks = np.maximum.reduceat(padded, np.c_[first, end].ravel())[::2]
    return (peaks[:, None] >= thresholds).mean(axis=0)


def _event_bounds(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and (exclusive) stops of the runs of 1s."""
    edges = np.diff(labels, prepend=0, append=0)
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _detected_runs(labels: np.ndarray, hits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whether each run of 1s in ``labels`` holds a 1 of ``hits``, and the run of every 1."""
    inside = labels == 1
    run_of_point = np.cumsum(np.diff(labels, prepend=0) == 1)[inside] - 1
    return np.bincount(run_of_point, weights=hits[inside]) > 0, run_of_point


def _check_labels(y: ArrayLike, name: str) -> np.ndarray:
    """``y`` as a 1-D int array of 0s and 1s, or a ValueError that names it."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {y.shape}")
    if y.size == 0:
        raise ValueError(f"{name} is empty")
    try:
        binary = np.isin(y, (0, 1))
    except TypeError:  # pandas' NA (nullable booleans) has no truth value
        raise ValueError(
            f"{name} must hold only 0 and 1 (1 = anomaly), got a missing value"
        ) from None
    if not binary.all():
        others = np.unique(y[~binary])[:5].tolist()
        raise ValueError(f"{name} must hold only 0 and 1 (1 = anomaly), got {others}")
    return y.astype(int)


def _check_anomalies(y_true: np.ndarray, *, need_normals: bool) -> None:
    if not y_true.any():
        raise ValueError("y_true has no anomalies (no 1s): this metric needs at least one")
    if need_normals and y_true.all():
        raise ValueError("y_true has no normal points (no 0s): this metric needs at least one")


def _check_scores(
    y_true: ArrayLike, y_score: ArrayLike, *, need_normals: bool, allow_inf: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    y_true = _check_labels(y_true, "y_true")
    y_score = np.asarray(y_score, dtype=float)
    if y_score.ndim != 1:
        raise ValueError(f"y_score must be 1-D, got shape {y_score.shape}")
    if len(y_score) != len(y_true):
        raise ValueError(
            f"y_true and y_score have different lengths ({len(y_true)} and {len(y_score)})"
        )
    if np.isnan(y_score).any() or not (allow_inf or np.isfinite(y_score).all()):
        raise ValueError(f"y_score contains NaN{'' if allow_inf else ' or infinite values'}")
    _check_anomalies(y_true, need_normals=need_normals)
    return y_true, y_score


def _check_predictions(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y_true = _check_labels(y_true, "y_true")
    y_pred = _check_labels(y_pred, "y_pred")
    if len(y_pred) != len(y_true):
        raise ValueError(
            f"y_true and y_pred have different lengths ({len(y_true)} and {len(y_pred)})"
        )
    _check_anomalies(y_true, need_normals=False)
    return y_true, y_pred


def _check_int(value: int, name: str, *, minimum: int) -> None:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
