"""ODDS benchmark in PyOD's own protocol, beside PyOD's published figures.

The 12 ODDS ``.mat`` files behind PyOD's benchmark tables, each split 60/40
into training and test rows (``train_test_split(..., test_size=0.4,
random_state=seed)``) and standardised with the training rows' mean and
standard deviation, as PyOD's benchmark notebook does. Each detector is fit
on the training rows (anomalies included) and scores the test rows, for
seeds 1-3; our detectors run at their defaults, PyOD's IForest alongside.

The published figures (``odds/published_results/`` in the data home) are
PyOD's notebook run (one split, seed 0, 34 detectors: ROC-AUC and precision
at rank n, its ``prc.csv``) and its documentation table (ROC-AUC, mean of 10
splits, 10 detectors). Precision at rank n is PyOD's own
``precision_n_scores``: the precision of the n rows scored highest, n the test
anomalies.

Usage::

    python benchmarks/odds.py run               # 12 sets x 3 seeds x 4 detectors
    python benchmarks/odds.py run --detectors VAEDetector --datasets cardio
    python benchmarks/odds.py report            # rewrite results/odds.md from the CSV
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from pyod.utils.utility import precision_n_scores
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anomaly import GANDetector, VAEDetector, VAEGANDetector  # noqa: E402
from anomaly.datasets import ODDS_DATASETS, load_odds  # noqa: E402
from benchmarks.common import (  # noqa: E402
    DATA_HOME,
    PYOD_DETECTORS,
    RESULTS,
    fit_and_score,
    merge_results,
    seed_globals,
    write_text,
)

SEEDS = (1, 2, 3)
DETECTORS = {
    "VAEDetector": lambda seed: VAEDetector(random_state=seed),
    "GANDetector": lambda seed: GANDetector(random_state=seed),
    "VAEGANDetector": lambda seed: VAEGANDetector(random_state=seed),
    "PyOD IForest": PYOD_DETECTORS["PyOD IForest"],
}
KEYS = ["dataset", "detector", "seed"]
# Published columns shown beside ours: PyOD's names in its tables.
# (PyOD's VAE did not run in the notebook: all its entries are 0, "not run".)
PUBLISHED = ["IForest", "AutoEncoder", "ECOD", "KNN"]


def run(
    datasets: list[str], seeds: list[int], detectors: list[str], data_home: Path
) -> Iterator[pd.DataFrame]:
    """One frame of rows per dataset, so a long run is saved as it goes."""
    for dataset in datasets:
        X, y = load_odds(dataset, data_home=data_home, return_X_y=True)
        rows = []
        for seed in seeds:
            X_train, X_test, _, y_test = train_test_split(X, y, test_size=0.4, random_state=seed)
            scaler = StandardScaler().fit(X_train)
            X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
            for name in detectors:
                seed_globals(seed)
                result = fit_and_score(DETECTORS[name](seed), X_train, X_test)
                row = dict(
                    dataset=dataset,
                    detector=name,
                    seed=seed,
                    roc_auc=roc_auc_score(y_test, result.scores),
                    pr_auc=average_precision_score(y_test, result.scores),
                    precision_at_n=precision_n_scores(y_test, result.scores),
                    fit_seconds=result.fit_seconds,
                    n_train=len(X_train),
                )
                print(json.dumps(row), flush=True)
                rows.append(row)
        yield pd.DataFrame(rows)


def _published(data_home: Path, name: str) -> pd.DataFrame:
    table = pd.read_csv(data_home / "odds" / "published_results" / name)
    table.columns = table.columns.str.strip()
    # A column of zeros is a detector PyOD did not run (odds/SOURCE.md); a single 0.0 in the
    # precision at rank n is a real value (no anomaly among the top n).
    table = table.set_index("Data")
    return table.loc[:, (table != 0).any()]


def report(data_home: Path, results_dir: Path = RESULTS) -> str:
    results = pd.read_csv(results_dir / "odds_quality.csv")
    seeds = sorted(results.seed.unique().tolist())
    lines = [
        "# ODDS benchmark (PyOD's protocol: 60/40 split, standardised, fit on train, score test)",
        "",
        "Written by `python benchmarks/odds.py report`. Ours: mean of seeds "
        f"{seeds} (the split's seed too). Published: PyOD's notebook run (one split, seed 0; "
        "`pyod_notebooks_*.csv`) and, for ROC-AUC, PyOD's documentation table (mean of 10 "
        "splits; `pyod_docs_tables_roc.csv`), from `odds/published_results/`.",
        "",
    ]
    metrics = [
        ("roc_auc", "ROC-AUC", "pyod_notebooks_roc.csv"),
        ("precision_at_n", "Precision at rank n (PyOD's P@N)", "pyod_notebooks_prc.csv"),
        ("pr_auc", "PR-AUC (average precision; PyOD publishes none)", None),
    ]
    for metric, title, published_file in metrics:
        table = results.pivot_table(
            index="dataset", columns="detector", values=metric, aggfunc="mean"
        )
        if published_file is not None:
            published = _published(data_home, published_file)[PUBLISHED]
            table = table.join(published.add_prefix("published "))
        if metric == "roc_auc":
            docs = _published(data_home, "pyod_docs_tables_roc.csv")
            table = table.join(docs["IForest"].rename("published IForest (10 splits)"))
        table.loc["**mean**"] = table.mean()
        lines += [f"## {title}", "", table.to_markdown(floatfmt=".3f"), ""]
    seconds = results.groupby("detector").fit_seconds.sum() / results.seed.nunique()
    lines += [
        "## Fit seconds summed over the sets (mean over seeds)",
        "",
        seconds.to_frame().to_markdown(floatfmt=".1f"),
        "",
    ]
    text = "\n".join(lines)
    write_text(results_dir / "odds.md", text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["run", "report"])
    parser.add_argument("--datasets", nargs="+", default=list(ODDS_DATASETS), choices=ODDS_DATASETS)
    parser.add_argument("--detectors", nargs="+", default=list(DETECTORS), choices=list(DETECTORS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--data-home", type=Path, default=DATA_HOME)
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of the CSV and .md")
    args = parser.parse_args()
    args.results.mkdir(parents=True, exist_ok=True)
    if args.what == "run":
        for new in run(args.datasets, args.seeds, args.detectors, args.data_home):
            merge_results(args.results / "odds_quality.csv", new, KEYS)
    print(report(args.data_home, args.results))


if __name__ == "__main__":
    main()
