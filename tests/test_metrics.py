"""Metrics: hand-computed cases, agreement with scikit-learn, VUS properties, input checks."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from anomaly.metrics import (
    _soft_labels,
    anomaly_events,
    best_f1,
    event_f1,
    point_adjusted_f1,
    pr_auc,
    roc_auc,
    vus_pr,
    vus_roc,
)


def series(n: int, *events: tuple[int, int]) -> np.ndarray:
    """Labels of ``n`` points with 1s on each half-open ``(start, stop)`` range."""
    y = np.zeros(n, dtype=int)
    for start, stop in events:
        y[start:stop] = 1
    return y


# --- point-wise ---------------------------------------------------------------------------


def test_roc_and_pr_auc_hand_case():
    y_true, y_score = [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]
    # Anomaly/normal pairs ranked right: 0.35 > 0.1, 0.8 > 0.1, 0.8 > 0.4; wrong: 0.35 < 0.4.
    assert roc_auc(y_true, y_score) == pytest.approx(3 / 4)
    # From the top: 0.8 is an anomaly (recall 1/2, precision 1); 0.4 is not; 0.35 is
    # (recall 1, precision 2/3). Average precision = 1/2 * 1 + 1/2 * 2/3.
    assert pr_auc(y_true, y_score) == pytest.approx(5 / 6)


def test_roc_and_pr_auc_equal_sklearn():
    rng = np.random.default_rng(0)
    y_true = rng.random(300) < 0.1
    y_score = rng.normal(size=300) + y_true
    assert roc_auc(y_true, y_score) == roc_auc_score(y_true, y_score)
    assert pr_auc(y_true, y_score) == average_precision_score(y_true, y_score)


def test_best_f1_hand_case():
    # Thresholds from the top: >= 0.9 flags 1 anomaly (P 1, R 1/2, F1 2/3); >= 0.8 adds a
    # normal point (P 1/2, R 1/2, F1 1/2); >= 0.7 adds the other anomaly (P 2/3, R 1, F1 4/5);
    # lower thresholds only add normal points.
    f1, threshold = best_f1([0, 0, 1, 1, 0], [0.1, 0.2, 0.9, 0.7, 0.8])
    assert f1 == pytest.approx(0.8)
    assert threshold == 0.7


def test_best_f1_is_the_best_over_every_threshold():
    rng = np.random.default_rng(1)
    y_true = (rng.random(200) < 0.15).astype(int)
    y_score = np.round(rng.normal(size=200) + y_true, 1)  # rounded: ties included
    f1, threshold = best_f1(y_true, y_score)
    every = [f1_score(y_true, y_score >= t) for t in np.unique(y_score)]
    assert f1 == pytest.approx(max(every))
    assert f1_score(y_true, y_score >= threshold) == pytest.approx(f1)


# --- events -------------------------------------------------------------------------------


def test_anomaly_events():
    assert anomaly_events([1, 1, 0, 0, 1, 0, 1]) == [(0, 2), (4, 5), (6, 7)]
    assert anomaly_events([0, 0, 0]) == []
    assert anomaly_events(np.array([True, True])) == [(0, 2)]


def test_point_adjusted_f1_hand_case():
    # One event of 4 points at 3..6 and one alarm at 8 outside it.
    y_true = series(10, (3, 7))
    y_pred = series(10, (4, 5), (8, 9))
    # Point-wise: TP 1, FP 1, FN 3 -> F1 = 2 / (2 + 1 + 3) = 1/3.
    assert f1_score(y_true, y_pred) == pytest.approx(1 / 3)
    # Adjusted: the hit at 4 marks all 4 event points -> TP 4, FP 1, FN 0 -> F1 = 8/9.
    assert point_adjusted_f1(y_true, y_pred) == pytest.approx(8 / 9)
    # An event with no hit stays missed: no TP -> F1 0.
    assert point_adjusted_f1(y_true, series(10, (8, 9))) == 0.0


def test_point_adjusted_f1_is_at_least_pointwise_f1():
    rng = np.random.default_rng(2)
    for _ in range(20):
        y_true = series(200, *[(s, s + rng.integers(1, 20)) for s in rng.integers(0, 190, 4)])
        y_pred = (rng.random(200) < rng.uniform(0.01, 0.3)).astype(int)
        assert point_adjusted_f1(y_true, y_pred) >= f1_score(y_true, y_pred)


def test_point_adjusted_f1_rewards_random_alarms_on_a_long_event():
    # What the docstring warns about: 1% random alarms "detect" a 500-point event.
    y_true = series(1000, (250, 750))
    y_pred = (np.random.default_rng(3).random(1000) < 0.01).astype(int)
    assert f1_score(y_true, y_pred) < 0.05
    assert point_adjusted_f1(y_true, y_pred) > 0.95


def test_event_f1_hand_cases():
    y_true = series(20, (2, 5), (10, 12))
    # Both events hit, each by its own alarm: precision 2/2, recall 2/2.
    assert event_f1(y_true, series(20, (4, 6), (11, 12))) == 1.0
    # One alarm hits the first event, another hits nothing: precision 1/2, recall 1/2.
    assert event_f1(y_true, series(20, (3, 4), (15, 17))) == pytest.approx(0.5)
    # Three alarms, all on the first event: precision 3/3, recall 1/2 -> F1 = 2/3.
    assert event_f1(y_true, series(20, (2, 3), (4, 5))) == pytest.approx(2 / 3)
    # One long alarm over both events detects both and is one correct predicted event.
    assert event_f1(y_true, series(20, (0, 15))) == 1.0
    # No alarm at all.
    assert event_f1(y_true, np.zeros(20, dtype=int)) == 0.0


# --- VUS ----------------------------------------------------------------------------------


def test_soft_labels_hand_case():
    # Events at 2 and 6, window 6: buffers of 3 points, label sqrt(1 - d / 6) at distance d.
    y = series(10, (2, 3), (6, 7))
    anomalous = y == 1
    distance = np.abs(np.arange(10)[:, None] - np.array([2, 6])).min(axis=1).astype(float)
    labels = _soft_labels(anomalous, distance, np.array([2, 6]), np.array([3, 7]), window=6)
    d1, d2, d3 = (np.sqrt(1 - d / 6) for d in (1, 2, 3))
    # Points 3, 4, 5 lie in both events' buffers: the summed curves are capped at 1.
    expected = [d2, d1, 1, 1, 1, 1, 1, d1, d2, d3]
    np.testing.assert_allclose(labels, expected)
    # A window of 0 or 1 has no buffer.
    np.testing.assert_array_equal(
        _soft_labels(anomalous, distance, np.array([2, 6]), np.array([3, 7]), window=1), y
    )


def test_vus_hand_case():
    # 10 points, event at 4..5; the score flags 3..4, one step early.
    y_true = series(10, (4, 6))
    y_score = series(10, (3, 5)).astype(float)
    # Windows 0 and 1 (no buffer): plain ROC and PR. Threshold 1 flags 3, 4: TPR 1/2,
    # FPR 1/8, precision 1/2. Threshold 0 flags all: TPR 1, FPR 1, precision 2/10.
    roc_0 = 1 / 8 * (0 + 1 / 2) / 2 + 7 / 8 * (1 / 2 + 1) / 2  # = 11/16, as roc_auc_score
    pr_0 = 1 / 2 * 1 / 2 + 1 / 2 * 2 / 10  # = 0.35, as average_precision_score
    assert roc_0 == pytest.approx(roc_auc_score(y_true, y_score))
    assert pr_0 == pytest.approx(average_precision_score(y_true, y_score))
    # Window 2: one buffer point each side (3 and 6) labelled b = sqrt(1 - 1/2).
    b = np.sqrt(0.5)
    # Threshold 1 flags 3 (buffer) and 4 (event): TP = 1 + b; the predicted buffer adds b/2
    # to the 2 positives; FP = 2 - TP over N = 10 - positives.
    tp, positives = 1 + b, 2 + b / 2
    tpr_1, fpr_1, precision_1 = tp / positives, (2 - tp) / (10 - positives), tp / 2
    # Threshold 0 flags all: TP = 2 + 2b, positives = 2 + b, recall capped at 1.
    fpr_2, precision_2 = (10 - 2 - 2 * b) / (10 - 2 - b), (2 + 2 * b) / 10
    roc_2 = fpr_1 * tpr_1 / 2 + (fpr_2 - fpr_1) * (tpr_1 + 1) / 2 + (1 - fpr_2)  # ~0.8568
    pr_2 = tpr_1 * precision_1 + (1 - tpr_1) * precision_2  # ~0.7129
    assert vus_roc(y_true, y_score, max_window=2) == pytest.approx((2 * roc_0 + roc_2) / 3)
    assert vus_pr(y_true, y_score, max_window=2) == pytest.approx((2 * pr_0 + pr_2) / 3)


@pytest.mark.parametrize("vus", [vus_roc, vus_pr])
def test_vus_of_a_perfect_detector_is_one(vus):
    y_true = series(300, (50, 60), (120, 121), (200, 240))
    assert vus(y_true, y_true.astype(float), max_window=30) == pytest.approx(1.0)
    ranked = y_true + np.random.default_rng(4).uniform(0, 0.5, 300)  # anomalies still on top
    assert vus(y_true, ranked, max_window=30) == pytest.approx(1.0)


def test_vus_roc_of_a_constant_score_is_about_half():
    y_true = series(1000, (400, 420))
    assert vus_roc(y_true, np.zeros(1000), max_window=0) == pytest.approx(0.5)
    # Buffers of up to 5 points add at most ~10 soft positives out of 1000 points.
    assert vus_roc(y_true, np.zeros(1000), max_window=10) == pytest.approx(0.5, abs=0.01)


def test_vus_credits_a_score_shifted_off_the_event():
    y_true = series(500, (200, 220))
    rng = np.random.default_rng(5)
    y_score = np.roll(y_true, 4) + 0.3 * rng.normal(size=500)  # 4 steps late, noisy
    assert vus_roc(y_true, y_score, max_window=20) > roc_auc(y_true, y_score) + 0.01
    assert vus_pr(y_true, y_score, max_window=20) > pr_auc(y_true, y_score) + 0.05


def test_vus_at_window_zero_equals_roc_and_pr_auc_for_one_event():
    y_true = series(400, (150, 170))
    y_score = np.round(np.random.default_rng(6).normal(size=400) + y_true, 1)  # with ties
    # Every score a threshold (n_samples <= n_thresholds): the curves are exact.
    exact = dict(max_window=0, n_thresholds=400)
    assert vus_roc(y_true, y_score, **exact) == pytest.approx(roc_auc(y_true, y_score), abs=1e-12)
    assert vus_pr(y_true, y_score, **exact) == pytest.approx(pr_auc(y_true, y_score), abs=1e-12)
    # The default 250 thresholds sample the curve: close, not equal.
    assert vus_roc(y_true, y_score, max_window=0) == pytest.approx(
        roc_auc(y_true, y_score), abs=0.01
    )


def test_vus_existence_reward_costs_a_missed_event():
    # Two events of 2 points; the score flags the first only.
    y_true = series(20, (2, 4), (12, 14))
    y_score = series(20, (2, 4)).astype(float)
    # ROC-AUC: 2 anomalies beat all 16 normals, 2 tie with them -> (32 + 16) / 64 = 3/4.
    assert roc_auc(y_true, y_score) == pytest.approx(3 / 4)
    # Range ROC: threshold 1 finds half the points but half the events -> TPR 1/2 * 1/2, FPR 0;
    # then (1, 1). Area = (1/4 + 1) / 2 = 5/8.
    assert vus_roc(y_true, y_score, max_window=0) == pytest.approx(5 / 8)


# --- input checks -------------------------------------------------------------------------

SCORE_METRICS = [roc_auc, pr_auc, best_f1, vus_roc, vus_pr]
PREDICTION_METRICS = [point_adjusted_f1, event_f1]


@pytest.mark.parametrize("metric", SCORE_METRICS + PREDICTION_METRICS)
@pytest.mark.parametrize(
    ("y_true", "y_other", "message"),
    [
        ([0, 1, 1], [0, 1], "different lengths"),
        ([], [], "y_true is empty"),
        ([0, 2, 1], [0, 1, 1], "only 0 and 1"),
        ([0, 0, 0], [0, 1, 1], "no anomalies"),
        ([[0, 1], [1, 0]], [[0, 1], [1, 0]], "1-D"),
    ],
)
def test_bad_inputs_raise(metric, y_true, y_other, message):
    with pytest.raises(ValueError, match=message):
        metric(y_true, y_other)


@pytest.mark.parametrize("metric", [roc_auc, vus_roc, vus_pr])
def test_metrics_needing_normals_reject_all_anomalies(metric):
    with pytest.raises(ValueError, match="no normal points"):
        metric([1, 1, 1], [0.1, 0.2, 0.3])


@pytest.mark.parametrize("metric", SCORE_METRICS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_scores_must_be_finite(metric, bad):
    with pytest.raises(ValueError, match="NaN or infinite"):
        metric([0, 1, 0], [0.1, bad, 0.3])


@pytest.mark.parametrize("metric", PREDICTION_METRICS)
def test_predictions_must_be_binary(metric):
    with pytest.raises(ValueError, match="y_pred must hold only 0 and 1"):
        metric([0, 1, 0], [0.0, 0.7, 0.2])


def test_nullable_labels_with_a_missing_value_are_refused():
    labels = pd.Series([False, True, pd.NA, True], dtype="boolean")
    with pytest.raises(ValueError, match="y_true must hold only 0 and 1.*missing value"):
        roc_auc(labels, [0.1, 0.2, 0.3, 0.4])
    assert roc_auc(labels.fillna(False), [0.1, 0.4, 0.2, 0.3]) == 1.0


def test_anomaly_events_checks_labels():
    with pytest.raises(ValueError, match="only 0 and 1"):
        anomaly_events([0, -1, 1])


@pytest.mark.parametrize("vus", [vus_roc, vus_pr])
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"max_window": -1}, "max_window must be an integer >= 0"),
        ({"max_window": 2.5}, "max_window must be an integer >= 0"),
        ({"n_thresholds": 1}, "n_thresholds must be an integer >= 2"),
    ],
)
def test_vus_parameters_are_checked(vus, params, message):
    with pytest.raises(ValueError, match=message):
        vus([0, 1, 0], [0.1, 0.9, 0.3], **params)


# --- parity with TSB-AD's evaluation code (where tsb-ad is installed: the benchmarks extra) --


def _parity_cases() -> list[tuple[str, np.ndarray, np.ndarray, int]]:
    """(name, labels, scores, sliding window): the edge cases TSB-AD's code must agree on."""
    rng = np.random.default_rng(1)
    first = series(60, (0, 3), (30, 34))
    last = series(60, (20, 23), (59, 60))
    many = series(500, *[(start, start + 1 + start % 3) for start in range(10, 490, 16)])
    ties = series(80, (8, 12), (50, 52))
    cases = []
    for name, labels, window in [("first", first, 4), ("last", last, 4), ("many", many, 6)]:
        scores = rng.random(len(labels)) + 0.8 * np.convolve(labels, np.ones(3), "same")
        cases.append((name, labels, scores, window))
    tied_scores = np.round(rng.random(len(ties)) * 3) / 3 + ties * 0.5
    cases.append(("ties", ties, np.round(tied_scores, 1), 8))
    return cases


