"""TimeSeriesDetector: windows in, one score per time step out."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from anomaly import GANDetector, VAEDetector, timeseries, window_scoring
from anomaly.detectors import base as detector_base
from anomaly.timeseries import TimeSeriesDetector
from tests.conftest import DETECTOR_FACTORIES, fast_gan, fast_vae


def sine_series(n_steps=600, seed=0):
    """Two noisy sines; a test copy with a level shift on two bursts of 12 steps."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps)
    series = np.c_[np.sin(2 * np.pi * t / 40), np.cos(2 * np.pi * t / 25)]
    series += 0.05 * rng.normal(size=series.shape)
    test = series.copy()
    labels = np.zeros(n_steps, dtype=int)
    for start in (200, 450):
        test[start : start + 12, 0] += 2.0
        labels[start : start + 12] = 1
    return series, test, labels


@pytest.mark.parametrize("name", list(DETECTOR_FACTORIES))
@pytest.mark.parametrize("backbone", ["conv", "gru"])
def test_each_detector_finds_the_bursts(name, backbone):
    series, test, labels = sine_series()
    inner = DETECTOR_FACTORIES[name](epochs=15, backbone=backbone, conv_channels=(8, 16))
    detector = TimeSeriesDetector(inner, window_size=20, stride=2).fit(series)
    scores = detector.score_samples(test)
    assert scores.shape == (len(test),) and np.isfinite(scores).all()
    assert roc_auc_score(labels, -scores) > 0.9
    assert detector.detector_.backbone_ == backbone
    assert detector.detector_.window_shape_ == (2, 20) == detector.window_shape_


def test_given_detector_is_not_changed():
    inner = fast_vae()
    TimeSeriesDetector(inner, window_size=10).fit(sine_series(200)[0])
    assert inner.window_shape is None and not hasattr(inner, "network_")


def test_default_detector_is_a_vae_of_one_draw_per_window_stopped_early():
    series = sine_series(100)[0]
    detector = TimeSeriesDetector(window_size=10).fit(series[:60])
    assert type(detector.detector_).__name__ == "VAEDetector"
    assert detector.detector_.n_draws == timeseries.WINDOW_DRAWS == 1
    assert detector.detector_.validation_fraction == 0.1  # early stopping
    assert detector.detector_.get_params() | timeseries.WINDOW_EARLY_STOPPING == (
        detector.detector_.get_params()
    )


@pytest.mark.parametrize(
    "stride, max_train_windows, gap", [(1, None, 7), (3, None, 2), (8, None, 0), (1, 20, 1)]
)
def test_early_stopping_leaves_out_the_windows_that_share_a_step_with_the_held_out_ones(
    stride, max_train_windows, gap, monkeypatch
):
    gaps = []
    monkeypatch.setattr(
        detector_base,
        "train",
        lambda phase, X, config, **kw: gaps.append(config.validation_gap) or {},
    )
    series = sine_series(100)[0]
    detector = TimeSeriesDetector(
        fast_vae(validation_fraction=0.1),
        window_size=8,
        stride=stride,
        max_train_windows=max_train_windows,
    )
    detector.fit(series).partial_fit(series)
    # Windows 8 steps long starting every `stride` steps (every 5 for 19 of 93): those
    # less than 8 steps before the first held-out one share a step with it.
    assert gaps == [gap, gap]
    assert not hasattr(detector.detector_, "_validation_gap")  # for its fits only


def test_a_short_series_still_trains_with_early_stopping():
    # 5 windows of 8 steps: 1 held out, the gap (7) cut to 2 so that 2 still train.
    detector = TimeSeriesDetector(window_size=8).fit(sine_series(12)[0])
    assert len(detector.detector_.history_["loss"]) >= 1


def test_the_wrapped_detectors_parameters_are_checked():
    # scikit-learn skips nested estimators' checks inside fit: the wrapper must not lose them.
    detector = TimeSeriesDetector(VAEDetector(n_draws=0), window_size=10)
    for method in (detector.fit, detector.fit_predict, detector.partial_fit):
        with pytest.raises(ValueError, match="'n_draws' parameter of VAEDetector must be an int"):
            method(sine_series(100)[0])


