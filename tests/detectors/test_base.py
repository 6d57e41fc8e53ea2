"""What BaseDeepDetector gives every detector: trimmed training on contaminated data, and
partial_fit (continued training on new data)."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import anomaly
from anomaly import VAEDetector, VAEGANDetector
from anomaly.detectors import base as detector_base
from tests.conftest import DETECTOR_FACTORIES


def tight_cluster(n_normal: int = 900, n_cluster: int = 100, seed: int = 0):
    """Rows near a 3-D subspace of 20-D space, and 10% of the rows in one tight cluster off it.

    A model that learns every training row fits the cluster best of all (it is
    dense), so it ranks the anomalies as the most normal rows.
    """
    rng = np.random.default_rng(seed)
    normal = rng.normal(size=(n_normal, 3)) @ rng.normal(size=(3, 20))
    normal += 0.1 * rng.normal(size=normal.shape)
    cluster = 2.0 * rng.choice([-1.0, 1.0], size=20) + 0.05 * rng.normal(size=(n_cluster, 20))
    return np.r_[normal, cluster], np.r_[np.zeros(n_normal, int), np.ones(n_cluster, int)]


@pytest.mark.parametrize("detector_class", [VAEDetector, VAEGANDetector])
@pytest.mark.parametrize("seed", [0, 1])
def test_trimmed_training_ranks_a_tight_anomalous_cluster_as_anomalous(detector_class, seed):
    X, y = tight_cluster(seed=seed)

    def auc(trim_fraction):
        detector = detector_class(
            epochs=30, trim_fraction=trim_fraction, device="cpu", random_state=0
        ).fit(X)
        return roc_auc_score(y, -detector.score_samples(X))

    assert auc(0.0) < 0.5  # the cluster was learnt
    assert auc(0.2) > 0.95  # the default leaves it out


def test_trim_fraction_is_validated():
    with pytest.raises(ValueError, match="trim_fraction"):
        VAEDetector(trim_fraction=0.5).fit(np.zeros((10, 2)))


def _regimes(n_samples=400, seed=0):
    """Rows of a first regime, and of a second one shifted far from it."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(4, 4))
    first = rng.normal(size=(n_samples, 4)) @ mixing
    second = rng.normal(size=(n_samples, 4)) @ mixing + 4.0
    return first, second


@pytest.mark.parametrize("name", sorted(DETECTOR_FACTORIES))
def test_an_updated_model_stops_flagging_the_new_regime_a_frozen_one_flags(name):
    first, second = _regimes()
    frozen = DETECTOR_FACTORIES[name](epochs=20).fit(first)
    updated = DETECTOR_FACTORIES[name](epochs=20).fit(first)
    assert np.mean(frozen.predict(second) == -1) > 0.9
    updated.partial_fit(second, epochs=20)
    new_rows = _regimes(seed=1)[1]  # unseen rows of the new regime
    assert np.mean(updated.predict(new_rows) == -1) < 0.2
    assert np.mean(frozen.predict(new_rows) == -1) > 0.9


def test_updates_are_reproducible_and_extend_the_history():
    first, second = _regimes()
    factory = DETECTOR_FACTORIES["VAEDetector"]
    one = factory().fit(first).partial_fit(second, epochs=3)
    two = factory().fit(first).partial_fit(second, epochs=3)
    np.testing.assert_array_equal(one.score_samples(second), two.score_samples(second))
    assert len(one.history_["loss"]) == 5 + 3  # the fit's epochs, then the update's
    # A second update is seeded apart from the first: not the same step again.
    again = factory().fit(first).partial_fit(second, epochs=3).partial_fit(second, epochs=3)
    assert not np.array_equal(again.score_samples(second), one.score_samples(second))
    assert len(again.history_["loss"]) == 11


def test_an_unfitted_detector_is_fitted_and_a_loaded_one_updates_as_in_memory(tmp_path):
    first, second = _regimes()
    factory = DETECTOR_FACTORIES["GANDetector"]
    np.testing.assert_array_equal(
        factory().partial_fit(first).score_samples(first), factory().fit(first).score_samples(first)
    )
    fitted = factory().fit(first)
    fitted.save(tmp_path / "model.safetensors")
    loaded = anomaly.load(tmp_path / "model.safetensors")
    np.testing.assert_array_equal(
        loaded.partial_fit(second, epochs=2).score_samples(second),
        fitted.partial_fit(second, epochs=2).score_samples(second),
    )


