"""Time-series benchmark: NAB, SMD and ASD, our windowed detectors against TSB-AD's and PyOD's.

Every detector is fit on normal-looking data and scores the evaluation steps:

- SMD (5 machines) and ASD (8 entities): fit on the train split, score the
  test split, metrics on the test labels.
- NAB (58 series, no train split): fit on the first 15 % of each series (NAB's
  own "probationary period", where it places no anomaly windows), score the
  whole series, metrics on the remaining 85 %. Series without anomalies there
  (the 5 ``artificialNoAnomaly`` series and one other) are skipped: ROC-AUC
  and PR-AUC need both classes.

``TimeSeriesDetector()`` is what ``anomaly fit`` uses, every default (a
VAEDetector with one draw per window, 50 epochs), seeded. Our three detectors
also run inside :class:`anomaly.TimeSeriesDetector` with one fixed set of
parameters for every series (``OURS``: the defaults, window 32 for several
variables and 64 for one, stride 1, fewer epochs); PyOD's IForest, PCA and ECOD score each
time step (row) alone, run here on the same splits. TSB-AD's own detectors
(``tsb_ad.py``, where TSB-AD is installed) run on the same splits as its
scripts run them: its multivariate ones on SMD and ASD, its univariate ones on
NAB, the semi-supervised ones fitted on the training rows, the others on the
scored rows alone. Metrics: ROC-AUC, PR-AUC and VUS-PR
(``anomaly.metrics.vus_pr``, equal to TSB-AD's), per series and mean; VUS's
buffer is TSB-AD's sliding window of the scored series (``find_length_rank``
on its first variable, column ``vus_window``); where TSB-AD is absent, the one
the results file holds for the series (from a run with TSB-AD), or 100.

TSB-AD's published VUS-PR (``published_results/tsb_ad``) is shown beside, as
the mean over its SMD and NAB files, with a caveat: TSB-AD re-curates the
series (other splits and cuts), so its files are not ours and the numbers are
context, not a same-data comparison.

Usage::

    python benchmarks/timeseries.py run                     # all collections
    python benchmarks/timeseries.py run --collections smd asd
    python benchmarks/timeseries.py run --collections nab --series realTweets/Twitter_volume_AAPL
    python benchmarks/timeseries.py report
    python benchmarks/timeseries.py draws --collections asd --draws 1 4 16 [--stride 32]

Results are merged into ``benchmarks/results/timeseries.csv`` after every
series (a rerun replaces the rows it recomputes) and summarised in
``benchmarks/results/timeseries.md``.

``draws`` measures what the Monte-Carlo draws per window buy: one
VAEDetector (or ``--draws-detectors VAEGANDetector``) per series, fit as in
``run`` but with windows ``--stride`` apart (1 as in ``run``, or a fast
scoring setup's), scored with each number of draws (``n_draws``) in turn;
results in ``timeseries_draws.csv`` and a section of ``timeseries.md``.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anomaly import GANDetector, TimeSeriesDetector, VAEDetector, VAEGANDetector  # noqa: E402
from anomaly.adapters import anomaly_scores  # noqa: E402
from anomaly.datasets import (  # noqa: E402
    asd_entities,
    load_asd,
    load_nab,
    load_smd,
    nab_series,
    smd_machines,
)
from anomaly.metrics import pr_auc, roc_auc, vus_pr  # noqa: E402
from anomaly.timeseries import (  # noqa: E402
    WINDOW_DRAWS,
    WINDOW_EARLY_STOPPING,
    WINDOW_SCORING_RULE,
)
from benchmarks import tsb_ad  # noqa: E402
from benchmarks.common import (  # noqa: E402
    DATA_HOME,
    PYOD_DETECTORS,
    RESULTS,
    Run,
    fit_and_score,
    merge_results,
    seed_globals,
    write_text,
)

EPOCHS = 20
NAB_TRAIN_FRACTION = 0.15
VUS_MAX_WINDOW = 100
OURS = {cls.__name__: cls for cls in (VAEDetector, GANDetector, VAEGANDetector)}
# What `anomaly fit` and TimeSeriesDetector() use: every default, seeded.
DEFAULT = "TimeSeriesDetector()"
# The default with one choice undone, to weigh it: (the VAE's parameters besides n_draws, the
# wrapper's). Scored by the reconstruction probability (the previous default), and, with it as
# well (run before the current rule): trained for every epoch (`anomaly fit
# --no-early-stopping`); each window's score spread over its steps; and for one variable, windows
# of 32 steps, or windows scored by the likelihood instead of their nearest training windows.
PROBABILITY = {"scoring_rule": "reconstruction_probability"}
ABLATIONS = {
    "TimeSeriesDetector(), scoring_rule='reconstruction_probability'": (
        {**WINDOW_EARLY_STOPPING, **PROBABILITY},
        {},
    ),
    "TimeSeriesDetector(), no early stopping": (PROBABILITY, {}),
    "TimeSeriesDetector(step_scoring='window')": (
        {**WINDOW_EARLY_STOPPING, **PROBABILITY},
        {"step_scoring": "window"},
    ),
    "TimeSeriesDetector(window_size=32)": (
        {**WINDOW_EARLY_STOPPING, **PROBABILITY},
        {"window_size": 32},
    ),
    "TimeSeriesDetector(), n_neighbors=None": (
        {**WINDOW_EARLY_STOPPING, **PROBABILITY, "n_neighbors": None},
        {},
    ),
}


def _ours(name: str, seed: int, stride: int = 1) -> TimeSeriesDetector:
    if name == DEFAULT:
        inner = VAEDetector(
            scoring_rule=WINDOW_SCORING_RULE,
            n_draws=WINDOW_DRAWS,
            **WINDOW_EARLY_STOPPING,
            random_state=seed,
        )
        return TimeSeriesDetector(inner)
    if name in ABLATIONS:
        params, wrapper = ABLATIONS[name]
        inner = VAEDetector(n_draws=WINDOW_DRAWS, **params, random_state=seed)
        return TimeSeriesDetector(inner, **wrapper)
    detector = OURS[name](epochs=EPOCHS, random_state=seed)
    return TimeSeriesDetector(detector, stride=stride)


BASELINES = ["PyOD IForest", "PyOD PCA", "PyOD ECOD"]
TSB_AD_PREFIX = "TSB-AD "
# TSB-AD's multivariate detectors run on SMD and ASD, its univariate ones on NAB.
TSB_AD_DETECTORS = [
    TSB_AD_PREFIX + name for name in dict.fromkeys([*tsb_ad.MULTIVARIATE, *tsb_ad.UNIVARIATE])
]
DETECTORS = [DEFAULT, *ABLATIONS, *OURS, *BASELINES, *TSB_AD_DETECTORS]
COLLECTIONS = ["smd", "asd", "nab"]
KEYS = ["collection", "series", "detector", "seed"]
DRAWS_KEYS = ["collection", "series", "detector", "seed", "stride", "n_draws"]
SAMPLING = ["VAEDetector", "VAEGANDetector"]  # ours with Monte-Carlo draws when scoring


def _splits(collection: str, name: str, data_home: Path) -> tuple[np.ndarray, np.ndarray, slice]:
    """Training rows, the rows to score, and which scored rows are evaluated."""
    if collection == "nab":
        data = load_nab(name, data_home=data_home)
        series = data.frame[["value"]].to_numpy(dtype=float)
        n_train = int(NAB_TRAIN_FRACTION * len(series))
        return series[:n_train], series, slice(n_train, None)
    load = load_smd if collection == "smd" else load_asd
    data = load(name, data_home=data_home)
    return data.train.astype(float), data.test.astype(float), slice(None)


def _labels(collection: str, name: str, data_home: Path) -> np.ndarray:
    if collection == "nab":
        return load_nab(name, data_home=data_home).target
    load = load_smd if collection == "smd" else load_asd
    return load(name, data_home=data_home).test_labels


def _names(collection: str, data_home: Path) -> list[str]:
    if collection == "nab":
        return nab_series(data_home)
    return smd_machines() if collection == "smd" else asd_entities()


def _evaluations(
    collections: list[str], series: list[str] | None, data_home: Path
) -> Iterator[tuple[str, str, np.ndarray, np.ndarray, slice, np.ndarray]]:
    """Each series' collection, name, training rows, scored rows, evaluated part and its labels."""
    for collection in collections:
        for name in series or _names(collection, data_home):
            if series and name not in _names(collection, data_home):
                continue
            train, scored, evaluated = _splits(collection, name, data_home)
            labels = _labels(collection, name, data_home)[evaluated]
            if labels.min() == labels.max():  # e.g. NAB's artificialNoAnomaly series
                print(f"skipped {collection}/{name}: no anomalies among the evaluated steps")
                continue
            yield collection, name, train, scored, evaluated, labels