def test_windows_scored_by_their_nearest_neighbors_are_scored_whole():
    series = np.c_[sine_series(200)[0], np.cos(np.arange(200) / 5)]
    detector = TimeSeriesDetector(fast_vae(n_neighbors=3), window_size=10).fit(series)
    assert detector.step_scoring_ == "window"
    with pytest.raises(ValueError, match="n_neighbors=3 has none"):
        TimeSeriesDetector(fast_vae(n_neighbors=3), window_size=10, step_scoring="both").fit(series)


def test_a_variable_missing_at_the_training_windows_period_is_named():
    # Logged every other step: windows two steps apart all miss it at the same steps.
    series = np.c_[np.sin(np.arange(400) / 3), np.cos(np.arange(400) / 5)]
    series[1::2, 1] = np.nan
    frame = pd.DataFrame(series, columns=["cpu", "memory"])
    detector = TimeSeriesDetector(
        fast_vae(missing="marginalize"), window_size=10, max_train_windows=100
    )
    with pytest.raises(ValueError, match="'memory' is missing at step 1 of every training"):
        detector.fit(frame)
    detector.set_params(max_train_windows=None).fit(frame)  # every start: observed somewhere


def test_steps_on_one_scale_rescales_each_step_by_its_own_share():
    # Two windows of 3 variables x 4 steps (flattened variable-major), shares scaled by the
    # window's values over observed values, as the wrapped detectors give them.
    windows_ = np.ones((2, 12))
    windows_[0, [1, 5]] = np.nan  # window 0, step 1: variables 0 and 1 missing
    windows_[1, [2, 6, 10]] = np.nan  # window 1, step 2: every variable missing
    raw = np.arange(24.0).reshape(2, 12) * ~np.isnan(windows_)
    shares = raw * (12 / (~np.isnan(windows_)).sum(axis=1))[:, None]
    out = window_scoring.steps_on_one_scale(shares, windows_, (3, 4)).reshape(2, 3, 4)
    raw = raw.reshape(2, 3, 4)
    np.testing.assert_allclose(out[0, :, 1], raw[0, :, 1] * 3)  # 1 of 3 observed
    np.testing.assert_allclose(out[0, :, [0, 2, 3]], raw[0, :, [0, 2, 3]])
    # The empty step: its window's mean step, evenly over the variables.
    mean_step = raw[1].sum() / 3
    np.testing.assert_allclose(out[1, :, 2], mean_step / 3)
    np.testing.assert_allclose(out[1].sum(), raw[1].sum() + mean_step)
    whole = np.ones((1, 12))  # windows without gaps come back as they are
    assert window_scoring.steps_on_one_scale(whole, whole, (3, 4)) is whole


@pytest.mark.parametrize("step_scoring", ["values", "both"])
def test_a_step_missing_variables_is_not_made_to_look_normal(step_scoring):
    # Four variables; in the test copy, steps 150-151 miss two of them and step 300 all four.
    rng = np.random.default_rng(0)
    t = np.arange(500)
    series = np.c_[[np.sin(2 * np.pi * t / p) for p in (40, 25, 30, 50)]].T
    series += 0.05 * rng.normal(size=series.shape)
    train = series.copy()
    train[rng.random(train.shape) < 0.05] = np.nan
    detector = TimeSeriesDetector(
        fast_vae(missing="marginalize", epochs=10), window_size=16, step_scoring=step_scoring
    ).fit(train)
    complete = -detector.score_samples(series)
    gappy = series.copy()
    gappy[150:152, :2] = np.nan
    gappy[300] = np.nan
    scores = -detector.score_samples(gappy)
    # Each step's sum is on a complete step's scale, where the window's scale cut it by about
    # the share missing (to 0.36 of its complete score, and the empty step's to 0).
    assert (scores[150:152] > 0.6 * complete[150:152]).all()
    assert scores[300] > np.median(complete) - np.ptp(complete) / 2
    # feature_scores still sum to the step's score.
    np.testing.assert_allclose(detector.feature_scores(gappy).sum(axis=1), scores, rtol=1e-6)


def test_neighbor_scoring_refuses_at_fit_a_window_it_could_not_score():
    series = np.sin(np.arange(105) / 3)[:, None]
    series[95:] = np.nan  # the end window, off the training grid, holds no value
    detector = TimeSeriesDetector(fast_vae(missing="marginalize"), window_size=10, stride=3)
    with pytest.raises(ValueError, match="every variable is missing"):
        detector.fit(series)