@pytest.mark.parametrize("name", sorted(DETECTOR_FACTORIES))
def test_updates_trim_from_their_first_epoch(name, monkeypatch):
    first, second = _regimes()
    detector = DETECTOR_FACTORIES[name]().fit(first)
    seen = []
    original = detector_base.train
    monkeypatch.setattr(
        detector_base, "train", lambda *args, **kw: seen.append(args[2]) or original(*args, **kw)
    )
    detector.partial_fit(second, epochs=1)
    assert seen and all(config.warm_start for config in seen)  # every phase


def test_default_epochs_and_clear_errors():
    first, second = _regimes()
    detector = DETECTOR_FACTORIES["VAEDetector"](epochs=20).fit(first)
    detector.partial_fit(second)
    assert len(detector.history_["loss"]) == 20 + 2  # a tenth of the fit's
    with pytest.raises(ValueError, match="epochs == 0, must be >= 1"):
        detector.partial_fit(second, epochs=0)
    with pytest.raises(ValueError, match="X has 3 features"):
        detector.partial_fit(second[:, :3])


def test_a_failed_update_leaves_the_detector_as_it_was(monkeypatch):
    first, second = _regimes()
    detector = DETECTOR_FACTORIES["VAEDetector"]().fit(first)
    before = detector.score_samples(second)

    def fail(X):
        raise RuntimeError("interrupted")  # after the weights were trained

    monkeypatch.setattr(detector, "_training_scores", fail)
    with pytest.raises(RuntimeError, match="interrupted"):
        detector.partial_fit(second, epochs=2)
    monkeypatch.undo()
    np.testing.assert_array_equal(detector.score_samples(second), before)
    assert len(detector.history_["loss"]) == 5


@pytest.mark.parametrize("name", sorted(DETECTOR_FACTORIES))
def test_an_update_poisoned_by_a_value_beyond_float32_fails_and_changes_nothing(name):
    # Standardised as fitted, 1e300 is infinite in float32: trimming leaves its row out of
    # the loss, but its NaN gradient still reaches every weight.
    first, second = _regimes(n_samples=100)
    detector = DETECTOR_FACTORIES[name]().fit(first)
    before = detector.score_samples(first)
    second[7, 0] = 1e300
    with pytest.raises(FloatingPointError, match="diverged in epoch 1"):
        detector.partial_fit(second, epochs=1)
    np.testing.assert_array_equal(detector.score_samples(first), before)


def test_epochs_are_checked_before_an_unfitted_detector_is_fitted():
    with pytest.raises(ValueError, match="epochs == -5, must be >= 1"):
        DETECTOR_FACTORIES["VAEDetector"]().partial_fit(_regimes()[0], epochs=-5)


def test_an_update_thresholds_by_contamination_as_set_now_and_records_it():
    X = np.random.default_rng(0).normal(size=(200, 3))
    detector = DETECTOR_FACTORIES["VAEDetector"]().fit(X)
    detector.set_params(contamination=0.2).partial_fit(X)
    assert (detector.predict(X) == -1).mean() == pytest.approx(0.2, abs=0.01)
    assert detector.fitted_params_["contamination"] == 0.2
    with pytest.raises(ValueError, match="'contamination' parameter"):
        detector.set_params(contamination=2.0).partial_fit(X)


def test_a_large_constant_feature_reaches_the_network_as_zero():
    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(size=(300, 3)), np.full(300, 1e20)]
    detector = DETECTOR_FACTORIES["VAEDetector"]().fit(X)
    assert np.all(detector._standardize(X)[:, -1] == 0)
    X[0, 1] = 1e300  # its variance overflows
    with pytest.raises(ValueError, match="feature 1 holds values too large to standardise"):
        DETECTOR_FACTORIES["VAEDetector"]().fit(X)


def test_a_constant_channel_reaches_the_network_as_zero_with_unit_scale():
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(40, 2, 6, 6))
    images[:, 0] = 0.3  # its standard deviation comes out 5.6e-17 in floating point
    detector = VAEDetector(
        hidden_sizes=(8,), latent_dim=2, conv_channels=(4,), epochs=1, random_state=0
    ).fit(images)
    nearby = images[:3].copy()
    nearby[:, 0] = 0.3 + 1e-9
    assert np.abs(detector._standardize(nearby.reshape(3, -1))[:, :36]).max() < 1e-6
