"""Missing values on the 15 ADBench sets: ours marginalised against imputer pipelines (issue 18).

The unsupervised protocol of ``tabular.py`` (fit on all of X, score all of X),
with ``--rates`` (10 % and 30 %) of the values removed at random, the same
values at training and at scoring. Detectors, at their defaults, for each of
ours named by ``--detectors`` (VAEDetector by default; also GANDetector, VAEGANDetector):

- ``VAEDetector(missing='marginalize')``: the missing values left out of the
  likelihood (the encoder sees them at the mean, shifted by a learned mix of which
  features are missing, in training, and filled in by the model when scoring);
- ``SimpleImputer + VAEDetector``: the column means filled in, our default VAE after;
- ``SimpleImputer + IsolationForest``: the same imputer before scikit-learn's
  IsolationForest (``make_pipeline(SimpleImputer(), IsolationForest())``);

and, on the complete data (rate 0), ``VAEDetector`` and ``IsolationForest``: what
each loses is its complete figure minus its figure with missing values.

Usage::

    python benchmarks/missing_values.py run [--rates 0.1 0.3] [--seeds 1 2 3] [--detectors ...]
    python benchmarks/missing_values.py report

Results: ``benchmarks/results/missing_values.csv`` (merged per set) and ``missing_values.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest
from sklearn.impute import SimpleImputer
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.pipeline import make_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from anomaly import GANDetector, VAEDetector, VAEGANDetector  # noqa: E402
from anomaly.adapters import anomaly_scores  # noqa: E402
from anomaly.datasets import ADBENCH_DATASETS, load_adbench  # noqa: E402
from benchmarks.common import DATA_HOME, merge_results, run_or_report, seed_globals, write_text  # noqa: E402

RESULTS = Path(__file__).parent / "results"
KEYS = ["dataset", "detector", "rate", "seed"]
OURS = {"VAEDetector": VAEDetector, "GANDetector": GANDetector, "VAEGANDetector": VAEGANDetector}
IMPUTED_FOREST = "SimpleImputer + IsolationForest"
# Each detector with missing values, and the detector it is on complete data.
COMPLETE = {
    **{f"{ours}(missing='marginalize')": ours for ours in OURS},
    **{f"SimpleImputer + {ours}": ours for ours in OURS},
    IMPUTED_FOREST: "IsolationForest",
}


def _detector(name: str, seed: int):
    if name == IMPUTED_FOREST:
        return make_pipeline(SimpleImputer(), IsolationForest(random_state=seed))
    if name == "IsolationForest":
        return IsolationForest(random_state=seed)
    ours = OURS[COMPLETE.get(name, name)]
    if name.endswith("(missing='marginalize')"):
        return ours(missing="marginalize", random_state=seed)
    if name.startswith("SimpleImputer"):
        return make_pipeline(SimpleImputer(), ours(random_state=seed))
    return ours(random_state=seed)


def remove_values(X: np.ndarray, rate: float, seed: int) -> np.ndarray:
    """``X`` with a share ``rate`` of its values set to NaN at random; each row keeps one."""
    rng = np.random.default_rng(seed)
    missing = rng.random(X.shape) < rate
    empty = missing.all(axis=1)
    missing[empty, rng.integers(0, X.shape[1], empty.sum())] = False
    return np.where(missing, np.nan, X)


def run(args: argparse.Namespace) -> None:
    for dataset in args.datasets:
        X, y = load_adbench(dataset, data_home=args.data_home, return_X_y=True)
        rows = []
        for seed in args.seeds:
            cases = [(0.0, name, X) for name in (*args.detectors, "IsolationForest")]
            for rate in args.rates:
                X_missing = remove_values(X, rate, seed)
                cases += [
                    (rate, name, X_missing)
                    for name, complete in COMPLETE.items()
                    if complete in (*args.detectors, "IsolationForest")
                ]
            for rate, name, data in cases:
                seed_globals(seed)
                detector = _detector(name, seed)
                start = time.perf_counter()
                detector.fit(data)
                scores = anomaly_scores(detector, data)
                rows.append(
                    dict(
                        dataset=dataset,
                        detector=name,
                        rate=rate,
                        seed=seed,
                        roc_auc=roc_auc_score(y, scores),
                        pr_auc=average_precision_score(y, scores),
                        seconds=time.perf_counter() - start,
                    )
                )
                print(f"{dataset} {name} {rate}: {rows[-1]['roc_auc']:.3f}", flush=True)
        args.results.mkdir(parents=True, exist_ok=True)
        merge_results(args.results / "missing_values.csv", pd.DataFrame(rows), KEYS)
    write_text(args.results / "missing_values.md", report(args.results))
    print(report(args.results))


def report(results: Path) -> str:
    frame = pd.read_csv(results / "missing_values.csv")
    means = frame.groupby(["detector", "rate"]).agg(
        roc_auc=("roc_auc", "mean"), pr_auc=("pr_auc", "mean"), seeds=("seed", "nunique")
    )
    lines = [
        "# Missing values on ADBench: marginalised against imputed",
        "",
        "Written by `python benchmarks/missing_values.py report`. Mean over "
        f"{frame.dataset.nunique()} sets and each row's seeds (`seeds`: how many, from "
        f"{sorted(frame.seed.unique().tolist())}); the same values removed at training and at "
        "scoring. `loss`: the figure on complete data (of the same detector, or "
        "IsolationForest's for the imputed IsolationForest) minus the figure with missing values.",
        "",
    ]
    table = []
    for rate in sorted(r for r in frame.rate.unique() if r > 0):
        for name, complete in COMPLETE.items():
            if (name, rate) not in means.index or (complete, 0.0) not in means.index:
                continue
            row = means.loc[(name, rate)]
            whole = means.loc[(complete, 0.0)]
            table.append(
                dict(
                    rate=rate,
                    detector=name,
                    roc_auc=row.roc_auc,
                    roc_auc_loss=whole.roc_auc - row.roc_auc,
                    pr_auc=row.pr_auc,
                    pr_auc_loss=whole.pr_auc - row.pr_auc,
                    seeds=row.seeds,
                )
            )
    complete = means.xs(0.0, level="rate")
    lines += [
        "Complete data:",
        "",
        complete.round(3).to_markdown(),
        "",
        "With missing values:",
        "",
        pd.DataFrame(table).round(3).to_markdown(index=False),
        "",
    ]
    per_set = frame[frame.rate > 0].pivot_table(
        index=["dataset", "rate"], columns="detector", values="pr_auc"
    )
    lines += ["PR-AUC per set:", "", per_set.round(3).to_markdown(), ""]
    return "\n".join(lines)


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--datasets", nargs="+", default=list(ADBENCH_DATASETS), choices=ADBENCH_DATASETS
    )
    parser.add_argument("--rates", type=float, nargs="+", default=[0.1, 0.3])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--detectors", nargs="+", default=["VAEDetector"], choices=list(OURS))
    parser.add_argument("--data-home", type=Path, default=DATA_HOME)


def main() -> None:
    run_or_report(
        __doc__.splitlines()[0], "missing_values.md", run, report, _run_arguments, RESULTS
    )


if __name__ == "__main__":
    main()
