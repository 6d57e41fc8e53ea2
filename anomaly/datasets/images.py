"""Image datasets: IDX files (MNIST, Fashion-MNIST) and folders of PNG/JPEG images."""

from __future__ import annotations

import csv
import gzip
import os
import shutil
import tempfile
import urllib.request
import zipfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from sklearn.utils import Bunch
from tqdm.auto import tqdm

from anomaly.datasets._store import _sha256, dataset_path, get_data_home

__all__ = [
    "FASHION_MNIST_CLASSES",
    "MAGNETIC_TILE_DEFECTS",
    "MNIST_CLASSES",
    "load_fashion_mnist",
    "load_magnetic_tile",
    "load_mnist",
    "read_image",
    "read_idx",
    "read_images",
]

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
MNIST_CLASSES = tuple(str(digit) for digit in range(10))
MAGNETIC_TILE_DEFECTS = ("Blowhole", "Break", "Crack", "Fray", "Uneven")
MAGNETIC_TILE_URL = (
    "https://github.com/abin24/Magnetic-tile-defect-datasets./archive/"
    "cc4eb530b57b9cb7225bf76023873043ffd50655.zip"
)
# Capture numbers of shots of one tile lie mostly within tens of each other, at most some
# 260 apart; tiles are further apart. Measured on the shared 80 % subset: at 200, 3 pairs of
# defect-free shots correlating above 0.99 (squared to 64 x 64) fell in different groups; from
# 300, none, and larger gaps only merge more tiles.
MAGNETIC_TILE_CAPTURE_GAP = 300
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")

