"""ADBench tabular benchmark: detection quality and training speed.

Quality (unsupervised protocol): each detector is fit on all of X and scores all
of X, for each dataset and seed; ROC-AUC, PR-AUC (average precision) and the
fit/score seconds are recorded. Our detectors run with one fixed set of defaults
for every dataset (and ablations: each of issue 13's changes turned off, other
scoring rules of the same fits), next to PyOD's VAE, AutoEncoder, DeepSVDD,
IForest, ECOD, KNN and GAN-based detectors at their defaults.

Speed: samples per second of fitting, each run in its own process (so its peak
RSS can be read), for VAEDetector.fit, a bare torch loop over the same network
and batches, and PyOD's VAE at the same epochs and widths.

Usage::

    python benchmarks/tabular.py quality            # all 15 sets x 3 seeds x every detector
    python benchmarks/tabular.py quality --detectors VAEDetector --datasets 4_breastw
    python benchmarks/tabular.py speed
    python benchmarks/tabular.py report             # rewrite results/tabular.md from the CSVs
    python benchmarks/tabular.py quality --quick --download   # a first look in a minute

Results are merged into ``benchmarks/results/tabular_quality.csv`` and
``tabular_speed.csv`` (a rerun replaces the rows it recomputes) and summarised in
``benchmarks/results/tabular.md``. Data come from ``--data-home``, default
``benchmarks.common.DATA_HOME``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anomaly import GANDetector, VAEDetector, VAEGANDetector  # noqa: E402
from anomaly.adapters import anomaly_scores  # noqa: E402
from anomaly.datasets import ADBENCH_DATASETS, load_adbench  # noqa: E402
from anomaly.detectors.likelihood import negative_elbo  # noqa: E402
from anomaly.networks import MLP, VAE  # noqa: E402
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

SEEDS = (1, 2, 3)
QUICK = dict(
    datasets=["4_breastw", "6_cardio", "42_WBC"],
    detectors=["VAEDetector", "PyOD IForest", "PyOD ECOD", "PyOD KNN"],
    seeds=[1],
)
KEYS = ["dataset", "detector", "seed"]


DETECTORS: dict[str, Callable[[int], object]] = {
    "VAEDetector": lambda seed: VAEDetector(random_state=seed),
    # Ablations of issue 13's defaults: each change turned off, then both (the defaults before).
    "VAEDetector (trim_fraction=0)": lambda seed: VAEDetector(trim_fraction=0.0, random_state=seed),
    "VAEDetector (likelihood=gaussian)": lambda seed: VAEDetector(
        likelihood="gaussian", random_state=seed
    ),
    "VAEDetector (likelihood=gaussian, trim_fraction=0)": lambda seed: VAEDetector(
        likelihood="gaussian", trim_fraction=0.0, random_state=seed
    ),
    "GANDetector": lambda seed: GANDetector(random_state=seed),  # scoring_rule="encoder"
    "GANDetector (trim_fraction=0)": lambda seed: GANDetector(trim_fraction=0.0, random_state=seed),
    "VAEGANDetector": lambda seed: VAEGANDetector(random_state=seed),
    "VAEGANDetector (likelihood=gaussian, trim_fraction=0)": lambda seed: VAEGANDetector(
        likelihood="gaussian", trim_fraction=0.0, random_state=seed
    ),
    **{name: build for name, build in PYOD_DETECTORS.items() if name != "PyOD PCA"},
}
# Other scoring rules of one fit. Training does not depend on the rule (the
# tests check it), so these score the detector fitted on the same set and seed
# another way; their fit seconds are that fit's, listed under its name.
RESCORED = {
    "VAEDetector (scoring_rule=elbo)": ("VAEDetector", "elbo"),
    "VAEDetector (scoring_rule=reconstruction_error)": ("VAEDetector", "reconstruction_error"),
    "GANDetector (scoring_rule=anogan)": ("GANDetector", "anogan"),
    "GANDetector (scoring_rule=discriminator)": ("GANDetector", "discriminator"),
}
GAN_FAMILY = {
    "ours": [
        "GANDetector",
        "GANDetector (scoring_rule=anogan)",
        "GANDetector (scoring_rule=discriminator)",
        "VAEGANDetector",
    ],
    "PyOD": ["PyOD AnoGAN", "PyOD ALAD", "PyOD SO_GAAL"],
}
# PyOD's AnoGAN searches the latent space one row at a time, in fit and in scoring
# (about 65 ms a row here, so 55 minutes a seed on 32_shuttle alone): it runs on the
# sets of at most this many rows, and the report compares on those sets too.
ROW_LIMITS = {"PyOD AnoGAN": 2000}


def _seeded_fit(name: str, seed: int, X: np.ndarray) -> Run:
    seed_globals(seed)
    return fit_and_score(DETECTORS[name](seed), X, X)


def quality(
    datasets: list[str],
    seeds: list[int],
    detectors: list[str],
    data_home: Path,
    download: bool = False,
) -> Iterator[pd.DataFrame]:
    """One frame of rows per dataset, so a long run can be saved as it goes."""
    for dataset in datasets:
        rows = []
        X, y = load_adbench(dataset, data_home=data_home, download=download, return_X_y=True)
        fitted: dict[tuple[str, int], object] = {}
        for name in detectors:
            if len(X) > ROW_LIMITS.get(name, len(X)):
                print(f"skipped {name} on {dataset}: {len(X)} rows > {ROW_LIMITS[name]}")
                continue
            for seed in seeds:
                if name in RESCORED:
                    base, rule = RESCORED[name]
                    if (base, seed) not in fitted:
                        fitted[base, seed] = _seeded_fit(base, seed, X).detector
                    detector = copy.deepcopy(fitted[base, seed])
                    detector.fitted_params_ = {**detector.fitted_params_, "scoring_rule": rule}
                    start = time.perf_counter()
                    scores = anomaly_scores(detector, X)
                    # No fit of its own: the fit's seconds are listed under its base name.
                    run = Run(detector, scores, float("nan"), time.perf_counter() - start)
                else:
                    run = _seeded_fit(name, seed, X)
                    fitted[name, seed] = run.detector
                row = dict(
                    dataset=dataset,
                    detector=name,
                    seed=seed,
                    roc_auc=roc_auc_score(y, run.scores),
                    pr_auc=average_precision_score(y, run.scores),
                    fit_seconds=run.fit_seconds,
                    score_seconds=run.score_seconds,
                    n_samples=len(X),
                    n_features=X.shape[1],
                )
                print(json.dumps(row), flush=True)
                rows.append(row)
        yield pd.DataFrame(rows)


# --- speed ---------------------------------------------------------------------------------

SPEED_DATASETS = ["23_mammography", "24_mnist"]
SPEED_EPOCHS = 20
# PyOD VAE's default widths, given to every contender.
SPEED_WIDTHS = dict(hidden_sizes=(128, 64, 32), latent_dim=2)


def _speed_run(contender: str, dataset: str, batch_size: int, data_home: Path) -> dict:
    """One timed fit; runs inside its own process (see ``speed``)."""
    X, _ = load_adbench(dataset, data_home=data_home, return_X_y=True)
    torch.manual_seed(0)
    if contender == "VAEDetector.fit":
        detector = VAEDetector(
            **SPEED_WIDTHS, epochs=SPEED_EPOCHS, batch_size=batch_size, random_state=0
        )
        start = time.perf_counter()
        detector.fit(X)
    elif contender.startswith("bare torch loop"):
        # The same network, loss, batches and optimizer, with nothing around them.
        hidden, latent = SPEED_WIDTHS["hidden_sizes"], SPEED_WIDTHS["latent_dim"]
        network = VAE(
            MLP(X.shape[1], hidden, 2 * latent), MLP(latent, hidden[::-1], 2 * X.shape[1])
        )
        start = time.perf_counter()
        data = torch.from_numpy(
            ((X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1)).astype(np.float32)
        )
        fused = contender.endswith("fused Adam")  # as VAEDetector's loop uses it
        optimizer = torch.optim.Adam(network.parameters(), lr=1e-3, fused=fused)
        generator = torch.Generator().manual_seed(0)
        for _ in range(SPEED_EPOCHS):
            order = torch.randperm(len(data), generator=generator)
            for i in range(0, len(data), batch_size):
                loss = negative_elbo(network, data[order[i : i + batch_size]], 1.0).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    elif contender == "PyOD VAE":
        from pyod.models.vae import VAE as PyODVAE

        detector = PyODVAE(
            epoch_num=SPEED_EPOCHS,
            batch_size=batch_size,
            latent_dim=SPEED_WIDTHS["latent_dim"],
            encoder_neuron_list=list(SPEED_WIDTHS["hidden_sizes"]),
            decoder_neuron_list=list(SPEED_WIDTHS["hidden_sizes"])[::-1],
            random_state=0,
            verbose=0,
        )
        start = time.perf_counter()
        detector.fit(X)
    else:
        raise ValueError(contender)
    seconds = time.perf_counter() - start
    return dict(seconds=seconds, samples_per_second=len(X) * SPEED_EPOCHS / seconds)


def speed(data_home: Path, repeats: int = 5) -> pd.DataFrame:
    contenders = [
        (contender, batch_size)
        for batch_size in (128, 32)
        for contender in (
            "VAEDetector.fit",
            "bare torch loop",
            "bare torch loop, fused Adam",
            "PyOD VAE",
        )
    ]
    rows = []
    for dataset in SPEED_DATASETS:
        for contender, batch_size in contenders:
            for repeat in range(repeats):
                # A fresh process per run: no warm caches, and its own peak RSS.
                command = [
                    sys.executable,
                    __file__,
                    "speed-run",
                    contender,
                    dataset,
                    str(batch_size),
                ]
                process = subprocess.Popen(
                    command,
                    stdout=subprocess.PIPE,
                    text=True,
                    env={**os.environ, "ANOMALY_DATA": str(data_home)},
                )
                output = process.stdout.read()
                _, status, usage = os.wait4(process.pid, 0)  # reaps the child with its own rusage
                process.returncode = os.waitstatus_to_exitcode(status)
                if process.returncode != 0:
                    raise RuntimeError(
                        f"{contender} on {dataset} failed with exit code {process.returncode}"
                    )
                row = dict(
                    dataset=dataset,
                    contender=contender,
                    batch_size=batch_size,
                    epochs=SPEED_EPOCHS,
                    repeat=repeat,
                    **json.loads(output.strip().splitlines()[-1]),
                    peak_rss_mib=usage.ru_maxrss / 1024,  # Linux reports KiB
                )
                print(json.dumps(row), flush=True)
                rows.append(row)
    return pd.DataFrame(rows)


# --- report --------------------------------------------------------------------------------


def _gan_family(results: pd.DataFrame) -> list[str]:
    """Our best GAN-family mean against PyOD's, on every set and on the sets all ran on."""
    family = [name for names in GAN_FAMILY.values() for name in names]
    present = results[results.detector.isin(family)]
    if present.empty:
        return []
    shared = set.intersection(*(set(g.dataset) for _, g in present.groupby("detector")))
    table = pd.DataFrame(
        {
            "all sets it ran on": present.groupby("detector").roc_auc.mean(),
            "sets": present.groupby("detector").dataset.nunique(),
            f"the {len(shared)} sets all ran on": present[present.dataset.isin(shared)]
            .groupby("detector")
            .roc_auc.mean(),
        }
    ).sort_values("all sets it ran on", ascending=False)
    lines = [
        "## GAN family: mean ROC-AUC",
        "",
        f"Common sets: {', '.join(d for d in ADBENCH_DATASETS if d in shared)}.",
        "",
        table.to_markdown(floatfmt=".3f"),
        "",
    ]
    column = f"the {len(shared)} sets all ran on"
    ours = table.loc[table.index.isin(GAN_FAMILY["ours"]), column]
    theirs = table.loc[table.index.isin(GAN_FAMILY["PyOD"]), column]
    if len(ours) and len(theirs):
        lines += [
            f"On the common sets our best GAN-family detector, {ours.idxmax()}, has "
            f"{ours.max():.3f} against PyOD's best, {theirs.idxmax()}, {theirs.max():.3f}.",
            "",
        ]
    means = results.groupby("detector").roc_auc.mean()
    if {"VAEGANDetector", "VAEDetector"} <= set(means.index):
        lines += [
            f"VAEGANDetector {means['VAEGANDetector']:.3f} vs VAEDetector "
            f"{means['VAEDetector']:.3f} (all sets).",
            "",
        ]
    return lines


