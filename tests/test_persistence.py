"""Saving and loading (anomaly/persistence.py, anomaly/model_file.py), and pickling."""

import json
import os
import pickle
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import save_file
from sklearn.exceptions import NotFittedError

import anomaly
from anomaly import _atomic, model_file
from anomaly.networks import MaskBesideValuesEncoder, MissingValueEncoder
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
    detector = fast_vae(scoring_rule="elbo", standardize=False).fit(frame)
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
    with pytest.raises(ValueError, match="corrupted: its content does not match the checksum"):
        anomaly.load(saved)


def _rewrite_metadata(path, *, reseal=False, tensors=None, **changes):
    """Edit header fields (and tensors); with ``reseal`` also recompute the checksum, as a
    forger would."""
    from safetensors import safe_open

    with safe_open(path, framework="pt") as handle:
        metadata = {**handle.metadata(), **changes}
        tensors = {key: handle.get_tensor(key) for key in handle.keys()} | (tensors or {})
    if reseal:
        metadata["sha256"] = model_file._digest(tensors, metadata)
    save_file(tensors, path, metadata=metadata)


def test_edited_header_is_detected(saved, fitted):
    attributes = json.loads(_metadata(saved)["attributes"])
    attributes["offset_"] = fitted.offset_ + 1000
    _rewrite_metadata(saved, attributes=json.dumps(attributes))
    with pytest.raises(ValueError, match="corrupted: its content does not match the checksum"):
        anomaly.load(saved)


def test_future_format_version_is_a_clear_error(saved):
    _rewrite_metadata(saved, format_version=str(model_file.FORMAT_VERSION + 1))
    with pytest.raises(ValueError, match="newer than the version 3 this installation reads"):
        anomaly.load(saved)


def test_version_1_file_loads_with_the_row_defaults(saved, fitted, blobs):
    # Version 1 predates images: no image_shape_ / backbone_ attributes and no
    # backbone, image_shape, conv_channels or likelihood parameters.
    metadata = _metadata(saved)
    attributes = json.loads(metadata["attributes"])
    params = json.loads(metadata["params"])
    for name in ("image_shape_", "window_shape_", "backbone_"):
        del attributes[name]
    for name in ("backbone", "image_shape", "window_shape", "conv_channels", "likelihood"):
        params.pop(name, None)
    _rewrite_metadata(
        saved,
        reseal=True,
        format_version="1",
        attributes=json.dumps(attributes),
        params=json.dumps(params),
    )
    loaded = anomaly.load(saved)
    assert loaded.backbone_ == "mlp" and loaded.image_shape_ is None
    np.testing.assert_array_equal(loaded.score_samples(blobs), fitted.score_samples(blobs))


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"class": "os.system"}, "unknown detector class 'os.system'"),
        ({"params": "{not json"}, "corrupted header"),
        ({"params": json.dumps({"no_such_parameter": 1})}, "corrupted header"),
        ({"attributes": json.dumps({"__class__": 1})}, "unexpected attributes"),
        ({"format_version": "x"}, "corrupted header: format version 'x'"),
        ({"wrapper": json.dumps({"class": ["os.system"]})}, "unknown wrapper class"),
        ({"wrapper": json.dumps({"class": "os.system"})}, "unknown wrapper class 'os.system'"),
        ({"wrapper": "[1]"}, "a wrapper field without a class"),
        # Valid JSON that is not what was saved: refused as the file's fault.
        ({"params": "[1]"}, "corrupted header"),
        ({"params": json.dumps({"contamination": 7})}, "corrupted header.*contamination"),
        ({"settings": json.dumps({"scoring_rule": "bogus"})}, "corrupted header.*scoring_rule"),
        ({"attributes": json.dumps({"image_shape_": 3})}, "corrupted header: TypeError"),
    ],
)
def test_crafted_header_is_refused(saved, changes, message):
    _rewrite_metadata(saved, reseal=True, **changes)
    with pytest.raises(ValueError, match=message):
        anomaly.load(saved)


def test_weights_that_do_not_fit_the_network_are_refused(saved):
    name = next(key for key in _metadata_keys(saved) if key.startswith("network."))
    _rewrite_metadata(saved, reseal=True, tensors={name: torch.zeros(3, 3)})
    with pytest.raises(ValueError, match="corrupted header: weights that do not fit its network"):
        anomaly.load(saved)


def _metadata_keys(path):
    from safetensors import safe_open

    with safe_open(path, framework="pt") as handle:
        return list(handle.keys())