def test_block_size_does_not_change_scores(monkeypatch):
    series, test, _ = sine_series(300)
    detector = TimeSeriesDetector(fast_vae(), window_size=16).fit(series)
    whole = detector.score_samples(test)
    monkeypatch.setattr(window_scoring, "BLOCK_WINDOWS", 7)
    np.testing.assert_array_equal(detector.score_samples(test), whole)


@pytest.mark.parametrize("threads", [1, 3])
def test_thread_count_does_not_change_scores_and_is_restored(threads, monkeypatch):
    series, test, _ = sine_series(300)
    detector = TimeSeriesDetector(fast_vae(), window_size=16).fit(series)
    whole = detector.score_samples(test)
    monkeypatch.setattr(window_scoring, "BLOCK_WINDOWS", 16)  # many blocks side by side
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        np.testing.assert_array_equal(detector.score_samples(test), whole)
        assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)


def test_long_series_fit_on_at_most_max_train_windows(monkeypatch):
    fitted_rows = []
    real_fit = type(fast_vae()).fit

    def spy(self, X, y=None):
        fitted_rows.append(len(X))
        return real_fit(self, X, y)

    monkeypatch.setattr(type(fast_vae()), "fit", spy)
    series = sine_series(1009)[0]  # 1000 windows: a stride of 10 would not land on the end
    TimeSeriesDetector(fast_vae(epochs=1), window_size=10, max_train_windows=100).fit(series)
    TimeSeriesDetector(fast_vae(epochs=1), window_size=10, max_train_windows=None).fit(series)
    assert fitted_rows == [100, 1000]


def test_contamination_sets_the_share_of_flagged_training_steps():
    series = sine_series(400)[0]
    detector = TimeSeriesDetector(fast_vae(), window_size=10, contamination=0.1).fit(series)
    assert np.mean(detector.predict(series) == -1) == pytest.approx(0.1, abs=0.01)


def test_pot_threshold_flags_the_bursts_and_few_normal_steps():
    series, test, labels = sine_series(1200)
    detector = TimeSeriesDetector(
        fast_vae(epochs=15), window_size=20, threshold="pot", pot_risk=1e-3
    ).fit(series)
    flagged = detector.predict(test) == -1
    assert flagged[labels == 1].mean() > 0.5
    # Windows that overlap a burst smear it over up to window_size - 1 steps each side.
    far = np.convolve(labels, np.ones(2 * 20 - 1), mode="same") == 0
    assert flagged[far].mean() < 0.02
    assert np.mean(detector.predict(series) == -1) < 0.02


def test_a_series_of_one_window_is_refused_in_steps():
    with pytest.raises(ValueError, match="at least two windows: 10 time steps give one"):
        TimeSeriesDetector(fast_vae(), window_size=10).fit(sine_series(10)[0])
    # And so is an update of one window, and a training of at most one window.
    detector = TimeSeriesDetector(fast_vae(epochs=1), window_size=10).fit(sine_series(50)[0])
    with pytest.raises(ValueError, match="at least two windows: 10 time steps give one"):
        detector.partial_fit(sine_series(10)[0])
    with pytest.raises(ValueError, match="max_train_windows"):
        detector.set_params(max_train_windows=1).fit(sine_series(50)[0])


def test_a_pot_risk_beyond_the_tail_is_refused_before_training(monkeypatch):
    detector = TimeSeriesDetector(threshold="pot", pot_risk=0.05, pot_level=0.98)
    monkeypatch.setattr(VAEDetector, "fit", lambda *args: pytest.fail("trained first"))
    with pytest.raises(
        ValueError, match=r"risk must be in \(0, 1 - level\) = \(0, 0.02\), got 0.05"
    ):
        detector.fit(sine_series(200)[0])


def test_dataframe_keeps_variable_names():
    series = pd.DataFrame(sine_series(200)[0], columns=["cpu", "memory"])
    detector = TimeSeriesDetector(fast_vae(), window_size=10).fit(series)
    np.testing.assert_array_equal(detector.feature_names_in_, ["cpu", "memory"])
    assert detector.score_samples(series).shape == (200,)


def test_pickle_and_clone():
    series = sine_series(200)[0]
    detector = TimeSeriesDetector(fast_vae(), window_size=10).fit(series)
    restored = pickle.loads(pickle.dumps(detector))
    np.testing.assert_array_equal(restored.score_samples(series), detector.score_samples(series))
    assert clone(detector).get_params()["window_size"] == 10