@pytest.fixture(scope="module")
def tsb_ad():
    """TSB-AD's (Liu & Paparrizos, 2024) basic_metrics module, or a skip."""
    return pytest.importorskip("TSB_AD.evaluation.basic_metrics")


def _tsb_ad_values(tsb_ad, labels: np.ndarray, scores: np.ndarray, window: int) -> dict:
    grader = tsb_ad.basic_metricor()
    *_, vus_roc_value, vus_pr_value = tsb_ad.generate_curve(labels, scores, window)
    return {
        "roc_auc": grader.metric_ROC(labels, scores),
        "pr_auc": grader.metric_PR(labels, scores),
        "vus_roc": vus_roc_value,
        "vus_pr": vus_pr_value,
        "best_f1": grader.metric_PointF1(labels, scores),
    }


def _our_values(labels: np.ndarray, scores: np.ndarray, window: int) -> dict:
    return {
        "roc_auc": roc_auc(labels, scores),
        "pr_auc": pr_auc(labels, scores),
        "vus_roc": vus_roc(labels, scores, max_window=window),
        "vus_pr": vus_pr(labels, scores, max_window=window),
        "best_f1": best_f1(labels, scores)[0],
    }


@pytest.mark.parametrize("case", _parity_cases(), ids=lambda case: case[0])
def test_metrics_agree_with_tsb_ad(tsb_ad, case):
    # TSB-AD's F1 divides by precision + recall + 1e-5, at most 5e-6 below the exact value.
    _, labels, scores, window = case
    theirs = _tsb_ad_values(tsb_ad, labels, scores, window)
    assert _our_values(labels, scores, window) == pytest.approx(theirs, abs=5e-6)


