"""Image loaders: IDX files, image folders, (Fashion-)MNIST and the magnetic tiles."""

import dataclasses
import gzip
import hashlib
import shutil
import zipfile

import numpy as np
import pytest
from PIL import Image

from anomaly.datasets import (
    dataset_path,
    load_fashion_mnist,
    load_magnetic_tile,
    load_mnist,
    read_idx,
    read_images,
    registry,
)
from anomaly.datasets.images import _fetch_magnetic_tile, _verify_manifest


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


@pytest.mark.parametrize("gzipped", [True, False])
def test_read_idx_round_trip(tmp_path, gzipped):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / ("x-idx3-ubyte" + (".gz" if gzipped else ""))
    (gzip.open if gzipped else open)(path, "wb").write(_idx_bytes(array))
    np.testing.assert_array_equal(read_idx(path), array)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"PK\x03\x04rest", "not an IDX file"),
        (_idx_bytes(np.zeros((2, 3)))[:-1], "holds 17 bytes .* needs 18: the file is truncated"),
        (_idx_bytes(np.zeros((2, 3))) + b"\0", "holds 19 bytes"),
        (b"", "not an IDX file"),
    ],
)
def test_read_idx_rejects_malformed_files(tmp_path, payload, message):
    path = tmp_path / "bad-idx"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match=message):
        read_idx(path)


def test_read_idx_rejects_a_broken_gzip(tmp_path):
    path = tmp_path / "bad-idx.gz"
    path.write_bytes(gzip.compress(_idx_bytes(np.zeros((4, 4))))[:-6])
    with pytest.raises(ValueError, match="cannot be read"):
        read_idx(path)


def test_read_images_resizes_and_names_bad_files(tmp_path):
    Image.fromarray(np.full((10, 20), 255, dtype=np.uint8)).save(tmp_path / "white.png")
    Image.fromarray(np.zeros((7, 5, 3), dtype=np.uint8)).save(tmp_path / "black.jpg")
    images = read_images([tmp_path / "white.png", tmp_path / "black.jpg"], (6, 4))
    assert images.shape == (2, 6, 4) and images.dtype == np.float32
    np.testing.assert_allclose(images[0], 1.0)
    np.testing.assert_allclose(images[1], 0.0)
    assert read_images([tmp_path / "white.png"], (3, 3), color=True).shape == (1, 3, 3, 3)
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="broken.png is not a readable image"):
        read_images([tmp_path / "white.png", tmp_path / "broken.png"], (3, 3))


def test_load_fashion_mnist(shared_datasets):
    images, labels = load_fashion_mnist("test", data_home=shared_datasets, return_X_y=True)
    assert images.shape == (10000, 28, 28) and images.dtype == np.float32
    assert images.min() == 0 and images.max() == 1
    np.testing.assert_array_equal(np.bincount(labels), np.full(10, 1000))
    train = load_fashion_mnist("train", data_home=shared_datasets)
    assert train.data.shape == (60000, 28, 28) and train.target_names[9] == "Ankle boot"
    assert round(float(train.data.mean()), 4) == 0.2860  # Zalando's published statistic


def test_fashion_mnist_checksum_is_of_the_content(shared_datasets, tmp_path):
    # A re-compressed copy of the same data passes; different data do not.
    source = dataset_path("fashion_mnist/test-labels", shared_datasets)
    target = tmp_path / "fashion_mnist" / source.name
    target.parent.mkdir()
    content = gzip.open(source).read()
    target.write_bytes(gzip.compress(content, compresslevel=1, mtime=0))
    assert dataset_path("fashion_mnist/test-labels", tmp_path) == target
    target.write_bytes(gzip.compress(content[:-1] + b"\x07"))
    with pytest.raises(ValueError, match="does not match the checksum"):
        dataset_path("fashion_mnist/test-labels", tmp_path)


def test_load_mnist_checks_the_archives_published_checksums(tmp_path, monkeypatch):
    # MNIST's published SHA-256 are of the .gz archives: a tiny stand-in with its own digests.
    rng = np.random.default_rng(0)
    parts = {"images": rng.integers(0, 256, (3, 28, 28)), "labels": np.array([7, 2, 1])}
    (tmp_path / "mnist").mkdir()
    for part, array in parts.items():
        entry = registry()[f"mnist/test-{part}"]
        archive = gzip.compress(_idx_bytes(array), mtime=0)
        (tmp_path / entry.path).write_bytes(archive)
        digest = hashlib.sha256(archive).hexdigest()
        monkeypatch.setitem(registry(), entry.name, dataclasses.replace(entry, sha256=digest))
    data = load_mnist("test", data_home=tmp_path)
    assert data.data.shape == (3, 28, 28) and data.data.dtype == np.float32
    np.testing.assert_allclose(data.data * 255, parts["images"], atol=1e-4)
    assert list(data.target) == [7, 2, 1] and data.target_names[7] == "7"
    # Recompressed, the archive's digest no longer matches (and its content's is not listed).
    entry = registry()["mnist/test-labels"]
    (tmp_path / entry.path).write_bytes(gzip.compress(_idx_bytes(parts["labels"]), mtime=1))
    with pytest.raises(ValueError, match="does not match the checksum"):
        load_mnist("test", data_home=tmp_path)