@pytest.mark.parametrize(
    "make_X, message",
    [
        (lambda s: s[:5], "5 time steps, fewer than window_size=10"),
        (lambda s: s[:, 0], "Reshape your data"),
        (lambda s: np.where(np.arange(len(s))[:, None] == 3, np.nan, s), "NaN"),
        (lambda s: s.reshape(len(s), 2, 1), "Found array with dim 3"),
    ],
)
def test_bad_series_at_fit(make_X, message):
    series = sine_series(100)[0]
    with pytest.raises(ValueError, match=message):
        TimeSeriesDetector(fast_vae(), window_size=10).fit(make_X(series))


def test_wrong_number_of_variables_at_scoring():
    series = sine_series(100)[0]
    detector = TimeSeriesDetector(fast_vae(), window_size=10).fit(series)
    with pytest.raises(ValueError, match="3 features, but TimeSeriesDetector is expecting 2"):
        detector.score_samples(np.c_[series, series[:, :1]])
    with pytest.raises(ValueError, match="fewer than window_size=10"):
        detector.score_samples(series[:9])


def test_other_detectors_are_refused():
    from sklearn.ensemble import IsolationForest

    with pytest.raises(ValueError, match="detector"):
        TimeSeriesDetector(IsolationForest()).fit(sine_series(100)[0])


@pytest.mark.parametrize("stride", [1, 3, 7])
@pytest.mark.parametrize("chunk_size", [1, 5, 9, 10, 11, 64, 1000])
def test_streamed_scores_equal_whole_scores_to_the_bit(stride, chunk_size):
    # Chunks smaller than, equal to and larger than the window (10 steps);
    # 203 steps leave a last window off the stride for strides 3 and 7.
    series, test, _ = sine_series(203)
    detector = TimeSeriesDetector(fast_vae(), window_size=10, stride=stride).fit(series)
    chunks = [test[i : i + chunk_size] for i in range(0, len(test), chunk_size)]
    streamed = np.concatenate(list(detector.score_stream(chunks)))
    np.testing.assert_array_equal(streamed, detector.score_samples(test))


def test_stream_of_uneven_and_empty_chunks():
    series, test, _ = sine_series(150)
    detector = TimeSeriesDetector(fast_vae(), window_size=12, stride=2).fit(series)
    cuts = [0, 0, 3, 40, 40, 41, 97, 150]
    chunks = [test[a:b] for a, b in zip(cuts[:-1], cuts[1:])]
    streamed = np.concatenate(list(detector.score_stream(chunks)))
    np.testing.assert_array_equal(streamed, detector.score_samples(test))


def test_stream_shorter_than_a_window_is_a_clear_error():
    series = sine_series(100)[0]
    detector = TimeSeriesDetector(fast_vae(), window_size=10).fit(series)
    with pytest.raises(ValueError, match="7 time steps, fewer than window_size=10"):
        list(detector.score_stream([series[:3], series[3:7]]))


def test_save_and_load_give_identical_scores(tmp_path):
    import anomaly

    series, test, _ = sine_series(200)
    frame = pd.DataFrame(series, columns=["a", "b"])
    detector = TimeSeriesDetector(fast_vae(), window_size=10, stride=3, contamination=0.05)
    detector.fit(frame)
    detector.save(tmp_path / "model.safetensors")
    loaded = anomaly.load(tmp_path / "model.safetensors")
    assert type(loaded) is TimeSeriesDetector
    assert loaded.get_params()["stride"] == 3 and loaded.detector.window_shape is None
    assert loaded.offset_ == detector.offset_ and loaded.window_shape_ == (2, 10)
    np.testing.assert_array_equal(loaded.feature_names_in_, ["a", "b"])
    test_frame = pd.DataFrame(test, columns=["a", "b"])
    np.testing.assert_array_equal(
        loaded.score_samples(test_frame), detector.score_samples(test_frame)
    )
    # The detector parameter as set since fit, not the fitted copy of it.
    detector.set_params(detector__contamination=0.2, detector__epochs=3)
    detector.save(tmp_path / "model.safetensors")
    loaded = anomaly.load(tmp_path / "model.safetensors")
    assert loaded.detector.get_params() == detector.detector.get_params()
    # Another class set since fit cannot be rebuilt from the fitted one's: refused.
    with pytest.raises(ValueError, match="detector was set to a GANDetector since fit"):
        detector.set_params(detector=GANDetector()).save(tmp_path / "other.safetensors")
    # The default detector stays the default.
    TimeSeriesDetector(window_size=10).fit(series[:60]).save(tmp_path / "default.safetensors")
    assert anomaly.load(tmp_path / "default.safetensors").detector is None
    # A value that fit and load would refuse is refused at saving, not written.
    with pytest.raises(ValueError, match="'stride' parameter"):
        detector.set_params(stride=0).save(tmp_path / "other.safetensors")
    assert not (tmp_path / "other.safetensors").exists()


