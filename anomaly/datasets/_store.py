"""Where dataset files live, how they are verified, and how they are downloaded."""

from __future__ import annotations

import csv
import difflib
import gzip
import hashlib
import os
import shutil
import urllib.parse
import urllib.request
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from anomaly._atomic import atomic_write

__all__ = ["DATA_HOME_ENV", "DatasetFile", "dataset_path", "fetch", "get_data_home", "registry"]

DATA_HOME_ENV = "ANOMALY_DATA"


@dataclass(frozen=True)
class DatasetFile:
    """One file of the catalogue: where it goes under the data home and where it comes from."""

    name: str
    path: str
    sha256: str
    url: str

    @property
    def downloadable(self) -> bool:
        """Whether ``url`` is the file itself: a file converted from upstream's arrays (SMD,
        ASD) names the folder it comes from, which no download gives."""
        return bool(PurePosixPath(urllib.parse.urlparse(self.url).path).suffix)


@cache
def registry() -> dict[str, DatasetFile]:
    """Every known dataset file, by name (e.g. ``"adbench/4_breastw"``)."""
    with resources.files(__package__).joinpath("registry.csv").open(newline="") as handle:
        return {row["name"]: DatasetFile(**row) for row in csv.DictReader(handle)}


def get_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """The data directory: ``data_home``, else ``$ANOMALY_DATA``, else ``~/anomaly_data``."""
    if data_home is None or os.fspath(data_home) == "":  # empty, as $ANOMALY_DATA may be
        data_home = os.environ.get(DATA_HOME_ENV) or Path.home() / "anomaly_data"
    return Path(data_home).expanduser()


def _entry(name: str) -> DatasetFile:
    try:
        return registry()[name]
    except KeyError:
        # The names of its own collection (the part before "/"), not the whole registry's.
        collection = name.rpartition("/")[0]
        known = sorted(entry for entry in registry() if entry.startswith(f"{collection}/"))
        known = known or sorted(registry())
        # Nearest by the part after the collection: "breastw" is "4_breastw"'s.
        by_short = {entry.rpartition("/")[2]: entry for entry in known}
        close = difflib.get_close_matches(name.rpartition("/")[2], by_short, n=1, cutoff=0.6)
        hint = f" did you mean {by_short[close[0]]!r}?" if close else ""
        raise ValueError(f"Unknown dataset {name!r};{hint} known: {', '.join(known)}.") from None


def _sha256(path: Path, *, gzipped: bool = False) -> str:
    """Digest of the file, or of its decompressed content if ``gzipped``.

    Digesting the content lets a re-compressed copy of the same data (as
    Debian ships Fashion-MNIST) pass the same checksum as upstream's file.
    """
    digest = hashlib.sha256()
    opener = gzip.open if gzipped else open
    try:
        with opener(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except (OSError, EOFError) as err:  # a truncated or non-gzip .gz file
        kind = "a gzip file" if gzipped else "a file"
        raise ValueError(f"{path} cannot be read as {kind} ({err}).") from err
    return digest.hexdigest()


def _verify(path: Path, entry: DatasetFile, *, downloaded_from: str | None = None) -> None:
    """Refuse ``path`` unless it matches ``entry``'s checksum; ``downloaded_from``: the
    address a download into ``path``, a temporary file, came from."""
    gzipped = entry.path.endswith(".gz")
    actual = _sha256(path, gzipped=gzipped)
    # A .gz file's catalogued checksum is of its content (Fashion-MNIST) or, where upstream
    # publishes only that, of the archive itself (MNIST).
    if actual == entry.sha256 or (gzipped and _sha256(path) == entry.sha256):
        return
    if downloaded_from is not None:
        raise ValueError(
            f"The download of dataset {entry.name!r} from {downloaded_from} does not match its "
            f"checksum (sha256 {actual}, expected {entry.sha256}): a different version or a "
            "damaged transfer. Nothing was written."
        )
    raise ValueError(
        f"{path} does not match the checksum of dataset {entry.name!r} (sha256 {actual}, "
        f"expected {entry.sha256}); the file is corrupted or a different version. Delete it "
        "and call anomaly.datasets.fetch to download it again."
    )


def dataset_path(
    name: str, data_home: str | os.PathLike | None = None, *, download: bool = False
) -> Path:
    """Path of a verified dataset file, downloading it first if asked and missing.

    Raises
    ------
    FileNotFoundError
        If the file is missing and ``download`` is False.
    ValueError
        If the name is unknown or the file fails its checksum.
    """
    entry = _entry(name)
    path = get_data_home(data_home) / entry.path
    if not path.exists():
        if not download or not entry.downloadable:
            remedy = (
                f"pass download=True to fetch it from {entry.url}"
                if entry.downloadable
                else f"convert it from upstream's arrays ({entry.url}): it cannot be downloaded "
                "by this package"
            )
            raise FileNotFoundError(
                f"Dataset {name!r} not found at {path}. Set {DATA_HOME_ENV} or data_home to the "
                f"directory holding it, or {remedy}."
            )
        return fetch(name, data_home)
    _verify(path, entry)
    return path


def fetch(
    name: str,
    data_home: str | os.PathLike | None = None,
    *,
    url: str | None = None,
    verbose: bool = True,
) -> Path:
    """Download a dataset file into the data home and verify its checksum.

    The download goes to a temporary file that is renamed only once its
    checksum matches, so an interrupted or corrupted download leaves nothing
    behind.

    Parameters
    ----------
    name : str
        Dataset name, e.g. ``"adbench/4_breastw"``.
    data_home : str or path-like, optional
        Target data directory (see :func:`get_data_home`).
    url : str, optional
        Download from this address instead of the upstream one (a mirror, or
        a ``file://`` URL).
    verbose : bool, default=True
        Show a progress bar.

    Returns
    -------
    path : pathlib.Path
        The verified file.
    """
    entry = _entry(name)
    if url is None and not entry.downloadable:
        raise ValueError(
            f"Dataset {name!r} is converted from upstream's arrays ({entry.url}) and cannot be "
            "downloaded by this package; pass url= to fetch a copy of the converted file."
        )
    target = get_data_home(data_home) / entry.path
    target.parent.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(url or entry.url) as response, atomic_write(target) as out:
        size = int(response.headers.get("Content-Length") or 0) or None
        with tqdm.wrapattr(
            out,
            "write",
            total=size,
            desc=name,
            unit="B",
            unit_scale=True,
            disable=not verbose,
            leave=False,
        ) as progress:
            shutil.copyfileobj(response, progress)
        out.flush()
        # Before the rename: a bad download never lands.
        _verify(Path(out.name), entry, downloaded_from=url or entry.url)
    return target