def _vus_window(scored: np.ndarray, recorded: int | None) -> int:
    """VUS's largest buffer: TSB-AD's sliding window of the series where TSB-AD is installed,
    else the one the results file ``recorded`` for it (from a run that had TSB-AD), so that a
    rerun's rows stay comparable with the rest, else :data:`VUS_MAX_WINDOW`."""
    if tsb_ad.available():
        return tsb_ad.sliding_window(scored)
    return VUS_MAX_WINDOW if recorded is None else recorded


def _recorded_windows(path: Path) -> dict[tuple[str, str], int]:
    """Each series' VUS buffer in the results file at ``path``, where its rows have one (the
    rows of the run before issue 15 have none)."""
    if not path.exists():
        return {}
    frame = pd.read_csv(path, dtype={"series": str})
    if "vus_window" not in frame:
        return {}
    frame = frame.dropna(subset=["vus_window"])
    return {(c, s): int(w) for c, s, w in frame[["collection", "series", "vus_window"]].to_numpy()}


def _metrics(labels: np.ndarray, scores: np.ndarray, vus_window: int) -> dict[str, float]:
    """ROC-AUC, PR-AUC and VUS-PR of anomaly scores (higher = more abnormal)."""
    # NaN (PyOD's PCA on constant training columns) counts as one constant score.
    scores = np.nan_to_num(scores)
    return dict(
        roc_auc=roc_auc(labels, scores),
        pr_auc=pr_auc(labels, scores),
        vus_pr=vus_pr(labels, scores, max_window=vus_window),
        vus_window=vus_window,
    )


