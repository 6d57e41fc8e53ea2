"""missing="marginalize": NaN let in, left out of the likelihood and of every scoring rule."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

import anomaly
from anomaly import GANDetector, TimeSeriesDetector, VAEDetector, VAEGANDetector
from anomaly.detectors import likelihood
from anomaly.networks import MaskBesideValuesEncoder, MissingValueEncoder
from tests.conftest import fast_gan, fast_vae, fast_vaegan

RULES = ["reconstruction_probability", "elbo", "reconstruction_error", "standardized_residual"]


def _rows(n_samples=600, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_samples, 6)) @ np.random.default_rng(9).normal(size=(6, 6))


def _remove(X, share, seed):
    X = X.copy()
    X[np.random.default_rng(seed).random(X.shape) < share] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 1.0  # every row keeps an observed value
    return X


@pytest.mark.parametrize("scoring_rule", RULES)
def test_anomalies_missing_values_are_still_found(scoring_rule):
    detector = fast_vae(missing="marginalize", scoring_rule=scoring_rule, epochs=15)
    detector.fit(_remove(_rows(), 0.3, 1))
    test = np.r_[_rows(200, seed=1), _rows(50, seed=2) + 6.0]
    labels = np.r_[np.zeros(200), np.ones(50)]
    scores = detector.score_samples(_remove(test, 0.3, 3))
    assert np.isfinite(scores).all()
    assert roc_auc_score(labels, -scores) > 0.95
    # Scaled to a whole row: normal rows missing half their values are rarely flagged.
    halves = detector.predict(_remove(_rows(200, seed=4), 0.5, 5))
    assert np.mean(halves == -1) < 0.2


@pytest.mark.parametrize("scoring_rule", ["reconstruction_probability", "standardized_residual"])
def test_feature_scores_of_missing_values_are_zero_and_the_rest_sum_to_the_score(scoring_rule):
    detector = fast_vae(missing="marginalize", scoring_rule=scoring_rule).fit(
        _remove(_rows(), 0.2, 1)
    )
    test = _remove(_rows(50, seed=1), 0.3, 2)
    shares = detector.feature_scores(test)
    assert np.all(shares[np.isnan(test)] == 0)
    np.testing.assert_allclose(shares.sum(axis=1), -detector.score_samples(test), rtol=1e-6)


@pytest.mark.parametrize("factory", [fast_vae, fast_gan, fast_vaegan])
def test_on_complete_rows_a_model_that_allows_gaps_is_the_one_that_refuses_them(factory):
    # The mask's mixing starts at zero and gets no gradient without gaps: same weights, also
    # where gradient clipping acts on every step (a zero gradient would enter its norm).
    X = _rows()
    allowing = factory(missing="marginalize", clip_grad_norm=0.01).fit(X)
    refusing = factory(clip_grad_norm=0.01).fit(X)
    np.testing.assert_array_equal(allowing.score_samples(X), refusing.score_samples(X))
    np.testing.assert_array_equal(allowing.network_.state_dict()[_mixing(allowing)].numpy(), 0)


def _mixing(detector) -> str:
    return next(key for key in detector.network_.state_dict() if key.endswith("mixing"))


def test_the_encoder_sees_the_mask_and_reconstructions_fill_the_gaps(tmp_path):
    X = _remove(_rows(), 0.2, 1)
    detector = fast_vae(missing="marginalize").fit(X)
    assert isinstance(detector.network_.encoder, MissingValueEncoder)
    assert not isinstance(fast_vae().fit(_rows()).network_.encoder, MissingValueEncoder)
    filled = detector.reconstruct(X[:20])
    assert np.isfinite(filled).all()  # an imputation of the missing values
    assert np.isfinite(detector.log_likelihood(X[:20], n_draws=4)).all()
    detector.save(tmp_path / "model.safetensors")
    loaded = anomaly.load(tmp_path / "model.safetensors")
    np.testing.assert_array_equal(loaded.score_samples(X[:50]), detector.score_samples(X[:50]))


def test_images_and_series_with_gaps(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.random((40, 1, 8, 8)).astype(np.float32)
    images[rng.random(images.shape) < 0.2] = np.nan
    detector = fast_vae(missing="marginalize", backbone="conv").fit(images)
    # One channel: a shift would only move a gap to another value, so the mask is a channel.
    assert isinstance(detector.network_.encoder, MaskBesideValuesEncoder)
    assert np.isfinite(detector.score_samples(images)).all()
    assert detector.anomaly_map(images[:2]).shape == (2, 8, 8)
    with pytest.raises(ValueError, match="cuts these images into patches, which take no missing"):
        fast_vae(missing="marginalize", patch_size=4).fit(images)
    # The allow_nan tag follows the parameters until a fit on patches rules NaN out.
    patched = fast_vae(missing="marginalize", patch_size=4, synthetic_defects=False)
    assert patched.__sklearn_tags__().input_tags.allow_nan
    patched.fit(np.nan_to_num(images))
    assert not patched.__sklearn_tags__().input_tags.allow_nan
    assert detector.__sklearn_tags__().input_tags.allow_nan
    detector.save(tmp_path / "images")
    np.testing.assert_array_equal(
        anomaly.load(tmp_path / "images").score_samples(images), detector.score_samples(images)
    )
    steps = np.arange(600)
    series = np.c_[np.sin(steps / 8), np.cos(steps / 5)]
    series[rng.random(series.shape) < 0.1] = np.nan
    series[300] = np.nan  # a step with every variable missing: a gap its windows span
    wrapped = TimeSeriesDetector(fast_vae(missing="marginalize"), window_size=10).fit(series)
    assert isinstance(wrapped.detector_.network_.encoder, MaskBesideValuesEncoder)
    assert np.isfinite(wrapped.score_samples(series)).all()
    # A step with nothing observed takes its windows' mean step, evenly over its variables:
    # no variable is named, and the step does not look the most normal of all (0).
    wrapped.set_params(step_scoring="values").fit(series)
    shares, scores = wrapped.feature_scores(series)[300], -wrapped.score_samples(series)
    assert shares[0] == shares[1] and shares.sum() == pytest.approx(scores[300])
    assert scores[300] > np.percentile(scores, 5)


def test_clear_errors_and_tags():
    X = _remove(_rows(), 0.2, 1)
    with pytest.raises(ValueError, match='Input X contains NaN.*missing="marginalize"'):
        VAEDetector(epochs=1).fit(X)
    series = np.c_[np.sin(np.arange(100) / 3), np.cos(np.arange(100) / 3)]
    series[5, 0] = np.nan
    with pytest.raises(ValueError, match='NaN.*with detector__missing="marginalize"'):
        TimeSeriesDetector(VAEDetector(epochs=1), window_size=8).fit(series)
    # The default detector: the same one, named, with missing values taken.
    with pytest.raises(ValueError) as err:
        TimeSeriesDetector(window_size=8).fit(series)
    assert (
        "fit with detector=VAEDetector(scoring_rule='standardized_residual', n_draws=1, "
        "validation_fraction=0.1, n_iter_no_change=5, tol=0.01, missing='marginalize') to take"
    ) in str(err.value)
    # Another error that mentions NaN keeps its own words.
    frame = pd.DataFrame(np.nan_to_num(X)[:, :2], columns=["NaN_rate", "rate"])
    fitted = VAEDetector(epochs=1).fit(frame)
    with pytest.raises(ValueError, match="feature names should match"):
        fitted.score_samples(frame.rename(columns={"rate": "other"}))
    assert not VAEDetector().__sklearn_tags__().input_tags.allow_nan
    assert VAEDetector(missing="marginalize").__sklearn_tags__().input_tags.allow_nan
    assert (
        TimeSeriesDetector(VAEDetector(missing="marginalize"))
        .__sklearn_tags__()
        .input_tags.allow_nan
    )
    assert not TimeSeriesDetector().__sklearn_tags__().input_tags.allow_nan
    detector = fast_vae(missing="marginalize").fit(X)
    empty_row = X[:5].copy()
    empty_row[2] = np.nan
    with pytest.raises(ValueError, match="1 sample\\(s\\) have no observed value.*row 2"):
        detector.score_samples(empty_row)
    empty_column = _rows()
    empty_column[:, 4] = np.nan
    with pytest.raises(ValueError, match="1 feature\\(s\\) are never observed.*column 4"):
        fast_vae(missing="marginalize").fit(empty_column)
    with pytest.raises(ValueError, match="never observed.*column 4 \\('e'\\)"):
        fast_vae(missing="marginalize").fit(pd.DataFrame(empty_column, columns=[*"abcdef"]))
    # ... nor in new data: its residuals' statistics would come from no value.
    with pytest.raises(ValueError, match="1 feature\\(s\\) are never observed.*column 4"):
        detector.partial_fit(empty_column, epochs=1)
    # A gap does not hide a value outside a Bernoulli likelihood's unit interval.
    unit = np.random.default_rng(0).random((40, 3))
    unit[0, 0], unit[1, 1] = np.nan, 5.0
    with pytest.raises(ValueError, match="models values in \\[0, 1\\].*\\[0.*, 5\\]"):
        fast_vae(missing="marginalize", likelihood="bernoulli").fit(unit)


def test_a_gap_a_window_long_is_refused_whatever_the_chunks():
    rng = np.random.default_rng(0)
    series = rng.normal(size=(200, 2))
    wrapped = TimeSeriesDetector(fast_vae(missing="marginalize"), window_size=8).fit(series)
    for first in (8, 11):  # at a multiple of the window size, and between two
        gappy = series[:60].copy()
        gappy[first : first + 8] = np.nan
        message = f"every variable is missing .* window_size=8 .* from step {first}:"
        with pytest.raises(ValueError, match=message):
            wrapped.score_samples(gappy)
        with pytest.raises(ValueError, match=message):
            list(wrapped.score_stream(np.array_split(gappy, 7)))
        with pytest.raises(ValueError, match=message):
            TimeSeriesDetector(fast_vae(missing="marginalize"), window_size=8).fit(gappy)
    gappy = series[:60].copy()
    gappy[11:18] = np.nan  # a step shorter: every window has an observed value
    assert np.isfinite(wrapped.score_samples(gappy)).all()
    # With a stride, no window scored need be blank: then no chunk refuses the gap either.
    wrapped.set_params(stride=4)
    gappy = series[:60].copy()
    gappy[9:17] = np.nan
    whole = wrapped.score_samples(gappy)
    for cut in (9, 17):
        chunked = np.concatenate(list(wrapped.score_stream([gappy[:cut], gappy[cut:]])))
        np.testing.assert_array_equal(chunked, whole)


def test_the_likelihood_of_the_observed_values_is_in_the_inputs_units():
    X = _remove(_rows(300), 0.2, 1)
    values = fast_vae(missing="marginalize").fit(X).log_likelihood(X[:20], random_state=0)
    scaled = fast_vae(missing="marginalize").fit(10 * X)
    # Each observed value's density is ten times lower in units ten times smaller.
    observed = (~np.isnan(X[:20])).sum(axis=1)
    np.testing.assert_allclose(
        values - scaled.log_likelihood(10 * X[:20], random_state=0),
        observed * np.log(10),
        atol=1e-3,
    )


# The least ROC-AUC each rule must keep with 30 % of values missing. The VAE-GAN's critic
# logit is its weakest rule (0.98 here without gaps, 0.93 with them).
ADVERSARIAL_RULES = [
    (fast_gan, "encoder", 0.9),
    (fast_gan, "discriminator", 0.9),
    (fast_gan, "anogan", 0.9),
    (fast_vaegan, "reconstruction_probability", 0.9),
    (fast_vaegan, "feature_reconstruction", 0.9),
    (fast_vaegan, "discriminator", 0.8),
]


@pytest.mark.parametrize(("factory", "scoring_rule", "least_auc"), ADVERSARIAL_RULES)
def test_the_adversarial_detectors_find_anomalies_in_rows_with_gaps(
    factory, scoring_rule, least_auc
):
    detector = factory(missing="marginalize", scoring_rule=scoring_rule, epochs=20)
    detector.fit(_remove(_rows(), 0.3, 1))
    network = detector.network_
    encoder = network.encoder if hasattr(network, "encoder") else network.vae.encoder
    assert isinstance(encoder, MissingValueEncoder)
    test = np.r_[_rows(200, seed=1), _rows(50, seed=2) + 6.0]
    labels = np.r_[np.zeros(200), np.ones(50)]
    scores = detector.score_samples(_remove(test, 0.3, 3))
    assert np.isfinite(scores).all()
    assert roc_auc_score(labels, -scores) > least_auc


def test_the_vaegans_likelihood_leaves_gaps_out():
    detector = fast_vaegan(missing="marginalize").fit(_remove(_rows(), 0.2, 1))
    test = _remove(_rows(50, seed=1), 0.3, 2)
    shares = detector.feature_scores(test)
    assert np.all(shares[np.isnan(test)] == 0)
    np.testing.assert_allclose(shares.sum(axis=1), -detector.score_samples(test), rtol=1e-6)
    assert VAEGANDetector(missing="marginalize").__sklearn_tags__().input_tags.allow_nan


def test_the_gans_residuals_leave_gaps_out_and_complete_rows_score_as_before(tmp_path):
    X = _remove(_rows(), 0.2, 1)
    detector = fast_gan(missing="marginalize").fit(X)
    test = _remove(_rows(50, seed=1), 0.3, 2)
    shares = detector.feature_scores(test)
    assert np.all(shares[np.isnan(test)] == 0) and np.isfinite(shares).all()
    detector.save(tmp_path / "gan.safetensors")
    np.testing.assert_array_equal(
        anomaly.load(tmp_path / "gan.safetensors").score_samples(test), detector.score_samples(test)
    )
    # Without gaps, the gap-aware residuals are the plain ones, to the bit.
    complete = fast_gan().fit(_rows())
    rows = _rows(20, seed=3)
    with torch.no_grad():
        batch = torch.from_numpy(complete._standardize(rows))
        reconstruction = complete.network_.generator(complete.network_.encoder(batch))
        plain = (batch - reconstruction).square()
    np.testing.assert_array_equal(complete.feature_scores(rows), plain.double().numpy())
    with pytest.raises(ValueError, match="Input X contains NaN"):
        GANDetector(epochs=1).fit(X)
    assert GANDetector(missing="marginalize").__sklearn_tags__().input_tags.allow_nan


def test_scoring_fills_the_gaps_in_before_encoding(monkeypatch):
    # Rows on a plane: a missing value is implied by the others.
    rng = np.random.default_rng(0)
    plane = rng.normal(size=(2, 6))
    X = rng.normal(size=(800, 2)) @ plane + 0.05 * rng.normal(size=(800, 6))
    detector = fast_vae(missing="marginalize", epochs=30).fit(_remove(X, 0.2, 1))
    complete = X[:100]
    gapped = complete.copy()
    gapped[:, :2] = np.nan
    codes = detector.transform(complete)
    filled = detector.transform(gapped)
    # The filled-in values steer the encoder, not the likelihood.
    np.testing.assert_array_equal(detector.feature_scores(gapped)[:, :2], 0)
    monkeypatch.setattr(likelihood, "IMPUTATION_ROUNDS", 0)
    np.testing.assert_array_equal(detector.transform(complete), codes)  # no gaps, no change
    unfilled = detector.transform(gapped)
    # Filling the gaps in brings the posterior closer to the complete rows'.
    distance = np.linalg.norm(filled - codes, axis=1).mean()
    assert distance < 0.7 * np.linalg.norm(unfilled - codes, axis=1).mean()