def report(results_dir: Path = RESULTS) -> str:
    lines = [
        "# Tabular benchmark (ADBench, unsupervised: fit on all X, score all X)",
        "",
        f"Written by `python benchmarks/tabular.py report` from the CSVs beside this file. "
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
        f"{torch.__version__}, "
        + (f"GPU {torch.cuda.get_device_name()}." if torch.cuda.is_available() else "no GPU."),
        "",
    ]
    quality_csv = results_dir / "tabular_quality.csv"
    if quality_csv.exists():
        results = pd.read_csv(quality_csv)
        seeds = sorted(results.seed.unique().tolist())
        for metric in ["roc_auc", "pr_auc"]:
            table = results.pivot_table(
                index="dataset", columns="detector", values=metric, aggfunc="mean"
            )
            table = table.reindex([d for d in ADBENCH_DATASETS if d in table.index])
            table.loc["**mean**"] = table.mean()
            lines += [
                f"## {metric.upper().replace('_', '-')} (mean of seeds {seeds})",
                "",
            ]
            lines += [table.to_markdown(floatfmt=".3f"), ""]
        per_seed = results.groupby(["detector", "seed"]).roc_auc.mean().groupby("detector")
        summary = pd.DataFrame(
            {
                "mean ROC-AUC": per_seed.mean(),
                "std over seeds": per_seed.std(),
                "datasets": results.groupby("detector").dataset.nunique(),
            }
        ).sort_values("mean ROC-AUC", ascending=False)
        lines += ["## Mean ROC-AUC over the datasets", "", summary.to_markdown(floatfmt=".3f"), ""]
        complete = summary[summary.datasets == summary.datasets.max()]
        baselines = complete[complete.index.str.startswith("PyOD")]
        if "VAEDetector" in summary.index and len(baselines) > 0:
            ours, best = summary.loc["VAEDetector", "mean ROC-AUC"], baselines.iloc[0]
            lines += [
                f"VAEDetector {ours:.3f} vs the best PyOD detector, {best.name}, "
                f"{best['mean ROC-AUC']:.3f} (difference {ours - best['mean ROC-AUC']:+.3f}).",
                "",
            ]
        lines += _gan_family(results)
        seconds = (
            results.groupby("detector")[["fit_seconds", "score_seconds"]].sum()
            / results.seed.nunique()
        )
        lines += [
            "## Seconds summed over the datasets (mean over seeds)",
            "",
            seconds.to_markdown(floatfmt=".1f"),
            "",
        ]
    speed_csv = results_dir / "tabular_speed.csv"
    if speed_csv.exists():
        runs = pd.read_csv(speed_csv)
        medians = runs.groupby(["dataset", "contender", "batch_size"])[
            ["samples_per_second", "peak_rss_mib"]
        ].median()
        rate = medians.samples_per_second
        ratios = []
        for dataset in rate.index.unique("dataset"):
            ours = rate[dataset, "VAEDetector.fit"]
            ratios.append(
                {
                    "dataset": dataset,
                    **{
                        f"vs bare loop, batch {b}": ours[b] / rate[dataset, "bare torch loop", b]
                        for b in (128, 32)
                    },
                    **{
                        f"vs bare loop + fused Adam, batch {b}": ours[b]
                        / rate[dataset, "bare torch loop, fused Adam", b]
                        for b in (128, 32)
                    },
                    **{
                        f"vs PyOD VAE, batch {b}": ours[b] / rate[dataset, "PyOD VAE", b]
                        for b in (128, 32)
                    },
                    "vs PyOD VAE, each at its default batch (128 vs 32)": ours[128]
                    / rate[dataset, "PyOD VAE", 32],
                }
            )
        lines += [
            f"## Training speed ({SPEED_EPOCHS} epochs, widths {SPEED_WIDTHS}, "
            f"median of {runs.repeat.nunique()} fresh processes)",
            "",
            "`VAEDetector.fit` includes standardisation and the scoring pass that sets `offset_`; "
            "the bare loops are the same network, loss, batches and Adam with nothing around them.",
            "",
            medians.to_markdown(floatfmt=".0f"),
            "",
            "VAEDetector.fit's samples/s divided by each contender's:",
            "",
            pd.DataFrame(ratios).set_index("dataset").T.to_markdown(floatfmt=".2f"),
            "",
        ]
    text = "\n".join(lines)
    write_text(results_dir / "tabular.md", text)
    return text


