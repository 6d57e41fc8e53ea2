"""Persistence (anomaly/io.py) and pickling."""

import json
import pickle

import numpy as np
import pandas as pd
import pytest
from safetensors.torch import save_file
from sklearn.exceptions import NotFittedError

import anomaly
from anomaly import io
from tests.conftest import fast_vae


@pytest.fixture
def saved(fitted, tmp_path):
    path = tmp_path / "model.safetensors"
    fitted.save(path)
    return path


def test_save_load_round_trip_gives_identical_scores(fitted, saved, blobs):
    loaded = anomaly.load(saved)
    assert type(loaded) is type(fitted)
    assert loaded.get_params() == fitted.get_params()
    np.testing.assert_array_equal(loaded.score_samples(blobs), fitted.score_samples(blobs))
    np.testing.assert_array_equal(loaded.predict(blobs), fitted.predict(blobs))
    assert loaded.offset_ == fitted.offset_
    assert loaded.history_ == fitted.history_
    assert loaded.n_features_in_ == fitted.n_features_in_


def test_round_trip_keeps_feature_names_and_scoring_rule(blobs, tmp_path):
    frame = pd.DataFrame(blobs, columns=list("abcd"))
    detector = fast_vae(score="elbo", standardize=False).fit(frame)
    detector.save(tmp_path / "m")
    loaded = anomaly.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.feature_names_in_, detector.feature_names_in_)
    np.testing.assert_array_equal(loaded.score_samples(frame), detector.score_samples(frame))


def test_load_can_override_the_device(saved, fitted, blobs):
    loaded = anomaly.load(saved, device="cpu")
    assert next(loaded.network_.parameters()).device.type == "cpu"
    np.testing.assert_array_equal(loaded.score_samples(blobs), fitted.score_samples(blobs))


def test_pickle_round_trip_gives_identical_scores(fitted, blobs):
    loaded = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(loaded.score_samples(blobs), fitted.score_samples(blobs))
    assert hasattr(fitted, "network_")  # pickling must not strip the original


def test_save_before_fit_fails(tmp_path):
    with pytest.raises(NotFittedError):
        fast_vae().save(tmp_path / "m")


def test_random_state_object_is_saved_as_none(blobs, tmp_path):
    detector = fast_vae(random_state=np.random.RandomState(0)).fit(blobs)
    detector.save(tmp_path / "m")
    loaded = anomaly.load(tmp_path / "m")
    assert loaded.random_state is None
    np.testing.assert_array_equal(loaded.score_samples(blobs), detector.score_samples(blobs))


def test_truncated_file_is_a_clear_error(saved):
    saved.write_bytes(saved.read_bytes()[:-100])
    with pytest.raises(ValueError, match="not a readable model file"):
        anomaly.load(saved)


def test_corrupted_tensor_bytes_are_detected(saved):
    data = bytearray(saved.read_bytes())
    data[-5] ^= 0xFF
    saved.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted: its tensors do not match the checksum"):
        anomaly.load(saved)


def _rewrite_metadata(path, **changes):
    from safetensors import safe_open

    with safe_open(path, framework="pt") as handle:
        metadata = handle.metadata()
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    save_file(tensors, path, metadata={**metadata, **changes})


def test_future_format_version_is_a_clear_error(saved):
    _rewrite_metadata(saved, format_version=str(io.FORMAT_VERSION + 1))
    with pytest.raises(ValueError, match="newer than the version 1 this installation reads"):
        anomaly.load(saved)


def test_unknown_class_is_refused(saved):
    _rewrite_metadata(saved, **{"class": "os.system"})
    with pytest.raises(ValueError, match="unknown detector class"):
        anomaly.load(saved)


def test_corrupted_header_json_is_a_clear_error(saved):
    _rewrite_metadata(saved, params="{not json")
    with pytest.raises(ValueError, match="corrupted header"):
        anomaly.load(saved)


def test_other_safetensors_file_is_refused(tmp_path):
    import torch

    save_file({"w": torch.zeros(2)}, tmp_path / "other.safetensors")
    with pytest.raises(ValueError, match="not an anomaly model file"):
        anomaly.load(tmp_path / "other.safetensors")


def test_garbage_file_is_a_clear_error(tmp_path):
    (tmp_path / "junk").write_bytes(b"\x00" * 3)
    with pytest.raises(ValueError, match="not a readable model file"):
        anomaly.load(tmp_path / "junk")


def test_failed_save_leaves_no_file(fitted, tmp_path, monkeypatch):
    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(io.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        fitted.save(tmp_path / "model.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_saved_header_is_plain_json(saved):
    from safetensors import safe_open

    with safe_open(saved, framework="pt") as handle:
        metadata = handle.metadata()
    assert metadata["class"] == "VAEDetector"
    assert json.loads(metadata["params"])["hidden_sizes"] == [16]
