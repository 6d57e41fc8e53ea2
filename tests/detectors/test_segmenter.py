import numpy as np
import pytest
import torch
from scipy.special import expit
from torch import nn

from anomaly.detectors.lines import line_contrast
from anomaly.detectors.profiles import break_window, streak_breaks, streak_steps
from anomaly.detectors.segmenter import (
    BAND_ONSET,
    BREAK_ONSET,
    LINE_ONSET,
    PROFILE_STEP_ONSET,
    banded_map,
    defect_map,
    evidence_scales,
    image_evidence,
    image_scores,
    segment,
)

# One channel: the peak's log-odds, then rows' brightness, rows' contrast, columns' brightness,
# columns' contrast, then the darkest line, then the four streak steps and the streak break;
# training means 0 and standard deviations 1, but the peak's (2, 0.5).
SCALES = np.array([[2.0, *[0.0] * 10], [0.5, *[1.0] * 10]])
LINE = 5
BREAK = 10


def evidence_of(
    peak: float = 2.0,
    steps: tuple[float, ...] = (0, 0, 0, 0),
    line: float = 0.0,
    streaks: tuple[float, ...] = (0, 0, 0, 0),
    breaks: tuple[float, ...] = (0,),
) -> np.ndarray:
    return np.array([peak, *steps, line, *streaks, *breaks], dtype=float)


def lines_at(at: int) -> np.ndarray:
    """One channel's lines: rows', rows', columns', columns' steps, then the break (between
    rows), all just before row or column ``at``."""
    return np.array([(0, at), (0, at), (1, at), (1, at), (0, at)])


def test_the_score_is_the_peak_plus_the_largest_step_and_the_line_beyond_their_onsets():
    evidence = np.array(
        [
            evidence_of(2.5, (0.5, 0.2, -1, 0), LINE_ONSET, (0.5, 0, 0, -2)),
            evidence_of(2.0, (0.5, 3.0, -1, 2.5)),
            evidence_of(line=4.0),
            evidence_of(steps=(2.0, 0, 0, 0), streaks=(0, 0, 3.5, 0)),  # a streak step, larger
        ]
    )
    expected = [1.0, 3.0 - PROFILE_STEP_ONSET, 4.0 - LINE_ONSET, 3.5 - PROFILE_STEP_ONSET]
    np.testing.assert_allclose(image_scores(evidence, SCALES), expected)
    # Steps and line together add up.
    evidence[1, LINE] = 2.0
    assert image_scores(evidence, SCALES)[1] == 3.0 - PROFILE_STEP_ONSET + 2.0 - LINE_ONSET
    # And the streaks' break beyond its own onset, apart from the steps.
    evidence[1, BREAK] = BREAK_ONSET + 1.5
    assert image_scores(evidence, SCALES)[1] == 3.0 - PROFILE_STEP_ONSET + 2.0 - LINE_ONSET + 1.5
    evidence[2, BREAK] = BREAK_ONSET - 0.5  # within its onset: nothing
    assert image_scores(evidence, SCALES)[2] == 4.0 - LINE_ONSET


def test_models_fitted_before_the_line_or_the_streak_steps_or_breaks_score_without_them():
    evidence = evidence_of(steps=(0.5, 3.0, -1, 0), line=4.0, streaks=(5.0, 0, 0, 0))[None]
    evidence[0, BREAK] = 7.0
    before_breaks = image_scores(evidence, SCALES[:, :BREAK])
    np.testing.assert_allclose(before_breaks, [5.0 - PROFILE_STEP_ONSET + 4.0 - LINE_ONSET])
    before_streaks = image_scores(evidence, SCALES[:, : LINE + 1])
    np.testing.assert_allclose(before_streaks, [3.0 - PROFILE_STEP_ONSET + 4.0 - LINE_ONSET])
    before_line = image_scores(evidence, SCALES[:, :LINE])
    np.testing.assert_allclose(before_line, [3.0 - PROFILE_STEP_ONSET])


def test_three_channels_steps_line_and_streaks_in_their_columns():
    # Three channels: 12 profile steps, the line, 12 streak steps, 3 streak breaks.
    scales = np.array([[2.0, *[0.0] * 28], [0.5, *[1.0] * 28]])
    evidence = evidence_of(
        steps=(0,) * 12, line=LINE_ONSET + 1, streaks=(0,) * 11 + (3.0,), breaks=(0, 4.0, 2.0)
    )
    expected = 3.0 - PROFILE_STEP_ONSET + 1 + 4.0 - BREAK_ONSET  # the largest break
    np.testing.assert_allclose(image_scores(evidence[None], scales), [expected])
    # Fitted before the breaks: the streak steps still read at their own columns.
    np.testing.assert_allclose(image_scores(evidence[None], scales[:, :26]), [3.0])
    # Fitted before the streak steps: the line still read at its own column.
    np.testing.assert_allclose(image_scores(evidence[None], scales[:, :14]), [1.0])
    with pytest.raises(ValueError, match="evidence of 14 columns"):
        image_scores(evidence[None, :14], scales)