def _fit_and_score(
    name: str, seed: int, train: np.ndarray, scored: np.ndarray
) -> tuple[Run, str] | None:
    """One seeded run and its error ("" if none); None for a TSB-AD detector made for the
    other number of variables. Exits if TSB-AD's detectors are asked for without TSB-AD."""
    seed_globals(seed)
    if name in OURS or name == DEFAULT or name in ABLATIONS:
        return fit_and_score(_ours(name, seed), train, scored), ""
    if name in PYOD_DETECTORS:
        return fit_and_score(PYOD_DETECTORS[name](seed), train, scored), ""
    tsb_name = name.removeprefix(TSB_AD_PREFIX)
    if tsb_name not in (tsb_ad.UNIVARIATE if scored.shape[1] == 1 else tsb_ad.MULTIVARIATE):
        return None
    if not tsb_ad.available():  # a missing install is not the detector failing
        raise SystemExit(f"{name} needs TSB-AD: see benchmarks/README.md, or leave it out.")
    # TSB-AD fits and scores in one call (and seeds itself): its seconds are the sum.
    start = time.perf_counter()
    try:
        scores = tsb_ad.tsb_ad_scores(tsb_name, train, scored)
    except Exception as error:  # noqa: BLE001 (its failure on one series is a result)
        # E.g. Sub-MCD's window longer than a short NAB training part. A detector that
        # cannot run gives no information: one constant score, recorded with the error.
        print(f"{name} failed: {error!r}; scored as a constant", flush=True)
        return Run(None, np.zeros(len(scored)), time.perf_counter() - start, np.nan), repr(error)
    return Run(None, scores, time.perf_counter() - start, np.nan), ""


