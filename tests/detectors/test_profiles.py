import numpy as np
import pytest

from anomaly.detectors.profiles import N_PROFILES, profile_steps, step_window


def test_step_window_fits_twice_in_the_profiles():
    assert step_window((48, 12)) == (23, 5)


@pytest.mark.parametrize("channels", [1, 3])
def test_a_band_shows_as_a_step_in_its_direction_only(channels):
    rng = np.random.default_rng(0)
    image = rng.normal(size=(channels, 60, 50))
    brighter, streaked = image.copy(), image.copy()
    brighter[:, :, 20:] += 1  # the right columns brighter
    streaked[:, 30:] *= 3  # the lower rows' texture stronger
    steps = {
        name: profile_steps(x, (20, 20)).reshape(channels, N_PROFILES)
        for name, x in [("plain", image), ("brighter", brighter), ("streaked", streaked)]
    }
    # Per channel: rows' brightness, rows' contrast, columns' brightness, columns' contrast.
    gain = {name: steps[name] - steps["plain"] for name in ("brighter", "streaked")}
    assert (gain["brighter"][:, 2] > 1).all() and (np.abs(gain["brighter"][:, [0, 1]]) < 1).all()
    assert (gain["streaked"][:, 1] > 1).all() and (np.abs(gain["streaked"][:, [2, 3]]) < 1).all()


def test_a_flat_image_has_finite_steps():
    assert np.isfinite(profile_steps(np.zeros((1, 20, 20)), (5, 5))).all()