def test_missing_mnist_names_its_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="storage.googleapis.com/cvdf-datasets/mnist"):
        load_mnist("train", data_home=tmp_path)


def test_unknown_subset():
    with pytest.raises(ValueError, match="subset must be 'train' or 'test'"):
        load_fashion_mnist("validation")


def test_load_magnetic_tile(shared_datasets):
    tiles = load_magnetic_tile(size=(32, 24), data_home=shared_datasets)
    assert tiles.data.shape == (1077, 32, 24) and tiles.masks.shape == (1077, 32, 24)
    assert (tiles.target == 0).sum() == 762  # MT_Free
    assert set(tiles.kind[tiles.target == 1]) == {"Blowhole", "Break", "Crack", "Fray", "Uneven"}
    assert not tiles.masks[tiles.target == 0].any()
    assert tiles.masks[tiles.target == 1].any(axis=(1, 2)).mean() > 0.8  # tiny defects vanish


def test_load_magnetic_tile_at_full_resolution(shared_datasets):
    tiles = load_magnetic_tile(data_home=shared_datasets, verify=False)
    assert len(tiles.data) == len(tiles.masks) == 1077
    assert all(image.shape == mask.shape for image, mask in zip(tiles.data, tiles.masks))
    assert len({image.shape for image in tiles.data}) > 100  # each at its own size
    # Every defect keeps its mask (upstream, 4 Uneven tiles have empty masks).
    assert sum(not mask.any() for mask, t in zip(tiles.masks, tiles.target) if t) == 4


def test_magnetic_tile_groups_hold_the_shots_of_one_tile(shared_datasets):
    tiles = load_magnetic_tile(size=(64, 64), data_home=shared_datasets, verify=False)
    free = tiles.target == 0
    rows = tiles.data[free].reshape(free.sum(), -1).astype(float)
    rows = (rows - rows.mean(axis=1, keepdims=True)) / rows.std(axis=1, keepdims=True)
    correlation = rows @ rows.T / rows.shape[1]
    np.fill_diagonal(correlation, -np.inf)
    groups = tiles.groups[free]
    # An image's nearest other image is almost always another shot of its own tile.
    assert (groups[correlation.argmax(axis=1)] == groups).mean() > 0.9
    assert len(np.unique(groups)) == 137 and np.bincount(tiles.groups).max() <= 20
    # No near copy of a defect-free image lies in another group.
    assert not ((correlation > 0.99) & (groups[:, None] != groups)).any()


def test_missing_magnetic_tile_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_magnetic_tile(data_home=tmp_path)


def _tiny_tiles(folder):
    """A two-image folder in the upstream layout, and its manifest."""
    manifest = {}
    for kind, value in [("MT_Free", 0), ("MT_Crack", 255)]:
        (folder / kind / "Imgs").mkdir(parents=True)
        for suffix in (".jpg", ".png"):
            path = folder / kind / "Imgs" / f"a{suffix}"
            Image.fromarray(np.full((6, 6), value, dtype=np.uint8)).save(path)
            manifest[f"{kind}/Imgs/a{suffix}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return manifest


def test_manifest_names_missing_and_corrupted_files(tmp_path):
    manifest = _tiny_tiles(tmp_path)
    _verify_manifest(tmp_path, manifest)
    (tmp_path / "MT_Crack" / "Imgs" / "a.png").write_bytes(b"changed")
    with pytest.raises(ValueError, match="a.png does not match its checksum"):
        _verify_manifest(tmp_path, manifest)
    (tmp_path / "MT_Crack" / "Imgs" / "a.png").unlink()
    with pytest.raises(FileNotFoundError, match="a.png is missing"):
        _verify_manifest(tmp_path, manifest)


def test_download_unpacks_the_manifest_files_or_nothing(tmp_path):
    upstream = tmp_path / "upstream"
    manifest = _tiny_tiles(upstream / "repo-commit")
    archive = shutil.make_archive(str(tmp_path / "archive"), "zip", upstream)
    target = tmp_path / "home" / "magnetic_tile"
    _fetch_magnetic_tile(target, {**manifest}, url=f"file://{archive}")
    _verify_manifest(target, manifest)

    other = tmp_path / "other" / "magnetic_tile"
    with pytest.raises(ValueError, match="has no file MT_Free/Imgs/b.jpg"):
        _fetch_magnetic_tile(
            other, {**manifest, "MT_Free/Imgs/b.jpg": "0" * 64}, url=f"file://{archive}"
        )
    assert not other.exists() and list(other.parent.iterdir()) == []
    with zipfile.ZipFile(archive) as bundle:
        assert any(name.startswith("repo-commit/MT_Free") for name in bundle.namelist())