def run(
    collections: list[str],
    series: list[str] | None,
    detectors: list[str],
    seeds: list[int],
    data_home: Path,
    windows: dict[tuple[str, str], int],
) -> Iterator[pd.DataFrame]:
    """One frame of rows per series, so a long run can be saved as it goes (``windows``:
    :func:`_recorded_windows`)."""
    for collection, name, train, scored, evaluated, labels in _evaluations(
        collections, series, data_home
    ):
        rows = []
        vus_window = _vus_window(scored, windows.get((collection, name)))
        for detector_name in detectors:
            for seed in seeds:
                outcome = _fit_and_score(detector_name, seed, train, scored)
                if outcome is None:
                    continue
                result, error = outcome
                row = dict(
                    collection=collection,
                    series=name,
                    detector=detector_name,
                    seed=seed,
                    **_metrics(labels, result.scores[evaluated], vus_window),
                    fit_seconds=result.fit_seconds,
                    score_seconds=result.score_seconds,
                    n_train=len(train),
                    n_evaluated=len(labels),
                    n_variables=train.shape[1],
                    cpu=f"{platform.machine()}, {torch.get_num_threads()} threads",
                    error=error,
                )
                print(row, flush=True)
                rows.append(row)
        yield pd.DataFrame(rows)


def draws(
    collections: list[str],
    series: list[str] | None,
    detectors: list[str],
    draw_counts: list[int],
    stride: int,
    seeds: list[int],
    data_home: Path,
    windows: dict[tuple[str, str], int],
) -> Iterator[pd.DataFrame]:
    """One fit per series, detector and seed, scored with each number of Monte-Carlo draws."""
    for collection, name, train, scored, evaluated, labels in _evaluations(
        collections, series, data_home
    ):
        rows = []
        vus_window = _vus_window(scored, windows.get((collection, name)))
        for detector_name, seed in itertools.product(detectors, seeds):
            seed_globals(seed)
            detector = _ours(detector_name, seed, stride).fit(train)
            for n_draws in draw_counts:
                # Scoring reads the parameters frozen at fit; the draws only enter scoring,
                # so one fit serves every count.
                detector.detector_.fitted_params_["n_draws"] = n_draws
                start = time.perf_counter()
                scores = anomaly_scores(detector, scored)[evaluated]
                seconds = time.perf_counter() - start
                row = dict(
                    collection=collection,
                    series=name,
                    detector=detector_name,
                    seed=seed,
                    stride=stride,
                    n_draws=n_draws,
                    **_metrics(labels, scores, vus_window),
                    score_seconds=seconds,
                    n_scored=len(scored),
                    cpu=f"{platform.machine()}, {torch.get_num_threads()} threads",
                )
                print(row, flush=True)
                rows.append(row)
        yield pd.DataFrame(rows)


def _draws_report(results: Path) -> list[str]:
    path = results / "timeseries_draws.csv"
    if not path.exists():
        return []
    frame = pd.read_csv(path)
    lines = [
        "## Monte-Carlo draws per window when scoring",
        "",
        "`python benchmarks/timeseries.py draws`: one fit per series, scored with each number "
        "of draws; means over the series, score seconds summed.",
        "",
    ]
    groups = frame.groupby(["detector", "collection", "stride"], sort=False)
    for (detector, collection, stride), part in groups:
        table = part.groupby("n_draws").agg(
            series=("series", "nunique"),
            roc_auc=("roc_auc", "mean"),
            pr_auc=("pr_auc", "mean"),
            vus_pr=("vus_pr", "mean"),
            score_seconds=("score_seconds", "sum"),
        )
        lines += [
            f"{detector}, {collection.upper()}, stride {stride}",
            "",
            table.to_markdown(floatfmt=("g", "g", ".3f", ".3f", ".3f", ".1f")),
            "",
        ]
    return lines