def test_forged_wrapper_header_is_refused(tmp_path):
    import json

    from safetensors import safe_open
    from safetensors.torch import save_file

    import anomaly
    from anomaly import model_file

    path = tmp_path / "model.safetensors"
    TimeSeriesDetector(fast_vae(), window_size=10).fit(sine_series(100)[0]).save(path)
    with safe_open(path, framework="pt") as handle:
        metadata = handle.metadata()
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    wrapper = json.loads(metadata["wrapper"])
    wrapper["attributes"]["__class__"] = 1
    metadata["wrapper"] = json.dumps(wrapper)
    metadata["sha256"] = model_file._digest(tensors, metadata)
    save_file(tensors, path, metadata=metadata)
    with pytest.raises(ValueError, match="unexpected wrapper attributes"):
        anomaly.load(path)


def test_stride_beyond_the_window_is_refused():
    series = sine_series(100)[0]
    with pytest.raises(ValueError, match="stride=11 is larger than window_size=10"):
        TimeSeriesDetector(fast_vae(), window_size=10, stride=11).fit(series)
    # Also when set after fit (a stride up to the window is fine then).
    detector = TimeSeriesDetector(fast_vae(), window_size=10).fit(series)
    assert detector.set_params(stride=10).score_samples(series).shape == (100,)
    with pytest.raises(ValueError, match="stride=11 is larger than window_size=10"):
        detector.set_params(stride=11).score_samples(series)
    with pytest.raises(ValueError, match="stride=11 is larger than window_size=10"):
        list(detector.score_stream([series]))
    for stride in (0, -1, 2.5):  # also checked as it is read, not only at fit
        with pytest.raises((ValueError, TypeError), match="stride"):
            detector.set_params(stride=stride).score_samples(series)


def test_recurrent_backbone_saves_and_loads(tmp_path):
    import anomaly

    series, test, _ = sine_series(150)
    detector = TimeSeriesDetector(fast_vae(backbone="gru"), window_size=10, stride=2).fit(series)
    detector.save(tmp_path / "gru.safetensors")
    loaded = anomaly.load(tmp_path / "gru.safetensors")
    assert loaded.detector_.backbone_ == "gru"
    np.testing.assert_array_equal(loaded.score_samples(test), detector.score_samples(test))


@pytest.mark.parametrize("step_scoring", ["values", "both", "window"])
def test_step_scores_from_non_overlapping_windows_by_hand(step_scoring):
    # With stride == window_size each step is in one window: its score is read off it.
    series, test, _ = sine_series(200)
    detector = TimeSeriesDetector(
        fast_vae(), window_size=10, stride=10, step_scoring=step_scoring
    ).fit(series)
    cut = test.reshape(20, 10, 2).transpose(0, 2, 1).reshape(20, 20)  # variable-major windows
    if step_scoring == "window":
        expected = np.repeat(detector.detector_.score_samples(cut), 10)
    else:
        own = -detector.detector_.feature_scores(cut).reshape(20, 2, 10).sum(axis=1)
        if step_scoring == "both":
            own += own.mean(axis=1, keepdims=True)
        expected = own.ravel()
    # To the bit: the series is standardised once, to the values each window would get.
    np.testing.assert_array_equal(detector.score_samples(test), expected)
    assert detector.step_scoring_ == step_scoring


def test_windows_of_one_variable_score_as_the_wrapped_detector_scores_them():
    # Distances to the nearest training windows ("auto" for one variable), on the same values.
    series = sine_series(200)[0][:, :1]
    detector = TimeSeriesDetector(fast_vae(), window_size=10, stride=10).fit(series)
    assert detector.detector_.n_neighbors_ == 5
    expected = np.repeat(detector.detector_.score_samples(series.reshape(20, 10)), 10)
    np.testing.assert_array_equal(detector.score_samples(series), expected)


