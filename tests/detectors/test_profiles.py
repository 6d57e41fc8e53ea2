import numpy as np
import pytest

from anomaly.detectors.profiles import (
    N_PROFILES,
    along_rows,
    break_window,
    profile_steps,
    step_window,
    streak_breaks,
    streak_steps,
)


def test_step_window_fits_twice_in_the_profiles():
    assert step_window((48, 12)) == (23, 5)


@pytest.mark.parametrize("channels", [1, 3])
def test_a_band_shows_as_a_step_in_its_direction_only(channels):
    rng = np.random.default_rng(0)
    image = rng.normal(size=(channels, 60, 50))
    brighter, streaked = image.copy(), image.copy()
    brighter[:, :, 20:] += 1  # the right columns brighter
    streaked[:, 30:] *= 3  # the lower rows' texture stronger
    found = {
        name: [a.reshape(channels, N_PROFILES) for a in profile_steps(x, (20, 20))]
        for name, x in [("plain", image), ("brighter", brighter), ("streaked", streaked)]
    }
    # Per channel: rows' brightness, rows' contrast, columns' brightness, columns' contrast.
    gain = {name: found[name][0] - found["plain"][0] for name in ("brighter", "streaked")}
    assert (gain["brighter"][:, 2] > 1).all() and (np.abs(gain["brighter"][:, [0, 1]]) < 1).all()
    assert (gain["streaked"][:, 1] > 1).all() and (np.abs(gain["streaked"][:, [2, 3]]) < 1).all()
    # Where: the column just after the step; the row within one (contrast takes differences
    # to the row below).
    assert (found["brighter"][1][:, 2] == 20).all()
    assert (np.abs(found["streaked"][1][:, 1] - 30) <= 1).all()
    assert [along_rows(k) for k in range(2 * N_PROFILES)] == [True, True, False, False] * 2


def test_a_flat_image_has_finite_steps():
    steps, positions = profile_steps(np.zeros((1, 20, 20)), (5, 5))
    assert np.isfinite(steps).all() and positions.shape == (4,)


def test_streak_steps_find_the_streaks_turning_where_the_contrast_stays():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(1, 60, 50))
    upper = image[0, :30]
    squared = np.diff(upper, axis=1)[:-1] ** 2 + np.diff(upper, axis=0)[:, :-1] ** 2
    # The lower rows striped down the image, with the upper rows' contrast (squared
    # differences to the right and below), all of it between columns.
    turned = image.copy()
    stripes = np.sqrt(squared.mean() / 4) * (-1.0) ** np.arange(50)
    turned[0, 30:] = stripes + rng.normal(scale=0.1, size=(30, 50))
    contrast = [profile_steps(x, (20, 20))[0][1] for x in (image, turned)]
    streaks = [streak_steps(x, (20, 20)) for x in (image, turned)]
    assert contrast[1] < contrast[0]  # no larger a step in the rows' contrast than before
    # The rows' streaks along them and across them step, the columns' far less.
    assert (streaks[1][:2] > streaks[0][:2] + 1).all()
    assert streaks[1][:2].min() > streaks[1][2:].max() + 1
    assert streak_steps(np.zeros((3, 20, 20)), (5, 5)).shape == (3 * N_PROFILES,)


@pytest.mark.parametrize("turned", [False, True])
def test_a_region_that_cuts_the_streaks_off_is_a_break_one_that_only_brightens_them_is_not(
    turned,
):
    rng = np.random.default_rng(0)
    # Streaks down the columns (or along the rows, turned), with some noise.
    streaks = rng.normal(size=80)
    image = streaks + 0.3 * rng.normal(size=(1, 64, 80))
    # A region from the top, a third of the width, reground: other streaks; or a band across
    # the image, brighter with stronger streaks, the same ones (a profile step's business).
    reground, brighter = image.copy(), image.copy()
    reground[0, :24, 20:47] = rng.normal(size=27) + 0.3 * rng.normal(size=(24, 27))
    brighter[0, :24] = 2 * brighter[0, :24] + 3
    found = {}
    for name, x in [("plain", image), ("reground", reground), ("brighter", brighter)]:
        x = x.transpose(0, 2, 1) if turned else x
        breaks, lines = streak_breaks(x, break_window((32, 32)), (32, 32))
        found[name] = breaks[0]
        if name == "reground":  # its lower edge, between rows 23 and 24 (columns, turned)
            assert lines[0].tolist() == [int(turned), 24]
    assert found["reground"] > found["plain"] + 1
    assert found["brighter"] < found["plain"] + 0.5
    # A region without streaks at all (flat, as where a camera clips) cuts them off too.
    clipped = image.copy()
    clipped[0, 40:] = 1.0
    clipped = clipped.transpose(0, 2, 1) if turned else clipped
    assert streak_breaks(clipped, break_window((32, 32)), (32, 32))[0][0] > found["plain"] + 1
    # Flat or in three channels, one finite break each.
    breaks, lines = streak_breaks(np.zeros((3, 20, 20)), (5, 5), (8, 8))
    assert np.isfinite(breaks).all() and breaks.shape == (3,) and lines.shape == (3, 2)
    assert break_window((64, 60)) == (16, 15)