def test_scales_never_divide_by_next_to_nothing():
    scales = evidence_scales(np.array([[1.0, 2.0], [3.0, 2.0]]))
    np.testing.assert_array_equal(scales, [[2.0, 2.0], [1.0, 1.0]])


@pytest.mark.parametrize(
    ("profile", "position", "marked"),
    [
        (0, 3, (slice(0, 3), slice(None))),  # a rows' step near the top: the rows above it
        (1, 7, (slice(7, 10), slice(None))),  # near the bottom: the rows below
        (3, 2, (slice(None), slice(0, 2))),  # a columns' step: the columns on its left
    ],
)
def test_the_band_is_the_shorter_side_of_the_largest_step(profile, position, marked):
    anomaly_map = np.full((10, 12), 0.01)
    # Neither the line nor a streak step marks a band, however clear.
    evidence = evidence_of(line=BAND_ONSET + 3, streaks=(BAND_ONSET + 5, 0, 0, 0))
    evidence[1 + profile] = BAND_ONSET + 2  # two standard deviations beyond the band's onset
    lines = lines_at(5)
    lines[profile, 1] = position
    banded = banded_map(anomaly_map, evidence, lines, SCALES)
    expected = anomaly_map.copy()
    expected[marked] = expit(2.0 + 0.5 * 2)  # as probable as a peak 2 deviations up
    np.testing.assert_allclose(banded, expected)
    assert (anomaly_map == 0.01).all()  # the map passed in is left as it was


@pytest.mark.parametrize(
    ("line", "marked"),
    [
        ((0, 7), (slice(7, 10), slice(None))),  # between rows, near the bottom: the rows below
        ((1, 4), (slice(None), slice(0, 4))),  # between columns: the columns on its left
    ],
)
def test_a_clear_break_in_the_streaks_bounds_a_band_too(line, marked):
    anomaly_map = np.full((10, 12), 0.01)
    lines = lines_at(5)
    lines[4] = line  # the break's
    evidence = evidence_of(breaks=(BREAK_ONSET + 2,))
    banded = banded_map(anomaly_map, evidence, lines, SCALES)
    expected = anomaly_map.copy()
    expected[marked] = expit(2.0 + 0.5 * 2)  # as a step as far beyond its onset
    np.testing.assert_allclose(banded, expected)
    # With a clear step, both bands: each at its own probability, the higher where they meet.
    evidence[1] = BAND_ONSET + 1  # the rows' brightness, its step after row 3
    lines[0] = (0, 4)
    both = banded_map(anomaly_map, evidence, lines, SCALES)
    step_band = np.full((4, 12), expit(2.0 + 0.5 * 1))
    np.testing.assert_allclose(both[:4], np.maximum(step_band, expected[:4]))
    np.testing.assert_allclose(both[4:], expected[4:])
    # A break within its onset bands nothing, nor does any in a model fitted before them.
    evidence = evidence_of(breaks=(BREAK_ONSET,))
    assert banded_map(anomaly_map, evidence, lines, SCALES) is anomaly_map
    evidence = evidence_of(breaks=(BREAK_ONSET + 5,))
    assert banded_map(anomaly_map, evidence, lines, SCALES[:, :BREAK]) is anomaly_map


def test_no_band_within_its_onset_and_never_below_the_map():
    anomaly_map = np.random.default_rng(0).uniform(size=(10, 12))
    evidence = evidence_of(steps=(BAND_ONSET, 0, 0, 0))
    # A step that counts in the score marks no band until it is clearer.
    assert image_scores(evidence[None], SCALES)[0] == BAND_ONSET - PROFILE_STEP_ONSET > 0
    assert banded_map(anomaly_map, evidence, lines_at(3), SCALES) is anomaly_map
    evidence[1] += 0.01  # a faint band: the map's higher pixels stay as they are
    banded = banded_map(anomaly_map, evidence, lines_at(3), SCALES)
    assert (banded >= anomaly_map).all() and (banded[3:] == anomaly_map[3:]).all()


