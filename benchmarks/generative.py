"""VAE, GAN and VAE-GAN as generative models on Fashion-MNIST or MNIST (issue 17), measured.

Protocol: ``--dataset`` (``fashion_mnist``, or ``mnist`` where the data home
has it), one class left out of training (``--unseen``, default 8: "Bag", "8"), the
detectors at their defaults with ``--epochs`` (10) fitted on ``--train`` (5,000)
training images of the other nine classes, seeds ``--seeds`` (1 2 3); measured
by :func:`anomaly.generative_comparison.compare_generative` on ``--test`` (2,000)
test images, the unseen class's among them as the anomalies. Image features:
:func:`anomaly.image_features.classifier_features` (a classifier of the set trained
by our code, cached in the data home; its test accuracy is reported), not Inception.

Usage::

    python benchmarks/generative.py run [--dataset mnist] [--data-home DIR]
    python benchmarks/generative.py report

Results: ``benchmarks/results/generative.csv`` (merged: a rerun replaces its rows)
and ``generative.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from anomaly import GANDetector, VAEDetector, VAEGANDetector  # noqa: E402
from anomaly.datasets import FASHION_MNIST_CLASSES, MNIST_CLASSES  # noqa: E402
from anomaly.generative_comparison import compare_generative  # noqa: E402
from anomaly.image_features import LABELLED_IMAGE_SETS, classifier_features  # noqa: E402
from benchmarks.common import merge_results, run_or_report, write_text  # noqa: E402

RESULTS = Path(__file__).parent / "results"
KEYS = ["dataset", "detector", "seed", "metric", "unseen", "n_train", "epochs"]
CLASSES = {"fashion_mnist": FASHION_MNIST_CLASSES, "mnist": MNIST_CLASSES}
TITLES = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST"}
# Which way is better, for the report.
LOWER_IS_BETTER = {"frechet_distance", "class_kl", "interpolation_path_ratio", "fit_seconds"}


def run(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    features = classifier_features(args.dataset, args.data_home)
    print(
        f"classifier test accuracy {features.test_accuracy:.4f} "
        f"({time.perf_counter() - start:.0f} s)",
        flush=True,
    )
    load = LABELLED_IMAGE_SETS[args.dataset]
    images, labels = load("train", data_home=args.data_home, return_X_y=True)
    test_images, test_labels = load("test", data_home=args.data_home, return_X_y=True)
    rng = np.random.default_rng(0)
    seen = np.flatnonzero(labels != args.unseen)
    train = rng.choice(seen, args.train, replace=False)
    test = rng.choice(len(test_images), args.test, replace=False)
    detectors = {
        "VAEDetector": VAEDetector(epochs=args.epochs),
        "GANDetector": GANDetector(epochs=args.epochs),
        "VAEGANDetector": VAEGANDetector(epochs=args.epochs),
    }
    table = compare_generative(
        detectors,
        images[train],
        labels[train],
        test_images[test],
        test_labels[test],
        features=features,
        seeds=args.seeds,
        dequantize=1 / 256,  # 8-bit pixels
    )
    table = table.assign(
        dataset=args.dataset,
        unseen=args.unseen,
        n_train=args.train,
        epochs=args.epochs,
        classifier_accuracy=features.test_accuracy,
    )
    args.results.mkdir(parents=True, exist_ok=True)
    merge_results(args.results / "generative.csv", table, KEYS)
    write_text(args.results / "generative.md", report(args.results))
    print(report(args.results))


def report(results: Path) -> str:
    frame = pd.read_csv(results / "generative.csv")
    lines = ["# VAE, GAN and VAE-GAN as generative models", ""]
    lines.append("Written by `python benchmarks/generative.py report`.")
    groups = frame.groupby(["dataset", "unseen", "n_train", "epochs"])
    for (dataset, unseen, n_train, epochs), runs in groups:
        stats = runs.groupby(["metric", "detector"])["value"].agg(["mean", "std"])
        table = (
            stats["mean"].map("{:.3f}".format) + " ± " + stats["std"].map("{:.3f}".format)
        ).unstack("detector")
        table = table.fillna("none")  # a measure a family does not have (a GAN's likelihood)
        table["better"] = ["lower" if m in LOWER_IS_BETTER else "higher" for m in table.index]
        accuracy = runs["classifier_accuracy"].iloc[0]
        lines += [
            "",
            f"## {TITLES[dataset]}: class {unseen} ({CLASSES[dataset][unseen]}) left out; "
            f"{n_train:,} training images, {epochs} epochs, "
            f"seeds {sorted(int(s) for s in runs.seed.unique())}",
            "",
            f"Mean ± standard deviation over the seeds. Image features: our {TITLES[dataset]} "
            f"classifier (test accuracy {accuracy:.4f}), not Inception: the Fréchet distance "
            "is the FID formula on these features and compares only with itself. "
            "Log-likelihoods are in nats per pixel (pixels in [0, 1], dequantised by uniform "
            "noise of width 1/256).",
            "",
            table.to_markdown(),
        ]
    return "\n".join(lines) + "\n"


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", choices=sorted(LABELLED_IMAGE_SETS), default="fashion_mnist")
    parser.add_argument("--data-home", type=Path, default=None)
    parser.add_argument("--unseen", type=int, default=8)
    parser.add_argument("--train", type=int, default=5_000)
    parser.add_argument("--test", type=int, default=2_000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])


def main() -> None:
    run_or_report(__doc__.splitlines()[0], "generative.md", run, report, _run_arguments, RESULTS)


if __name__ == "__main__":
    main()
