"""Time-series datasets: NAB series, and SMD and ASD server metrics."""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from anomaly.csv_reading import read_series_csv
from anomaly.datasets._store import dataset_path, registry

__all__ = [
    "asd_entities",
    "load_asd",
    "load_interpretation",
    "load_nab",
    "load_smd",
    "nab_series",
    "smd_machines",
]
_NAB_WINDOWS = "nab/labels/combined_windows"


def nab_series(data_home: str | os.PathLike | None = None, *, download: bool = False) -> list[str]:
    """Names of the 58 NAB series, ``"<category>/<file stem>"``, sorted.

    They are the keys of NAB's ``labels/combined_windows.json`` (the series
    the benchmark scores), read from the data home and checksum-verified.

    Parameters
    ----------
    data_home : str or path-like, optional
        Data directory holding ``nab/``; defaults to ``$ANOMALY_DATA``, then
        ``~/anomaly_data``.
    download : bool, default=False
        Fetch the label file from upstream if it is missing.

    Examples
    --------
    >>> from anomaly.datasets import nab_series
    >>> names = nab_series()  # doctest: +SKIP
    >>> len(names), names[0]  # doctest: +SKIP
    (58, 'artificialNoAnomaly/art_daily_no_noise')
    """
    return sorted(key.removesuffix(".csv") for key in _nab_windows(data_home, download))


def load_nab(
    name: str, *, data_home: str | os.PathLike | None = None, download: bool = False
) -> Bunch:
    """Load one series of the Numenta Anomaly Benchmark (NAB v1.1) with point labels.

    A row is anomalous (1) when its timestamp lies inside one of NAB's
    anomaly windows for the series (``labels/combined_windows.json``), ends
    included.

    Parameters
    ----------
    name : str
        ``"<category>/<file stem>"`` as listed by :func:`nab_series`
        (e.g. ``"realKnownCause/nyc_taxi"``), or the file stem alone
        (``"nyc_taxi"``); a ``.csv`` suffix is allowed.
    data_home : str or path-like, optional
        Data directory holding ``nab/data/`` and ``nab/labels/``; defaults to
        ``$ANOMALY_DATA``, then ``~/anomaly_data``.
    download : bool, default=False
        Fetch missing files from upstream (NAB on GitHub, pinned commit).

    Returns
    -------
    data : Bunch
        ``frame`` (DataFrame with ``timestamp``, datetime64, and ``value``,
        float64), ``target`` (int, 1 = inside an anomaly window, one per
        row), ``windows`` (list of ``(start, end)`` Timestamps) and ``name``
        (the ``"<category>/<file stem>"`` form).

    Notes
    -----
    Rows are kept in upstream's file order, which NAB's own scorer takes as
    time order. Unlike :func:`read_series_csv`, repeated timestamps are
    therefore accepted: 8 of the 58 files repeat some (an hour logged twice
    when clocks went back, or two rows in the same second), and in
    ``realKnownCause/machine_temperature_system_failure`` the repeated hour
    makes the timestamps step back once. Each row is labelled by its own
    timestamp.

    Examples
    --------
    >>> from anomaly.datasets import load_nab
    >>> taxi = load_nab("realKnownCause/nyc_taxi")  # doctest: +SKIP
    >>> taxi.frame.shape, int(taxi.target.sum()), len(taxi.windows)  # doctest: +SKIP
    ((10320, 2), 1035, 5)
    """
    key = _nab_key(name)
    windows = _nab_windows(data_home, download)
    path = dataset_path(f"nab/{key}", data_home, download=download)
    if f"{key}.csv" not in windows:
        raise ValueError(f"{key}.csv has no entry in NAB's combined_windows.json.")
    frame = read_series_csv(
        path, timestamp_column="timestamp", value_columns="value", ordered=False
    )
    spans = [(pd.Timestamp(start), pd.Timestamp(end)) for start, end in windows[f"{key}.csv"]]
    target = np.zeros(len(frame), dtype=int)
    for start, end in spans:
        target[frame["timestamp"].between(start, end, inclusive="both").to_numpy()] = 1
    return Bunch(frame=frame, target=target, windows=spans, name=key)