def test_the_wrapped_detectors_own_input_checks_still_apply():
    series = np.clip(np.abs(sine_series(200)[0]), 0, 1)
    detector = TimeSeriesDetector(fast_vae(likelihood="bernoulli"), window_size=10).fit(series)
    with pytest.raises(ValueError, match=r"models values in \[0, 1\]"):
        detector.score_samples(series + 1)


def test_a_steps_values_locate_a_short_spike_better_than_its_window():
    # A one-step spike: the window rule spreads it over the 16 steps around it.
    series = sine_series(400)[0]
    test = series.copy()
    test[300, 1] += 3.0
    scores = {
        rule: TimeSeriesDetector(fast_vae(epochs=10), window_size=16, step_scoring=rule)
        .fit(series)
        .score_samples(test)
        for rule in ("values", "both", "window")
    }
    assert scores["values"].argmin() == scores["both"].argmin() == 300
    # How far the spike's neighbours stay above its score, as a share of its drop below
    # the typical score: near 1 when the spike's score is on its own step.
    apart = {
        rule: (s[[299, 301]] - s[300]) / (np.median(s[:250]) - s[300]) for rule, s in scores.items()
    }
    assert apart["values"].min() > 0.8 and apart["both"].min() > 0.8
    assert apart["window"].max() < 0.3


@pytest.mark.parametrize("step_scoring", ["values", "both"])
def test_streamed_step_scores_equal_whole_scores_to_the_bit(step_scoring):
    series, test, _ = sine_series(203)
    detector = TimeSeriesDetector(
        fast_vae(), window_size=10, stride=3, step_scoring=step_scoring
    ).fit(series)
    for chunk_size in (1, 9, 64):
        chunks = [test[i : i + chunk_size] for i in range(0, len(test), chunk_size)]
        streamed = np.concatenate(list(detector.score_stream(chunks)))
        np.testing.assert_array_equal(streamed, detector.score_samples(test))


def test_step_scoring_set_after_fit_waits_for_the_next_fit():
    series = sine_series(100)[0]
    detector = TimeSeriesDetector(fast_vae(), window_size=10, step_scoring="window").fit(series)
    before = detector.score_samples(series)
    detector.set_params(step_scoring="values")
    np.testing.assert_array_equal(detector.score_samples(series), before)


def test_auto_step_scoring_reads_steps_of_several_variables_and_windows_of_one():
    series = sine_series(100)[0]
    several = TimeSeriesDetector(fast_vae(epochs=1), window_size=10).fit(series)
    one = TimeSeriesDetector(fast_vae(epochs=1), window_size=10).fit(series[:, :1])
    assert several.step_scoring_ == "both" and one.step_scoring_ == "window"


def test_pickles_from_before_step_scoring_read_whole_windows():
    series = sine_series(100)[0]
    detector = TimeSeriesDetector(fast_vae(epochs=1), window_size=10, step_scoring="window")
    detector.fit(series)
    state = detector.__getstate__()
    del state["step_scoring"], state["step_scoring_"]
    old = TimeSeriesDetector.__new__(TimeSeriesDetector)
    old.__setstate__(state)
    assert old.step_scoring == old.step_scoring_ == "window"
    np.testing.assert_array_equal(old.score_samples(series), detector.score_samples(series))
    # ... and their detectors from before tol.
    inner = detector.detector_.__getstate__()
    del inner["tol"]
    inner["fitted_params_"] = {k: v for k, v in inner["fitted_params_"].items() if k != "tol"}
    old_inner = VAEDetector.__new__(VAEDetector)
    old_inner.__setstate__(inner)
    assert old_inner.get_params()["tol"] == old_inner.fitted_params_["tol"] == 0.0


@pytest.mark.parametrize("step_scoring", ["values", "both", "window"])
def test_feature_scores_of_non_overlapping_windows_by_hand(step_scoring):
    # Each step in one window: its variables' scores are read off that window's.
    series, test, _ = sine_series(200)
    detector = TimeSeriesDetector(
        fast_vae(), window_size=10, stride=10, step_scoring=step_scoring
    ).fit(series)
    cut = test.reshape(20, 10, 2).transpose(0, 2, 1).reshape(20, 20)  # variable-major windows
    own = detector.detector_.feature_scores(cut).reshape(20, 2, 10)
    if step_scoring == "both":
        own = own + own.mean(axis=2, keepdims=True)
    scores = detector.feature_scores(test)
    np.testing.assert_allclose(scores, own.transpose(0, 2, 1).reshape(200, 2), rtol=1e-12)
    if step_scoring != "window":  # the variables' shares make up the step's score
        np.testing.assert_allclose(scores.sum(axis=1), -detector.score_samples(test), rtol=1e-9)


