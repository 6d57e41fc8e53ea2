"""Windows over a series and window scores mapped back to steps (anomaly/windowing.py)."""

import numpy as np
import pytest

from anomaly.windowing import check_series_length, step_scores, window_starts, windows


@pytest.mark.parametrize(
    "n_steps, size, stride, expected",
    [
        (5, 5, 1, [0]),
        (6, 3, 1, [0, 1, 2, 3]),
        (10, 4, 3, [0, 3, 6]),  # 6 + 4 = 10: the stride lands on the end
        (11, 4, 3, [0, 3, 6, 7]),  # one more window ends at the last step
        (7, 3, 10, [0, 4]),
    ],
)
def test_window_starts(n_steps, size, stride, expected):
    np.testing.assert_array_equal(window_starts(n_steps, size, stride), expected)


@pytest.mark.parametrize(
    "first, cover_end, expected",
    [(0, False, [0, 3, 6]), (3, False, [3, 6]), (9, False, []), (9, True, [7])],
)
def test_window_starts_of_a_stream(first, cover_end, expected):
    # A stream asks for the grid windows it has not scored, then for the end window.
    starts = window_starts(11, 4, 3, first=first, cover_end=cover_end)
    np.testing.assert_array_equal(starts, expected)


def test_training_windows_are_capped_evenly():
    np.testing.assert_array_equal(
        window_starts(100, 10, 1, cover_end=False, max_windows=7), np.arange(0, 91, 13)
    )


def test_series_shorter_than_a_window_is_a_clear_error():
    check_series_length(4, 4)
    with pytest.raises(ValueError, match="3 time steps, fewer than window_size=4"):
        check_series_length(3, 4)


def test_windows_are_flattened_variable_major():
    series = np.arange(20.0).reshape(10, 2)  # step t holds (2t, 2t + 1)
    got = windows(series, np.array([1, 6]), 4)
    expected = np.stack([series[s : s + 4].T.ravel() for s in (1, 6)])
    np.testing.assert_array_equal(got, expected)


def test_step_scores_by_hand():
    # Windows of 3 steps at 0, 2, 3 over 6 steps, scored 1, 4, 7:
    # step 0, 1 -> window 0; step 2 -> windows 0, 1; step 3, 4 -> windows 1, 2; step 5 -> 2.
    got = step_scores(np.array([1.0, 4.0, 7.0]), np.array([0, 2, 3]), 3, np.arange(6))
    np.testing.assert_array_equal(got, [1, 1, 2.5, 5.5, 5.5, 7])


def test_minus_infinity_spreads_to_the_steps_it_covers():
    got = step_scores(np.array([1.0, -np.inf]), np.array([0, 2]), 3, np.arange(5))
    np.testing.assert_array_equal(got, [1, 1, -np.inf, -np.inf, -np.inf])


def test_any_subset_of_steps_gets_the_same_scores_to_the_bit():
    rng = np.random.default_rng(0)
    starts = window_starts(500, 17, 3)
    scores = rng.normal(size=len(starts)) * 1e3
    whole = step_scores(scores, starts, 17, np.arange(500))
    for lo, hi in [(0, 1), (5, 77), (200, 500), (499, 500)]:
        # Only the windows that could cover the chunk, as a stream would hold.
        keep = (starts + 17 > lo) & (starts < hi)
        part = step_scores(scores[keep], starts[keep], 17, np.arange(lo, hi))
        np.testing.assert_array_equal(part, whole[lo:hi])


def test_uncovered_steps_are_refused():
    with pytest.raises(ValueError, match="covered by no window"):
        step_scores(np.array([1.0]), np.array([5]), 3, np.arange(4))