def main() -> None:
    if sys.argv[1:2] == ["speed-run"]:  # one timed fit, started by `speed` in a fresh process
        contender, dataset, batch_size = sys.argv[2:5]
        print(json.dumps(_speed_run(contender, dataset, int(batch_size), DATA_HOME)))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["quality", "speed", "report"])
    parser.add_argument(
        "--datasets", nargs="+", default=list(ADBENCH_DATASETS), choices=ADBENCH_DATASETS
    )
    names = [*DETECTORS, *RESCORED]
    parser.add_argument("--detectors", nargs="+", default=names, choices=names)
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--data-home", type=Path, default=DATA_HOME)
    parser.add_argument("--download", action="store_true", help="fetch missing datasets")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of the CSVs and .md")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a first look: {', '.join(QUICK['datasets'])}, seed 1, four detectors, "
        "results in benchmarks/results/quick/ (not committed)",
    )
    args = parser.parse_args()
    if args.quick:
        vars(args).update(QUICK, results=RESULTS / "quick")
    args.results.mkdir(parents=True, exist_ok=True)
    if args.what == "quality":
        for new in quality(
            args.datasets, args.seeds, args.detectors, args.data_home, args.download
        ):
            if len(new):
                merge_results(args.results / "tabular_quality.csv", new, KEYS)
    elif args.what == "speed":
        merge_results(
            args.results / "tabular_speed.csv",
            speed(args.data_home),
            ["dataset", "contender", "batch_size", "repeat"],
        )
    print(report(args.results))


if __name__ == "__main__":
    main()