def test_metrics_agree_with_tsb_ad_on_real_labels(tsb_ad, shared_datasets):
    from anomaly.datasets import load_smd

    smd = load_smd("machine-1-6", data_home=shared_datasets)
    labels, scores = smd.test_labels, np.abs(smd.test - smd.train.mean(axis=0)).mean(axis=1)
    window = 100  # TSB-AD's default sliding window
    theirs = _tsb_ad_values(tsb_ad, labels, scores, window)
    assert _our_values(labels, scores, window) == pytest.approx(theirs, abs=5e-6)


def test_event_f1_is_not_tsb_ad_event_based_f1(tsb_ad):
    # Ours: event-wise precision and recall. TSB-AD's: event recall with point-wise precision.
    labels = series(40, (5, 8), (20, 30))
    predictions = series(40, (5, 6), (20, 21), (32, 40))  # both events, one long false alarm
    theirs = tsb_ad.basic_metricor().metric_EventF1PA(labels, predictions, preds=predictions)
    assert event_f1(labels, predictions) == pytest.approx(0.8)  # precision 2/3, recall 1
    assert theirs == pytest.approx(1 / 3)  # precision 2/10 points, recall 1


def test_event_f1_of_alarms_beside_every_event_is_zero_without_a_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert event_f1([0, 1, 0, 0], [1, 0, 0, 0]) == 0.0