def test_the_shown_map_lifts_the_pixels_near_an_outline_its_inside_too():
    # A large defect's outline found, its inside not: the inside (as the outside next to
    # the outline) rises above the clean surface far away, and the outline keeps its
    # probability, the peak.
    rows, columns = np.mgrid[:120, :160]
    distance = np.hypot(rows - 60, columns - 50)
    anomaly_map = np.where(np.abs(distance - 20) < 2, 0.9, 0.01)
    evidence = evidence_of()  # no step: no band
    shown = defect_map(anomaly_map, evidence, lines_at(3), SCALES, (16, 16))
    inside, far = shown[60, 50], shown[60, 150]
    assert inside > far + 0.05
    assert (shown >= anomaly_map).all() and shown.max() == 0.9  # never lowered
    # Reflected at the edges: a dim corner of an even map rises to about half of its
    # surroundings' 0.3, not to the 0.045 that the image's outside counted as zero would give.
    even = np.full((40, 30), 0.3)
    even[0, 0] = 0.01
    corner = defect_map(even, evidence, lines_at(3), SCALES, (16, 8))[0, 0]
    assert 0.14 < corner < 0.16
    # A clear step's band goes on top, as on any map.
    evidence[1] = BAND_ONSET + 2
    banded = defect_map(anomaly_map, evidence, lines_at(10), SCALES, (16, 16))
    np.testing.assert_allclose(banded[:10], expit(2.0 + 0.5 * 2))
    np.testing.assert_array_equal(banded[10:], shown[10:])


@pytest.mark.parametrize("patch", [(8, 8), (8, 64), (16, 12)])
def test_evidence_of_images_the_patch_size_and_its_positions_in_the_image(patch):
    rng = np.random.default_rng(0)
    for size in (patch, (patch[0] + 30, patch[1] + 17)):
        image = rng.normal(size=(3, *size))
        evidence, lines = image_evidence(image, np.full(size, 0.5), patch)
        assert evidence.shape == (2 + 9 * 3,) and np.isfinite(evidence).all()
        assert evidence[0] == 0  # log-odds of 0.5
        assert lines.shape == (5 * 3, 2)
        steps = lines[:12].reshape(3, 4, 2)
        assert (steps[:, :2, 0] == 0).all() and (steps[:, 2:, 0] == 1).all()
        for axis, at in lines:
            assert 0 < at < size[axis]
    # A step between columns 20 and 21 of the image, found there, margin included.
    image = rng.normal(size=(1, 40, 50))
    image[:, :, 21:] += 3
    _, lines = image_evidence(image, np.full((40, 50), 0.5), (16, 16))
    assert lines[2].tolist() == [1, 21]
    # Streaks down the columns, others below row 25: the break found there, margin included.
    image = rng.normal(size=50) + 0.3 * rng.normal(size=(1, 40, 50))
    image[0, 25:] = rng.normal(size=50) + 0.3 * rng.normal(size=(15, 50))
    _, lines = image_evidence(image, np.full((40, 50), 0.5), (16, 16))
    assert lines[4].tolist() == [0, 25]


def test_the_profile_steps_are_followed_by_the_darkest_line_a_step_s_window_long():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(1, 40, 50))
    cracked = image.copy()
    cracked[0, :12, 25] -= 3  # from the top edge, 12 rows: longer than the line's 5
    plain, _ = image_evidence(image, np.full((40, 50), 0.5), (16, 16))
    found, _ = image_evidence(cracked, np.full((40, 50), 0.5), (16, 16))
    # 16 x 16 patches: 2 pixels' margin, a step's window (and the line) (12 - 1) // 2 long.
    assert plain[LINE] == line_contrast(image, 5, (2, 2))
    assert found[LINE] > plain[LINE] + 1
    # Then the streak steps, inside the margin, with the profile steps' windows, and the break.
    inner = image[:, 2:-2, 2:-2]
    np.testing.assert_array_equal(plain[LINE + 1 : BREAK], streak_steps(inner, (5, 5)))
    np.testing.assert_array_equal(plain[BREAK:], streak_breaks(inner, (4, 4), (16, 16))[0])
    assert break_window((16, 16)) == (4, 4)


class _HalfOnly(nn.Module):
    """Logits of the half-resolution pass only (the input itself there), none at full."""

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return batch if batch.shape[-1] < 12 else torch.full_like(batch, -20.0)


@pytest.mark.parametrize("column", [14, 15, 16])
def test_the_half_resolution_map_lies_over_the_pixels_it_averaged_on_odd_sides(column):
    image = torch.zeros(1, 1, 9, 17)
    image[..., column] = 10.0
    probabilities = segment(_HalfOnly(), image)[0, 0]
    assert probabilities.shape == (9, 17)
    # The pair of columns averaged together, or the last column alone.
    assert int(probabilities.mean(axis=0).argmax()) in {column - column % 2, column}
    assert probabilities[:, column].min() > 0.5