def smd_machines() -> list[str]:
    """The SMD machines the catalogue has files for (``"machine-1-6"``, ...)."""
    return _names("smd")


def asd_entities() -> list[str]:
    """The ASD entities the catalogue has files for (``"omi-1"``, ...)."""
    return _names("asd")


def load_smd(machine: str, *, data_home: str | os.PathLike | None = None) -> Bunch:
    """Load one machine of the Server Machine Dataset (Su et al., KDD 2019, OmniAnomaly).

    38 metrics of one server, min-max scaled to [0, 1] upstream, about
    23,700 time steps for training (unlabelled, taken as normal) and as many
    for testing, with a label per test step.

    Parameters
    ----------
    machine : str
        One of :func:`smd_machines`, e.g. ``"machine-1-6"``.
    data_home : str or path-like, optional
        Data directory holding ``smd/<machine>.npz``; defaults to
        ``$ANOMALY_DATA``, then ``~/anomaly_data``.

    Returns
    -------
    data : Bunch
        ``train`` (float32, T1 x 38), ``test`` (float32, T2 x 38),
        ``test_labels`` (int, T2, 1 = anomaly) and ``name``.

    Notes
    -----
    The ``.npz`` files are upstream's preprocessed arrays (InterFusion's
    pickles, converted without executing pickle code, see
    ``datasets/README.md``); they have no upstream copy to download, so
    there is no ``download`` option: put them in the data home.

    Examples
    --------
    >>> from anomaly.datasets import load_smd
    >>> smd = load_smd("machine-1-6")  # doctest: +SKIP
    >>> smd.train.shape, smd.test.shape, int(smd.test_labels.sum())  # doctest: +SKIP
    ((23688, 38), (23689, 38), 3708)
    """
    return _load_server_metrics("smd", machine, data_home)


def load_asd(entity: str, *, data_home: str | os.PathLike | None = None) -> Bunch:
    """Load one entity of the Application Server Dataset (Li et al., KDD 2021, InterFusion).

    19 metrics at 5-minute intervals, scaled to [0, 1] upstream: 8,640 steps
    for training (unlabelled, taken as normal) and 4,320 labelled test steps.

    Parameters
    ----------
    entity : str
        One of :func:`asd_entities`, e.g. ``"omi-1"``.
    data_home : str or path-like, optional
        Data directory holding ``asd/<entity>.npz``.

    Returns
    -------
    data : Bunch
        ``train`` (float32, T1 x 19), ``test`` (float32, T2 x 19),
        ``test_labels`` (int, T2, 1 = anomaly) and ``name``. As for
        :func:`load_smd`, the files cannot be downloaded by this package.

    Examples
    --------
    >>> from anomaly.datasets import load_asd
    >>> omi = load_asd("omi-1")  # doctest: +SKIP
    >>> omi.train.shape, omi.test.shape, int(omi.test_labels.sum())  # doctest: +SKIP
    ((8640, 19), (4320, 19), 441)
    """
    return _load_server_metrics("asd", entity, data_home)