def test_feature_scores_name_the_shifted_variable():
    series, test, labels = sine_series()
    frame = pd.DataFrame(series, columns=["shifted", "calm"])
    detector = TimeSeriesDetector(fast_vae(epochs=10), window_size=16).fit(frame)
    test = pd.DataFrame(test, columns=frame.columns)
    scores = detector.feature_scores(test)  # no warning of feature names: they are the fitted
    assert list(scores.columns) == ["shifted", "calm"]
    # On the bursts (variable 0 shifted) that variable carries most of the abnormality.
    burst = scores[labels == 1]
    assert (burst["shifted"] > burst["calm"]).mean() > 0.9
    np.testing.assert_allclose(scores.sum(axis=1), -detector.score_samples(test), rtol=1e-9)


@pytest.mark.parametrize("chunk_size", [1, 9, 64])
def test_streamed_feature_scores_equal_whole_ones_and_leave_scores_unchanged(chunk_size):
    series, test, _ = sine_series(203)
    detector = TimeSeriesDetector(fast_vae(), window_size=10, stride=3).fit(series)
    chunks = [test[i : i + chunk_size] for i in range(0, len(test), chunk_size)]
    pairs = list(detector.score_stream(chunks, with_feature_scores=True))
    np.testing.assert_array_equal(
        np.concatenate([scores for scores, _ in pairs]), detector.score_samples(test)
    )
    np.testing.assert_array_equal(
        np.concatenate([values for _, values in pairs]), detector.feature_scores(test)
    )


def test_partial_fit_follows_a_series_into_a_new_regime():
    series = sine_series(800)[0]
    drifted = 2.5 * sine_series(800, seed=1)[0] + 1.0  # louder and shifted from then on
    frozen = TimeSeriesDetector(fast_vae(epochs=10), window_size=16).fit(series)
    updated = clone(frozen).fit(series).partial_fit(drifted[:400], epochs=10)
    assert np.mean(frozen.predict(drifted[400:]) == -1) > 0.9
    assert np.mean(updated.predict(drifted[400:]) == -1) < 0.2
    again = clone(frozen).fit(series).partial_fit(drifted[:400], epochs=10)
    np.testing.assert_array_equal(again.score_samples(drifted), updated.score_samples(drifted))


def test_a_rule_no_value_carries_scores_whole_windows():
    # A discriminator's score has no per-value terms: "auto" takes whole windows, so that
    # the rule chosen is the rule scored; per-value step scoring is refused with it.
    series = np.sin(np.arange(150)[:, None] / 5 + np.arange(3))
    scores = {}
    for rule in ["encoder", "discriminator"]:
        detector = TimeSeriesDetector(fast_gan(epochs=1, scoring_rule=rule), window_size=8)
        detector.fit(series)
        assert detector.step_scoring_ == ("both" if rule == "encoder" else "window")
        scores[rule] = detector.score_samples(series)
    assert not np.allclose(scores["encoder"], scores["discriminator"])
    for step_scoring in ["both", "values"]:
        detector = TimeSeriesDetector(
            fast_gan(epochs=1, scoring_rule="discriminator"), step_scoring=step_scoring
        )
        with pytest.raises(ValueError, match="scoring_rule='discriminator' has none"):
            detector.fit(series)


def test_a_value_beyond_the_models_arithmetic_is_the_one_explained():
    series = pd.DataFrame(np.sin(np.arange(120)[:, None] / 5 + np.arange(3)), columns=list("abc"))
    detector = TimeSeriesDetector(fast_vae(epochs=1), window_size=8).fit(series)
    extreme = series.copy()
    extreme.iloc[50, 1] = 1e300
    scores, shares = detector.score_samples(extreme), detector.feature_scores(extreme)
    overflowed = np.isneginf(scores)
    assert overflowed.sum() == 15  # the steps of the windows over step 50
    assert (shares[overflowed].idxmax(axis=1) == "b").all()
    assert shares.iloc[50].tolist() == [0.0, np.inf, 0.0]
