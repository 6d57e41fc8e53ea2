"""sample, transform, inverse_transform and interpolate (anomaly/detectors/generative.py)."""

import numpy as np
import pytest

from anomaly import GANDetector, VAEDetector, VAEGANDetector
from tests.conftest import fast_gan, fast_vae

FAST_VAEGAN = dict(hidden_sizes=(16,), latent_dim=2, epochs=3, random_state=0, device="cpu")


def _rows(n_samples=300, seed=0):
    rng = np.random.default_rng(seed)
    return 100 + 5 * rng.normal(size=(n_samples, 4)) @ rng.normal(size=(4, 4))


DETECTORS = {
    "vae": lambda: fast_vae(),
    "gan": lambda: fast_gan(),
    "vaegan": lambda: VAEGANDetector(**FAST_VAEGAN),
}


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_rows_sample_in_the_inputs_units_and_shape(name):
    X = _rows()
    detector = DETECTORS[name]().fit(X)
    samples = detector.sample(50, random_state=1)
    assert samples.shape == (50, 4)
    # Decoded in the input's units: around the data's mean of 100, not standardised values.
    assert np.all(np.abs(samples.mean(axis=0) - X.mean(axis=0)) < 3 * X.std(axis=0))
    assert np.array_equal(samples, detector.sample(50, random_state=1))
    assert not np.array_equal(samples, detector.sample(50, random_state=2))


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_decoding_the_codes_is_the_reconstruction(name):
    X = _rows()
    detector = DETECTORS[name]().fit(X)
    codes = detector.transform(X)
    assert codes.shape == (len(X), 2)
    np.testing.assert_allclose(detector.inverse_transform(codes), detector.reconstruct(X))


def test_images_come_back_as_images():
    images = np.random.default_rng(0).random((40, 1, 8, 8)).astype(np.float32)
    detector = VAEDetector(epochs=1, latent_dim=3, random_state=0).fit(images)
    assert detector.sample(5, random_state=0).shape == (5, 1, 8, 8)
    assert detector.transform(images).shape == (40, 3)
    path = detector.interpolate(images[0], images[1], n_steps=4)
    assert path.shape == (4, 1, 8, 8)
    np.testing.assert_allclose(path[[0, -1]], detector.reconstruct(images[:2]), rtol=1e-5)


def test_windows_sample_as_the_wrapped_detector_sees_them():
    series = np.sin(np.arange(400) / 5)[:, None] * np.ones(2)
    windows = np.lib.stride_tricks.sliding_window_view(series, 10, axis=0)[::2]  # (n, 2, 10)
    detector = fast_gan(window_shape=(2, 10)).fit(windows.reshape(len(windows), -1))
    assert detector.sample(3, random_state=0).shape == (3, 20)


def test_clear_errors():
    detector = fast_vae().fit(_rows())
    with pytest.raises(ValueError, match="3 latent dimensions; this detector has 2"):
        detector.inverse_transform(np.zeros((2, 3)))
    tiles = [np.random.default_rng(0).random((40, 40)).astype(np.float32) for _ in range(4)]
    patched = VAEDetector(epochs=1, patch_size=16, random_state=0).fit(tiles)
    assert patched.sample(2, random_state=0).shape == (2, 1, 16, 16)
    with pytest.raises(ValueError, match="patches of larger images"):
        patched.transform(tiles)
    with pytest.raises(ValueError, match="not fitted|fitted yet"):
        GANDetector().sample(2)


def test_a_series_detector_samples_stretches_of_series():
    from anomaly import TimeSeriesDetector

    steps = np.arange(600)[:, None]
    series = 50 + 10 * np.sin(steps / (4 + np.arange(3)))  # 3 variables around 50
    detector = TimeSeriesDetector(fast_vae(epochs=3), window_size=12).fit(series)
    windows = detector.sample(20, random_state=0)
    assert windows.shape == (20, 12, 3)
    flat = detector.detector_.sample(20, random_state=0)
    np.testing.assert_array_equal(windows[:, :, 1], flat[:, 12:24])  # variable 1's steps
    assert np.all(np.abs(windows.mean(axis=(0, 1)) - 50) < 15)  # in the series' units


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_codes_take_set_output_and_name_their_columns(name):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = _rows(60)
    pipeline = make_pipeline(StandardScaler(), DETECTORS[name]()).set_output(transform="pandas")
    codes = pipeline.fit(X).transform(X)
    width = pipeline[-1].fitted_params_["latent_dim"]
    prefix = type(pipeline[-1]).__name__.lower()
    assert list(codes.columns) == [f"{prefix}{i}" for i in range(width)]
    np.testing.assert_array_equal(
        codes.to_numpy(), pipeline[-1].transform(pipeline[0].transform(X))
    )
    # interpolate reads the codes as an array whatever transform gives.
    assert pipeline[-1].interpolate(X[0], X[1], n_steps=3).shape == (3, X.shape[1])


@pytest.mark.parametrize("n_samples", [0, -1, 2.0])
def test_sample_needs_a_positive_whole_number(n_samples):
    detector = fast_vae(epochs=1).fit(_rows(20))
    with pytest.raises((ValueError, TypeError), match="n_samples"):
        detector.sample(n_samples)