# IDX type codes (third byte of the magic number) and the numpy dtypes they denote.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the format of MNIST and Fashion-MNIST), gzipped or not.

    Parameters
    ----------
    path : str or path-like
        An IDX file; a name ending in ``.gz`` is decompressed.

    Returns
    -------
    array : ndarray
        The array with the shape and dtype the header declares.

    Raises
    ------
    ValueError
        If the header is not IDX or the data are shorter or longer than it says.

    Examples
    --------
    >>> import gzip, tempfile, numpy as np
    >>> path = tempfile.mkdtemp() + "/tiny-idx1-ubyte.gz"
    >>> with gzip.open(path, "wb") as f:
    ...     _ = f.write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))
    >>> read_idx(path)
    array([7, 8, 9], dtype=uint8)
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            payload = handle.read()
    except (OSError, EOFError) as err:
        raise ValueError(f"{path} cannot be read ({err}).") from err
    if len(payload) < 4 or payload[:2] != b"\0\0" or payload[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {payload[:4]!r}).")
    ndim = payload[3]
    header = 4 + 4 * ndim
    shape = tuple(int(n) for n in np.frombuffer(payload[4:header], dtype=">u4"))
    dtype = np.dtype(_IDX_DTYPES[payload[2]])
    expected = header + dtype.itemsize * int(np.prod(shape))
    if len(payload) != expected:
        raise ValueError(
            f"{path} holds {len(payload)} bytes but its IDX header (shape {shape}) needs "
            f"{expected}: the file is truncated or corrupted."
        )
    array = np.frombuffer(payload, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # native byte order, writable


def load_fashion_mnist(
    subset: str = "train",
    *,
    data_home: str | os.PathLike | None = None,
    download: bool = False,
    return_X_y: bool = False,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load Fashion-MNIST (Xiao et al., 2017): 28 x 28 grey images of 10 clothing classes.

    Parameters
    ----------
    subset : {"train", "test"}, default="train"
        60,000 training or 10,000 test images.
    data_home : str or path-like, optional
        Data directory holding ``fashion_mnist/*.gz``; defaults to
        ``$ANOMALY_DATA``, then ``~/anomaly_data``.
    download : bool, default=False
        Fetch missing files from upstream (checksums are of the decompressed
        content, so any faithful gzip of the same data passes).
    return_X_y : bool, default=False
        Return ``(images, labels)`` instead of a Bunch.

    Returns
    -------
    data : Bunch
        ``data`` (float32 in [0, 1], shape (n, 28, 28)), ``target`` (int class
        0-9), ``target_names`` (:data:`FASHION_MNIST_CLASSES`).

    Examples
    --------
    >>> from anomaly.datasets import load_fashion_mnist
    >>> images, labels = load_fashion_mnist("test", return_X_y=True)  # doctest: +SKIP
    >>> images.shape, images.dtype, labels[:3]  # doctest: +SKIP
    ((10000, 28, 28), dtype('float32'), array([9, 2, 1]))
    """
    return _load_idx_images(
        "fashion_mnist", FASHION_MNIST_CLASSES, subset, data_home, download, return_X_y
    )


def load_mnist(
    subset: str = "train",
    *,
    data_home: str | os.PathLike | None = None,
    download: bool = False,
    return_X_y: bool = False,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load MNIST (LeCun et al., 1998): 28 x 28 grey images of handwritten digits 0-9.

    Parameters
    ----------
    subset : {"train", "test"}, default="train"
        60,000 training or 10,000 test images.
    data_home : str or path-like, optional
        Data directory holding ``mnist/*.gz``; defaults to ``$ANOMALY_DATA``,
        then ``~/anomaly_data``.
    download : bool, default=False
        Fetch missing files from the mirror TensorFlow uses (checksums are
        those published for its archives).
    return_X_y : bool, default=False
        Return ``(images, labels)`` instead of a Bunch.

    Returns
    -------
    data : Bunch
        ``data`` (float32 in [0, 1], shape (n, 28, 28)), ``target`` (int digit
        0-9), ``target_names`` (:data:`MNIST_CLASSES`).

    Examples
    --------
    >>> from anomaly.datasets import load_mnist
    >>> images, labels = load_mnist("test", return_X_y=True)  # doctest: +SKIP
    >>> images.shape, labels[:3]  # doctest: +SKIP
    ((10000, 28, 28), array([7, 2, 1]))
    """
    return _load_idx_images("mnist", MNIST_CLASSES, subset, data_home, download, return_X_y)


def _load_idx_images(
    dataset: str,
    class_names: tuple[str, ...],
    subset: str,
    data_home: str | os.PathLike | None,
    download: bool,
    return_X_y: bool,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """An MNIST-format set (IDX images and labels per subset), pixels scaled to [0, 1]."""
    if subset not in ("train", "test"):
        raise ValueError(f"subset must be 'train' or 'test', got {subset!r}.")
    paths = {
        part: dataset_path(f"{dataset}/{subset}-{part}", data_home, download=download)
        for part in ("images", "labels")
    }
    images, labels = read_idx(paths["images"]), read_idx(paths["labels"])
    if images.ndim != 3 or labels.shape != (len(images),):
        raise ValueError(f"unexpected {dataset} shapes {images.shape} and {labels.shape}")
    images = images.astype(np.float32) / 255
    labels = labels.astype(int)
    if return_X_y:
        return images, labels
    return Bunch(data=images, target=labels, target_names=list(class_names))


def read_images(
    paths: Sequence[str | os.PathLike],
    size: tuple[int, int],
    *,
    color: bool = False,
    resample: Image.Resampling = Image.Resampling.BILINEAR,
) -> np.ndarray:
    """Read PNG/JPEG files into one array, each resized to ``size``.

    Parameters
    ----------
    paths : sequence of str or path-like
        Image files.
    size : (height, width)
        Size of every output image.
    color : bool, default=False
        Read RGB, shape (n, 3, height, width); else grey, (n, height, width).
    resample : PIL.Image.Resampling, default=BILINEAR
        Resampling filter (``NEAREST`` keeps masks binary).

    Returns
    -------
    images : ndarray of float32 in [0, 1]

    Raises
    ------
    ValueError
        Naming the first file that is not a readable image.
    """
    height, width = size
    shape = (len(paths), 3, height, width) if color else (len(paths), height, width)
    images = np.empty(shape, dtype=np.float32)
    for i, path in enumerate(paths):
        images[i] = read_image(path, size, color=color, resample=resample)
    return images


def read_image(
    path: str | os.PathLike,
    size: tuple[int, int] | None = None,
    *,
    color: bool = False,
    resample: Image.Resampling = Image.Resampling.BILINEAR,
) -> np.ndarray:
    """One PNG/JPEG file as float32 in [0, 1], at its own size or resized to ``size``.

    Shape (height, width) in grey, (3, height, width) with ``color``; see
    :func:`read_images`.
    """
    try:
        with Image.open(path) as image:
            image = image.convert("RGB" if color else "L")
            if size is not None:
                image = image.resize((size[1], size[0]), resample)
            pixels = np.asarray(image, dtype=np.float32) / 255
    except (OSError, UnidentifiedImageError) as err:
        raise ValueError(f"{path} is not a readable image ({err}).") from err
    return pixels.transpose(2, 0, 1) if color else pixels


def load_magnetic_tile(
    *,
    size: tuple[int, int] | None = None,
    data_home: str | os.PathLike | None = None,
    download: bool = False,
    verify: bool = True,
) -> Bunch:
    """Load the magnetic-tile surface-defect images (Huang et al., 2020).

    Grey images of tiles without defects (``MT_Free``) and with one of five
    defect kinds (``MT_Blowhole``, ...), each with a pixel mask of the
    defect, at their own size (about 110-630 x 230-400 pixels) or resized
    to ``size``. The layout is the upstream one:
    ``magnetic_tile/MT_<kind>/Imgs/<id>.jpg`` with the mask ``<id>.png``
    beside it. The files are checked against the package's manifest (the
    80 % subset described in ``datasets/README.md``).

    Parameters
    ----------
    size : (height, width) or None, default=None
        Size every image and mask is resized to; None keeps each at its
        own size (the sizes vary), as lists of arrays, which the detectors
        take whole resolution by cutting them into patches.
    data_home : str or path-like, optional
        Data directory holding ``magnetic_tile/``.
    download : bool, default=False
        If the folder is missing, fetch upstream's archive at the pinned commit
        and unpack the manifest's files.
    verify : bool, default=True
        Check every file's sha256 against the manifest.

    Returns
    -------
    data : Bunch
        ``data`` (float32 in [0, 1]: a list of (height, width) arrays, or
        one array of shape (n, height, width) with ``size``), ``target``
        (1 = defect), ``masks`` (bool, alike; resized with nearest-neighbour,
        mask >= 128 is defect), ``kind`` (``"Free"`` or the defect kind),
        ``groups`` (which tile the image shows: shots of one tile under
        different exposures share it, so split by it, e.g. with scikit-learn's
        ``GroupShuffleSplit``, to keep near copies out of the test set) and
        ``paths``.

    Examples
    --------
    >>> from anomaly.datasets import load_magnetic_tile
    >>> tiles = load_magnetic_tile()  # doctest: +SKIP
    >>> len(tiles.data), tiles.data[0].shape, round(float(tiles.target.mean()), 2)  # doctest: +SKIP
    (1077, (373, 248), 0.29)
    >>> load_magnetic_tile(size=(32, 32)).data.shape  # doctest: +SKIP
    (1077, 32, 32)
    """
    root = get_data_home(data_home) / "magnetic_tile"
    manifest = _magnetic_tile_manifest()
    if not root.is_dir():
        if not download:
            raise FileNotFoundError(
                f"The magnetic-tile images are not at {root}. Set ANOMALY_DATA or data_home to "
                f"the directory holding magnetic_tile/, or pass download=True to fetch them "
                f"from {MAGNETIC_TILE_URL}."
            )
        _fetch_magnetic_tile(root, manifest)
    if verify:
        _verify_manifest(root, manifest)
    images = sorted(path for path in manifest if path.endswith(".jpg"))
    masks = [path.removesuffix(".jpg") + ".png" for path in images]
    kinds = [path.split("/")[0].removeprefix("MT_") for path in images]
    if size is None:
        data = [read_image(root / path) for path in images]
        pixel_masks = [read_image(root / m) >= 127.5 / 255 for m in masks]  # mask value >= 128
    else:
        data = read_images([root / path for path in images], size)
        nearest = read_images([root / m for m in masks], size, resample=Image.Resampling.NEAREST)
        pixel_masks = nearest >= 127.5 / 255
    return Bunch(
        data=data,
        target=np.array([kind != "Free" for kind in kinds], dtype=int),
        masks=pixel_masks,
        kind=np.array(kinds),
        groups=_capture_groups(images),
        paths=[str(root / path) for path in images],
    )


def _capture_groups(paths: list[str]) -> np.ndarray:
    """Which tile each image shows, as a group number, from the capture number in its name.

    Each tile was photographed several times under different exposures
    (``exp1`` to ``exp6``) with nearby capture numbers (``..._num_<n>.jpg``):
    those shots are near copies of each other, so a split that puts one in
    training and another in testing measures recall of the training images,
    not detection. Numbers more than ``MAGNETIC_TILE_CAPTURE_GAP`` apart start
    a new tile.
    """
    numbers = np.array([int(Path(path).stem.rsplit("_num_", 1)[1]) for path in paths])
    order = np.argsort(numbers, kind="stable")
    starts = np.diff(numbers[order], prepend=numbers[order[0]]) > MAGNETIC_TILE_CAPTURE_GAP
    groups = np.empty(len(paths), dtype=int)
    groups[order] = np.cumsum(starts)
    return groups


def _magnetic_tile_manifest() -> dict[str, str]:
    with resources.files(__package__).joinpath("magnetic_tile.csv").open(newline="") as handle:
        return {row["path"]: row["sha256"] for row in csv.DictReader(handle)}


def _verify_manifest(root: Path, manifest: dict[str, str]) -> None:
    for relative, expected in manifest.items():
        path = root / relative
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing from the magnetic-tile images.")
        if _sha256(path) != expected:
            raise ValueError(
                f"{path} does not match its checksum in the magnetic-tile manifest; the file "
                "is corrupted or a different version. Delete the folder and load with "
                "download=True."
            )


def _fetch_magnetic_tile(
    root: Path, manifest: dict[str, str], url: str = MAGNETIC_TILE_URL
) -> None:
    """Unpack the manifest's files from upstream's archive into ``root``, all or nothing."""
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root.parent, prefix=".magnetic_tile.") as scratch:
        archive = Path(scratch) / "archive.zip"
        with urllib.request.urlopen(url) as response, open(archive, "wb") as out:
            shutil.copyfileobj(response, out)
        unpacked = Path(scratch) / "magnetic_tile"
        with zipfile.ZipFile(archive) as bundle:
            # Members sit under one top folder named after the repository and commit.
            members = {name.split("/", 1)[-1]: name for name in bundle.namelist()}
            for relative in tqdm(manifest, desc="magnetic_tile", unit="file", leave=False):
                if relative not in members:
                    raise ValueError(f"{url} has no file {relative}.")
                target = unpacked / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(members[relative]) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        _verify_manifest(unpacked, manifest)  # before the rename: a bad download never lands
        unpacked.rename(root)