def load_interpretation(
    collection: str,
    name: str,
    *,
    data_home: str | os.PathLike | None = None,
    download: bool = False,
) -> np.ndarray:
    """Which variables caused each anomalous test step of an SMD machine or ASD entity.

    Upstream's ``interpretation_label/<name>.txt`` (OmniAnomaly's for SMD,
    InterFusion's for ASD) lists, for each anomaly, the metrics that caused
    it, as lines ``start-end:d1,d2,...`` (test steps from 0, metrics from 1).
    SMD's ``end`` is the first normal step after the anomaly and ASD's its
    last one, so a line covers the steps from ``start`` to ``end`` that the
    test labels mark anomalous.

    Parameters
    ----------
    collection : {"smd", "asd"}
    name : str
        A machine (:func:`smd_machines`) or entity (:func:`asd_entities`).
    data_home : str or path-like, optional
        Data directory holding ``<collection>/interpretation_label/`` and the
        series' ``.npz`` file.
    download : bool, default=False
        Fetch the label file from upstream if it is missing.

    Returns
    -------
    causes : ndarray of bool, shape (n_test_steps, n_variables)
        True where a labelled anomalous step names the variable as a cause;
        rows of normal steps (and of anomalies upstream left unexplained)
        are all False.

    Examples
    --------
    >>> from anomaly.datasets import load_interpretation
    >>> causes = load_interpretation("smd", "machine-1-6")  # doctest: +SKIP
    >>> causes.shape, int(causes.any(axis=1).sum())  # doctest: +SKIP
    ((23689, 38), 3708)
    """
    if collection not in ("smd", "asd"):
        raise ValueError(f"collection must be 'smd' or 'asd', got {collection!r}.")
    series = _load_server_metrics(collection, name, data_home)
    path = dataset_path(f"{collection}/interpretation_label/{name}", data_home, download=download)
    anomalous = series.test_labels == 1
    causes = np.zeros(series.test.shape, dtype=bool)
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            span, variables = line.split(":")
            start, end = (int(step) for step in span.split("-"))
            columns = [int(variable) - 1 for variable in variables.split(",")]
        except ValueError:
            raise ValueError(
                f"{path}, line {number}: {line!r} is not start-end:d1,d2,..."
            ) from None
        # SMD's end may be the step just past the series (the first normal one after it).
        inside = 0 <= start <= end <= len(causes) and start < len(causes)
        if not (inside and all(0 <= c < causes.shape[1] for c in columns)):
            raise ValueError(f"{path}, line {number}: {line!r} is outside the test series.")
        steps = np.arange(start, min(end + 1, len(causes)))
        steps = steps[anomalous[steps]]
        causes[np.ix_(steps, columns)] = True
    return causes


# --- NAB --------------------------------------------------------------------------------------


def _nab_key(name: str) -> str:
    """``"<category>/<stem>"`` for a series named with or without its category."""
    stem = name.removesuffix(".csv")
    known = _names("nab")
    if stem in known:
        return stem
    matches = [key for key in known if key.split("/")[-1] == stem]
    if len(matches) == 1:
        return matches[0]
    raise ValueError(
        f"Unknown NAB series {name!r}; pass '<category>/<file stem>', e.g. "
        "'realKnownCause/nyc_taxi' (nab_series() lists them all)."
    )


def _nab_windows(data_home, download: bool) -> dict[str, list[list[str]]]:
    path = dataset_path(_NAB_WINDOWS, data_home, download=download)
    try:
        windows = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not a JSON file ({err}).") from err
    if not isinstance(windows, dict) or not all(
        isinstance(spans, list) and all(len(span) == 2 for span in spans)
        for spans in windows.values()
    ):
        raise ValueError(f"{path} does not map series to lists of [start, end] windows.")
    return windows


# --- SMD and ASD ------------------------------------------------------------------------------


# Files that go with a collection's series, not series of their own.
_SIDE_FILES = ("labels/", "interpretation_label/")


def _names(collection: str) -> list[str]:
    prefix = f"{collection}/"
    names = (name.removeprefix(prefix) for name in registry() if name.startswith(prefix))
    return sorted(name for name in names if not name.startswith(_SIDE_FILES))


def _load_server_metrics(collection: str, name: str, data_home) -> Bunch:
    if name not in _names(collection):
        raise ValueError(
            f"Unknown {collection.upper()} name {name!r}; known: {', '.join(_names(collection))}."
        )
    path = dataset_path(f"{collection}/{name}", data_home)  # verifies the checksum
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise ValueError(f"{path} cannot be read as a .npz file ({err}).") from err
    missing = {"train", "test", "test_label"} - set(arrays)
    if missing:
        raise ValueError(f"{path} lacks the arrays {sorted(missing)}.")
    train, test, labels = arrays["train"], arrays["test"], arrays["test_label"]
    if train.ndim != 2 or test.ndim != 2 or train.shape[1] != test.shape[1]:
        raise ValueError(
            f"{path}: train {train.shape} and test {test.shape} are not two tables of the "
            "same metrics."
        )
    if labels.shape != (len(test),) or not np.isin(labels, (0, 1)).all():
        raise ValueError(
            f"{path}: test_label {labels.shape} is not one 0/1 label per test step ({len(test)})."
        )
    return Bunch(
        train=train.astype(np.float32),
        test=test.astype(np.float32),
        test_labels=labels.astype(int),
        name=name,
    )