def test_save_refuses_what_load_could_not_read(tmp_path):
    from sklearn.ensemble import IsolationForest

    with pytest.raises(TypeError, match="not a IsolationForest"):
        anomaly.save(IsolationForest().fit([[0.0], [1.0]]), tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_save_function_and_method_write_the_same_content(fitted, saved, tmp_path):
    anomaly.save(fitted, tmp_path / "again.safetensors")
    assert _metadata(tmp_path / "again.safetensors") == _metadata(saved)  # checksum included


def _metadata(path):
    from safetensors import safe_open

    with safe_open(path, framework="pt") as handle:
        return handle.metadata()


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

    monkeypatch.setattr(_atomic.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        fitted.save(tmp_path / "model.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_writes_go_through_links_and_into_pipes(tmp_path):
    target = tmp_path / "target.csv"
    target.write_text("old")
    (tmp_path / "latest.csv").symlink_to(target.name)
    with _atomic.atomic_write(tmp_path / "latest.csv", "w") as handle:
        handle.write("new")
    assert (tmp_path / "latest.csv").is_symlink() and target.read_text() == "new"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # so that opening it to write returns
    with _atomic.atomic_write(fifo, "w") as handle:
        handle.write("streamed")
    assert os.read(reader, 100) == b"streamed" and stat.S_ISFIFO(fifo.stat().st_mode)
    os.close(reader)
    # /dev/stdout when it is a pipe: a link to a path that does not exist, yet opens.
    code = (
        "from anomaly._atomic import atomic_write\n"
        "with atomic_write('/dev/stdout', 'w') as f: f.write('out')"
    )
    piped = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    assert piped.stdout == b"out"
    # And when it leads to a regular file (`>> file`): written at its end, not emptied.
    appended = tmp_path / "appended.csv"
    appended.write_text("earlier\n")
    with open(appended, "a") as stdout:
        subprocess.run([sys.executable, "-c", code], stdout=stdout, check=True)
    assert appended.read_text() == "earlier\nout"


def test_only_descriptors_pipes_and_devices_are_written_into(tmp_path):
    assert _atomic.is_stream("/dev/stdout") and _atomic.is_stream("/proc/self/fd/1")
    assert _atomic.is_stream("/dev/null")
    # Files under /dev/shm or reached through /proc are replaced as any file, links too.
    assert not _atomic.is_stream("/dev/shm/scores.csv")
    assert not _atomic.is_stream(f"/proc/self/cwd/{tmp_path}/scores.csv")
    if os.path.isdir("/dev/shm"):
        target = Path("/dev/shm") / f"anomaly-test-{os.getpid()}.csv"
        link = tmp_path / "latest.csv"
        link.symlink_to(target)
        try:
            target.write_text("old")
            with _atomic.atomic_write(link, "w") as handle:
                handle.write("new")
            assert target.read_text() == "new"
        finally:
            target.unlink()


def test_stdout_is_written_from_the_shells_position(tmp_path):
    code = (
        "from anomaly._atomic import atomic_write\n"
        "with atomic_write('/dev/stdout', 'w') as f: f.write('out\\n')"
    )
    command = f'{{ {sys.executable} -c "{code}"; echo done; }} > {tmp_path / "both.txt"}'
    subprocess.run(["sh", "-c", command], check=True)
    assert (tmp_path / "both.txt").read_text() == "out\ndone\n"


def test_a_folder_is_no_output(tmp_path):
    with pytest.raises(IsADirectoryError, match="Is a folder"):
        with _atomic.atomic_write(tmp_path, "w"):
            pass


def test_saved_header_is_plain_json(saved, fitted):
    metadata = _metadata(saved)
    assert metadata["class"] == type(fitted).__name__
    assert json.loads(metadata["params"])["hidden_sizes"] == [16]


def test_saved_file_has_ordinary_permissions(saved):
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(saved.stat().st_mode) == 0o666 & ~umask


def test_numpy_typed_parameters_save(blobs, tmp_path):
    detector = fast_vae(latent_dim=np.int64(2), random_state=np.int64(5), beta=np.float64(0.5))
    detector.fit(blobs).save(tmp_path / "m")
    loaded = anomaly.load(tmp_path / "m")
    assert loaded.random_state == 5 and loaded.latent_dim == 2
    np.testing.assert_array_equal(loaded.score_samples(blobs), detector.score_samples(blobs))


def test_set_params_after_fit_does_not_break_saving_or_pickling(blobs, tmp_path):
    detector = fast_vae().fit(blobs)
    expected = detector.score_samples(blobs)
    detector.set_params(hidden_sizes=(8, 8), latent_dim=3, scoring_rule="elbo")
    detector.save(tmp_path / "m")
    np.testing.assert_array_equal(anomaly.load(tmp_path / "m").score_samples(blobs), expected)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(detector)).score_samples(blobs), expected
    )
    # The parameters as set come back too, as from a pickle: contamination, which an
    # update reads, thresholds the loaded model's update as the saved one's.
    detector.set_params(contamination=0.2)
    detector.save(tmp_path / "m")
    loaded, unpickled = anomaly.load(tmp_path / "m"), pickle.loads(pickle.dumps(detector))
    assert loaded.get_params() == unpickled.get_params() == detector.get_params()
    assert loaded.fitted_params_ == detector.fitted_params_
    np.testing.assert_array_equal(
        loaded.partial_fit(blobs, epochs=1).predict(blobs),
        detector.partial_fit(blobs, epochs=1).predict(blobs),
    )
    # A value that fit and load would refuse is refused at saving, not written.
    with pytest.raises(ValueError, match="'contamination' parameter"):
        detector.set_params(contamination=0.7).save(tmp_path / "other")
    assert not (tmp_path / "other").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_model_fitted_on_a_missing_device_restores_on_the_cpu(fitted, blobs, tmp_path):
    # As if fitted on a GPU machine: the recorded device does not exist here.
    gpu_fitted = pickle.loads(pickle.dumps(fitted))
    gpu_fitted.fitted_params_ = {**fitted.fitted_params_, "device": "cuda"}
    with pytest.warns(UserWarning, match="restored on the CPU instead") as caught:
        unpickled = pickle.loads(pickle.dumps(gpu_fitted))
    assert caught[0].filename == __file__  # the caller's line
    np.testing.assert_array_equal(unpickled.score_samples(blobs), fitted.score_samples(blobs))
    gpu_fitted.save(tmp_path / "m")
    with pytest.warns(UserWarning, match="restored on the CPU instead") as caught:
        anomaly.load(tmp_path / "m")
    assert caught[0].filename == __file__
    # A device asked for is not replaced: refused, as at fit, and not as a corrupted file.
    for device, message in [("cuda", "CUDA is not available"), ("bogus", "not a valid torch")]:
        with pytest.raises(ValueError, match=message) as refused:
            anomaly.load(tmp_path / "m", device=device)
        assert "corrupted" not in str(refused.value)


FIXTURES = Path(__file__).parent / "fixtures"


def old_format_data():
    """The data the fixtures in tests/fixtures/ were fitted and scored on."""
    rng = np.random.default_rng(0)
    rows = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    t = np.arange(80)
    series = pd.DataFrame({"cpu": np.sin(t / 4), "memory": np.cos(t / 9)})
    return rows, series + 0.05 * rng.normal(size=(80, 2))


def missing_values_data():
    """The rows, a fifth of their values missing, that vae_missing_rows_v3 was fitted and
    scored on."""
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(60, 3))
    rows[rng.random(rows.shape) < 0.2] = np.nan
    rows[np.isnan(rows).all(axis=1), 0] = 0.5
    return rows