def _published(data_home: Path) -> pd.DataFrame:
    """TSB-AD's mean published VUS-PR per detector over its SMD and NAB files."""
    folder = data_home / "published_results" / "tsb_ad"
    frames = []
    for table, collection, tag in [
        ("multi_mergedTable_VUS-PR.csv", "smd", "_SMD_"),
        ("uni_mergedTable_VUS-PR.csv", "nab", "_NAB_"),
    ]:
        path = folder / table
        if not path.exists():
            continue
        published = pd.read_csv(path)
        files = published[published["file"].str.contains(tag)]
        detectors = [c for c in published.columns[1:] if not c.startswith(("ts_len", "anomaly"))]
        detectors = [c for c in detectors if c not in {"num_anomaly", "avg_anomaly_len"}]
        detectors = [c for c in detectors if c not in {"point_anomaly", "seq_anomaly"}]
        means = files[detectors].mean().sort_values(ascending=False)
        frames.append(
            pd.DataFrame(
                {
                    "collection": collection,
                    "detector": means.index,
                    "vus_pr": means.to_numpy(),
                    "n_files": len(files),
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def report(results: Path, data_home: Path) -> str:
    path = results / "timeseries.csv"
    if not path.exists():
        return "\n".join(
            [
                "No results yet: run `python benchmarks/timeseries.py run`.",
                "",
                *_draws_report(results),
            ]
        )
    frame = pd.read_csv(path)
    lines = [
        "# Time-series benchmark",
        "",
        "Produced by `benchmarks/timeseries.py` (ours: TimeSeriesDetector, its default window "
        "(32 steps for several variables, 64 for one), stride 1, "
        "its default `step_scoring` (a step's own values plus its window's mean for several "
        "variables, the window's score for one: there the distance to the nearest training "
        "windows, `n_neighbors`), "
        f"{EPOCHS} epochs, 16 Monte-Carlo draws per window for the VAEs (VAEDetector's default; "
        "the time-series default scores without draws), other parameters at their "
        "defaults; `TimeSeriesDetector()`: every default, as `anomaly fit` (each value's "
        "squared residual over its variable's training mean of it, at most 50 epochs with "
        "early stopping); PyOD IForest / PCA / ECOD "
        "point-wise at their defaults). SMD and ASD: fit on train, metrics on test; NAB: fit "
        f"on the first {NAB_TRAIN_FRACTION:.0%} of each series, metrics on the rest. TSB-AD's "
        "detectors as its scripts run them (`tsb_ad.py`). VUS-PR with TSB-AD's sliding window "
        f"of each series as the buffer (CSV column `vus_window`; {VUS_MAX_WINDOW} in rows "
        "without it). Seconds in the CSV (`cpu` column: machine and torch threads; TSB-AD's "
        "fit and score in one call, so its `fit_seconds` hold both). Rows marked "
        '"(previous run)" are from the run before issue 15 (ours with the defaults before '
        "issue 13, VUS buffer 100) and not comparable with the others.",
        "",
    ]
    if "vus_window" in frame:
        # Rows of the run before issue 15: other defaults for ours, VUS buffer 100.
        previous = frame.vus_window.isna()
        frame.loc[previous, "detector"] = frame.loc[previous, "detector"] + " (previous run)"
    for collection in COLLECTIONS:
        part = frame[frame.collection == collection]
        if part.empty:
            continue
        # Only the series every detector of this run ran on, so the means compare like with like.
        current = part[~part.detector.str.endswith("(previous run)")]
        current = part if current.empty else current
        shared = set.intersection(*(set(g.series) for _, g in current.groupby("detector")))
        part = part[part.series.isin(shared)]
        means = (
            part.groupby(["detector", "series"])[["roc_auc", "pr_auc", "vus_pr"]]
            .mean()
            .groupby("detector")
            .mean()
            .sort_values("pr_auc", ascending=False)
        )
        lines += [
            f"## {collection.upper()}: mean over {len(shared)} series",
            "",
            means.to_markdown(floatfmt=".3f"),
            "",
        ]
        failed = part[part.get("error", pd.Series("", index=part.index)).fillna("") != ""]
        for detector, runs in failed.groupby("detector"):
            lines.append(
                f"- {detector} failed on {runs.series.nunique()} series, scored there as a "
                f"constant (CSV column `error`), e.g. {runs.error.iloc[0]}."
            )
        lines += [""] if len(failed) else []
        best_ours = means.loc[means.index.isin([DEFAULT, *ABLATIONS, *OURS])]  # this run's only
        best_base = means.loc[means.index.isin([*BASELINES, *TSB_AD_DETECTORS])]
        if len(best_ours) and len(best_base):
            for metric in ["pr_auc", "vus_pr"]:
                ours, base = best_ours[metric].max(), best_base[metric].max()
                verdict = "above" if ours > base else "not above"
                lines.append(
                    f"- best of ours {metric}: {ours:.3f} ({best_ours[metric].idxmax()}), "
                    f"{verdict} the best baseline {base:.3f} ({best_base[metric].idxmax()})."
                )
            lines.append("")
        per_series = part.pivot_table(index="series", columns="detector", values="vus_pr")
        lines += [
            f"<details><summary>{collection.upper()} VUS-PR per series</summary>",
            "",
            per_series.to_markdown(floatfmt=".3f"),
            "",
            "</details>",
            "",
        ]
    published = _published(data_home)
    if len(published):
        lines += [
            "## TSB-AD published VUS-PR (context only: re-curated series, not our files)",
            "",
        ]
        for collection, part in published.groupby("collection"):
            # The top 8, and TSB-AD's own runs of the baselines we run here (no ECOD there).
            shown = part[(np.arange(len(part)) < 8) | part.detector.isin(["IForest", "PCA"])]
            lines += [
                f"{collection.upper()}: mean over TSB-AD's {int(part.n_files.iloc[0])} files, "
                "top 8 detectors, and its IForest and PCA where it lists them",
                "",
                shown[["detector", "vus_pr"]].to_markdown(index=False, floatfmt=".3f"),
                "",
            ]
        missing = sorted(set(COLLECTIONS) - set(published.collection))
        lines += (
            [f"{', '.join(c.upper() for c in missing)}: no TSB-AD file.", ""] if missing else []
        )
    return "\n".join(lines + _draws_report(results))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["run", "report", "draws"])
    parser.add_argument("--collections", nargs="+", default=COLLECTIONS, choices=COLLECTIONS)
    parser.add_argument("--series", nargs="+", default=None, help="only these series")
    parser.add_argument(
        "--detectors",
        nargs="+",
        default=DETECTORS if tsb_ad.available() else [DEFAULT, *ABLATIONS, *OURS, *BASELINES],
        choices=DETECTORS,
        help="default: all, TSB-AD's where it is installed",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--draws", type=int, nargs="+", default=[1, 4, 16], help="for draws")
    parser.add_argument("--stride", type=int, default=1, help="for draws")
    parser.add_argument(
        "--draws-detectors", nargs="+", default=SAMPLING[:1], choices=SAMPLING, help="for draws"
    )
    parser.add_argument("--data-home", type=Path, default=DATA_HOME)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.results.mkdir(parents=True, exist_ok=True)
    windows = _recorded_windows(args.results / "timeseries.csv")
    if args.command == "run":
        runs = run(
            args.collections, args.series, args.detectors, args.seeds, args.data_home, windows
        )
        for new in runs:
            if len(new):
                merge_results(args.results / "timeseries.csv", new, KEYS)
    if args.command == "draws":
        runs = draws(
            args.collections,
            args.series,
            args.draws_detectors,
            args.draws,
            args.stride,
            args.seeds,
            args.data_home,
            windows,
        )
        for new in runs:
            if len(new):
                merge_results(args.results / "timeseries_draws.csv", new, DRAWS_KEYS)
    text = report(args.results, args.data_home)
    write_text(args.results / "timeseries.md", text)
    print(text)


if __name__ == "__main__":
    main()