def test_models_with_the_mask_beside_the_values_load_and_score_as_when_saved(tmp_path):
    rows = missing_values_data()
    name = "vae_missing_rows_v3.safetensors"
    expected = json.loads((FIXTURES / "expected_scores.json").read_text())[name]
    loaded = anomaly.load(FIXTURES / name)
    assert isinstance(loaded.network_.encoder, MaskBesideValuesEncoder)
    np.testing.assert_allclose(loaded.score_samples(rows), expected, rtol=1e-5)
    unpickled = pickle.loads(pickle.dumps(loaded))
    np.testing.assert_array_equal(unpickled.score_samples(rows), loaded.score_samples(rows))
    loaded.save(tmp_path / "m")
    np.testing.assert_array_equal(
        anomaly.load(tmp_path / "m").score_samples(rows), loaded.score_samples(rows)
    )
    # Fitted again, it takes today's encoder.
    assert isinstance(loaded.fit(rows).network_.encoder, MissingValueEncoder)


@pytest.mark.parametrize(
    "name", ["vae_rows_v2.safetensors", "vaegan_series_v2.safetensors", "gan_rows_v2.safetensors"]
)
def test_files_of_format_version_2_load_and_score_as_when_saved(name):
    rows, series = old_format_data()
    data = {"vae": rows, "vaegan": series, "gan": rows.to_numpy()}[name.split("_")[0]]
    expected = json.loads((FIXTURES / "expected_scores.json").read_text())[name]
    loaded = anomaly.load(FIXTURES / name)
    # The weights load bit for bit, but torch picks float32 kernels by CPU (AVX2, AVX-512):
    # on another machine than the fixtures', vaegan_series' scores differed by up to 1e-6.
    np.testing.assert_allclose(loaded.score_samples(data), expected, rtol=1e-5)


def test_save_refuses_a_subclass_that_load_could_not_build(tmp_path):
    class MyVAE(anomaly.VAEDetector):
        pass

    X = np.random.default_rng(0).normal(size=(40, 2))
    with pytest.raises(TypeError, match="not a MyVAE"):
        MyVAE(epochs=1, random_state=0).fit(X).save(tmp_path / "m")
    series = anomaly.TimeSeriesDetector(MyVAE(epochs=1, random_state=0), window_size=5).fit(X)
    with pytest.raises(TypeError, match="not a MyVAE"):
        anomaly.save(series, tmp_path / "m")
    assert not (tmp_path / "m").exists()
