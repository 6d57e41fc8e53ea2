"""Image benchmarks: Fashion-MNIST one-class protocol and the magnetic tiles.

Fashion-MNIST (``fmnist``): each class in turn is normal. Every detector is fit
on that class's 6,000 training images and scores the 10,000 test images, of
which the other nine classes (9,000) are the anomalies; ROC-AUC and PR-AUC per
class, then the mean. Our three detectors run on the images with one fixed set
of parameters for every class (``OURS`` below: their defaults, with fewer
epochs); PyOD's VAE, AutoEncoder, DeepSVDD, IForest and KNN run at their
defaults on the flattened pixels.

Magnetic tiles (``tiles``): the detectors are fit on the defect-free images
of a seeded 70 % of the tiles and score the other tiles' defect-free images
plus every defect image; image ROC-AUC (overall and per defect kind against
the held-out defect-free images), and pixel ROC-AUC of our anomaly maps
against the defect masks. Each tile was photographed several times under
different exposures: the split keeps all shots of a tile on one side (the
loader's ``groups``), since a held-out shot of a training tile is a near copy
of a training image. ``--split random`` draws 70 % of the defect-free images
instead, as before; there a detector that only recalls its training images
("Nearest training tile", one minus the highest correlation of the 64 x 64
image with a training image's) ranks the defects well. Ours take the tiles at
full resolution (each at its own size, about 300 x 300 pixels, cut into
64 x 64 patches by their default ``patch_size``); PyOD's, which need rows of
one length, the tiles squared to 64 x 64.

Epoch time (``speed``): seconds per training epoch of our detectors on one
Fashion-MNIST class (6,000 images): the time spent in the training loop
(``anomaly.training.train``, every phase) of a 3-epoch fit, over 3, so the
scoring pass at the end of fit is left out; on the CPU and, where there is
one, on CUDA.

Usage::

    python benchmarks/images.py fmnist                     # 10 classes x 8 detectors
    python benchmarks/images.py fmnist --classes 0 --detectors VAEDetector
    python benchmarks/images.py tiles
    python benchmarks/images.py tiles --split random --detectors "Nearest training tile"
    python benchmarks/images.py speed
    python benchmarks/images.py speed-large               # 256 x 256, seconds and memory
    python benchmarks/images.py report                     # rewrite results/images.md

Results are merged into ``benchmarks/results/images_*.csv`` (a rerun replaces
the rows it recomputes) and summarised in ``benchmarks/results/images.md``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import resource
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import GroupShuffleSplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anomaly import GANDetector, VAEDetector, VAEGANDetector, training  # noqa: E402
from anomaly.datasets import (  # noqa: E402
    FASHION_MNIST_CLASSES,
    load_fashion_mnist,
    load_magnetic_tile,
)
from anomaly.detectors import base  # noqa: E402
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

# One fixed set of parameters for every class and set: the defaults, with 10 epochs.
EPOCHS = 10
OURS: dict[str, Callable[[int, str], object]] = {
    name: (lambda seed, device, cls=cls: cls(epochs=EPOCHS, random_state=seed, device=device))
    for name, cls in [
        ("VAEDetector", VAEDetector),
        ("GANDetector", GANDetector),
        ("VAEGANDetector", VAEGANDetector),
    ]
}
# What one default is worth on images, run on request (--detectors), not by default:
# n_neighbors=None scores whole images by each detector's scoring rule instead of by their
# nearest training images in the encoder's feature space.
ABLATIONS: dict[str, Callable[[int, str], object]] = {
    **{
        f"{name} (n_neighbors=None)": (
            lambda seed, device, cls=cls: cls(
                n_neighbors=None, epochs=EPOCHS, random_state=seed, device=device
            )
        )
        for name, cls in [
            ("VAEDetector", VAEDetector),
            ("GANDetector", GANDetector),
            ("VAEGANDetector", VAEGANDetector),
        ]
    },
    "VAEDetector (trim_fraction=0, n_neighbors=None)": lambda seed, device: VAEDetector(
        trim_fraction=0.0, n_neighbors=None, epochs=EPOCHS, random_state=seed, device=device
    ),
}
BASELINES = ["PyOD VAE", "PyOD AutoEncoder", "PyOD DeepSVDD", "PyOD IForest", "PyOD KNN"]


class NearestTrainingImage:
    """Scores an image by its highest correlation with a training image: recall, not detection.

    A split that leaves near copies of training images in the test set lets
    this rank well; on a sound split it should be weak.
    """

    def fit(self, X: np.ndarray) -> NearestTrainingImage:
        self.train_ = self._standardized(X)
        return self

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        rows = self._standardized(X)
        return (rows @ self.train_.T).max(axis=1) / rows.shape[1]

    @staticmethod
    def _standardized(X: np.ndarray) -> np.ndarray:
        rows = np.reshape(X, (len(X), -1)).astype(float)
        rows -= rows.mean(axis=1, keepdims=True)
        std = rows.std(axis=1, keepdims=True)
        return rows / np.where(std > 0, std, 1.0)  # a flat image correlates with nothing


LEAK_CHECKS = {"Nearest training tile": lambda seed: NearestTrainingImage()}
DETECTORS = [*OURS, *BASELINES]
BUILDERS = {**OURS, **ABLATIONS}
# PyOD's detectors take rows of one length: the tiles squared to this size.
BASELINE_TILE_SIZE = (64, 64)
DEFECT_KINDS = ("Blowhole", "Break", "Crack", "Fray", "Uneven")


def _fit_and_score(name: str, seed: int, device: str, train: np.ndarray, test: np.ndarray) -> Run:
    """One seeded run of ours, of PyOD's (on flattened pixels) or of a leak check."""
    seed_globals(seed)
    if name in BUILDERS:
        detector = BUILDERS[name](seed, device)
    else:
        detector = {**PYOD_DETECTORS, **LEAK_CHECKS}[name](seed)
    return fit_and_score(detector, train, test)


@dataclass
class MappedRun(Run):
    """A run of ours with the anomaly maps of the scored images."""

    maps: list[np.ndarray] = field(default_factory=list)


def _fit_and_map(
    name: str, seed: int, device: str, train: list[np.ndarray], test: list[np.ndarray]
) -> MappedRun:
    """Fit ours, score the test images (timed), then map them (for the pixel ROC-AUC)."""
    seed_globals(seed)
    detector = BUILDERS[name](seed, device)
    start = time.perf_counter()
    detector.fit(train)
    fitted = time.perf_counter()
    scores = -detector.score_samples(test)
    scored = time.perf_counter()
    maps = list(detector.anomaly_map(test))
    return MappedRun(detector, scores, fitted - start, scored - fitted, maps)


def fmnist(
    classes: list[int], detectors: list[str], seeds: list[int], data_home: Path, device: str
) -> Iterator[pd.DataFrame]:
    """One frame of rows per normal class, so a long run can be saved as it goes."""
    train_images, train_labels = load_fashion_mnist("train", data_home=data_home, return_X_y=True)
    test_images, test_labels = load_fashion_mnist("test", data_home=data_home, return_X_y=True)
    for normal in classes:
        rows = []
        is_anomaly = test_labels != normal
        for name in detectors:
            for seed in seeds:
                run = _fit_and_score(
                    name, seed, device, train_images[train_labels == normal], test_images
                )
                row = dict(
                    normal_class=normal,
                    class_name=FASHION_MNIST_CLASSES[normal],
                    detector=name,
                    seed=seed,
                    roc_auc=roc_auc_score(is_anomaly, run.scores),
                    pr_auc=average_precision_score(is_anomaly, run.scores),
                    fit_seconds=run.fit_seconds,
                    score_seconds=run.score_seconds,
                    device=_device_name(name, device),
                )
                print(row, flush=True)
                rows.append(row)
        yield pd.DataFrame(rows)


def tile_split(groups: np.ndarray, target: np.ndarray, seed: int, split: str) -> np.ndarray:
    """Indices of the training images: defect-free shots of a seeded 70 % of the tiles.

    With ``split="random"``, a seeded 70 % of the defect-free images instead,
    whichever tile they show.
    """
    free = np.flatnonzero(target == 0)
    if split == "random":
        return np.random.default_rng(seed).permutation(free)[: int(0.7 * len(free))]
    splitter = GroupShuffleSplit(n_splits=1, train_size=0.7, random_state=seed)
    train, _ = next(splitter.split(free, groups=groups[free]))
    return free[train]


def tiles(
    detectors: list[str], seeds: list[int], data_home: Path, device: str, split: str = "tile"
) -> Iterator[pd.DataFrame]:
    """Fit on the defect-free shots of 70 % of the tiles, score the rest and every defect.

    Ours take the tiles at full resolution (each its own size, cut into
    patches); the others the tiles squared to ``BASELINE_TILE_SIZE``.
    One row per detector and seed, so a long run can be saved as it goes.
    """
    data = load_magnetic_tile(data_home=data_home)
    squared = load_magnetic_tile(size=BASELINE_TILE_SIZE, data_home=data_home, verify=False)
    for seed in seeds:
        train = tile_split(data.groups, data.target, seed, split)
        test = np.setdiff1d(np.arange(len(data.target)), train)
        target, kind = data.target[test], data.kind[test]
        for name in detectors:
            if name in BUILDERS:
                images = [data.data[i] for i in train], [data.data[i] for i in test]
            else:
                images = squared.data[train], squared.data[test]
            if name in BUILDERS:
                run = _fit_and_map(name, seed, device, *images)
            else:
                run = _fit_and_score(name, seed, device, *images)
            row = dict(
                detector=name,
                seed=seed,
                split=split,
                roc_auc=roc_auc_score(target, run.scores),
                pr_auc=average_precision_score(target, run.scores),
                pixel_roc_auc=np.nan,
            )
            for defect in DEFECT_KINDS:
                pick = (kind == defect) | (target == 0)
                row[f"roc_auc_{defect.lower()}"] = roc_auc_score(target[pick], run.scores[pick])
            if name in BUILDERS:
                maps = run.maps
                row["pixel_roc_auc"] = roc_auc_score(
                    np.concatenate([data.masks[i].ravel() for i in test]),
                    np.concatenate([m.ravel() for m in maps]),
                )
            row |= dict(
                n_train=len(train),
                n_test=len(test),
                n_defects=int(target.sum()),
                fit_seconds=run.fit_seconds,
                score_seconds=run.score_seconds,
                device=_device_name(name, device),
            )
            print(row, flush=True)
            yield pd.DataFrame([row])


def speed(data_home: Path, devices: list[str], epochs: int = 3) -> pd.DataFrame:
    """Seconds per training epoch: the training loop's own time, without the scoring pass of fit."""
    images, labels = load_fashion_mnist("train", data_home=data_home, return_X_y=True)
    train = images[labels == 0]
    rows = []
    for device in devices:
        for name, build in OURS.items():
            spent: list[float] = []
            detector = build(0, device).set_params(epochs=epochs)
            with mock.patch.object(base, "train", _timed_train(spent, device)):
                detector.fit(train)
            rows.append(
                dict(
                    detector=name,
                    device=_device_name(name, device),
                    images=len(train),
                    epochs=epochs,
                    epoch_seconds=sum(spent) / epochs,
                )
            )
            print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def speed_large(
    data_home: Path, devices: list[str], size: int = 256, n_images: int = 100, epochs: int = 2
) -> pd.DataFrame:
    """Seconds per epoch and peak memory on full-resolution images of ``size`` x ``size``.

    The centre ``size`` x ``size`` crops of the first ``n_images`` defect-free
    tiles wide enough, fitted with the defaults (64 x 64 patches) for ``epochs``
    epochs, then scored. Each detector runs in a fresh process, so its peak
    resident memory (on CUDA, peak allocated GPU memory) is its own.
    """
    context = multiprocessing.get_context("spawn")
    rows = []
    for device in devices:
        for name in OURS:
            with context.Pool(1) as pool:
                row = pool.apply(_measure_large, (name, device, data_home, size, n_images, epochs))
            rows.append(row)
            print(row, flush=True)
    return pd.DataFrame(rows)


def _measure_large(
    name: str, device: str, data_home: Path, size: int, n_images: int, epochs: int
) -> dict:
    tiles = load_magnetic_tile(data_home=data_home, verify=False)
    crops = []
    for image, target in zip(tiles.data, tiles.target):
        height, width = image.shape
        if target == 0 and min(height, width) >= size and len(crops) < n_images:
            top, left = (height - size) // 2, (width - size) // 2
            crops.append(image[top : top + size, left : left + size])
    images = np.stack(crops)
    idle_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    spent: list[float] = []
    detector = OURS[name](0, device).set_params(epochs=epochs)
    with mock.patch.object(base, "train", _timed_train(spent, device)):
        detector.fit(images)
    start = time.perf_counter()
    detector.score_samples(images)
    score_seconds = time.perf_counter() - start
    row = dict(
        detector=name,
        device=_device_name(name, device),
        image_size=f"{size} x {size}",
        images=len(images),
        epochs=epochs,
        epoch_seconds=sum(spent) / epochs,
        score_ms_per_image=1000 * score_seconds / len(images),
        peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        idle_rss_mib=idle_mib,
    )
    if device == "cuda" and torch.cuda.is_available():
        row["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return row


def _timed_train(spent: list[float], device: str) -> Callable:
    """anomaly.training.train, appending its seconds to ``spent`` (a GAN trains in phases)."""

    def timed(*args: object, **kwargs: object) -> object:
        start = time.perf_counter()
        result = training.train(*args, **kwargs)
        if device == "cuda":
            torch.cuda.synchronize()
        spent.append(time.perf_counter() - start)
        return result

    return timed


def _device_name(name: str, device: str) -> str:
    if name in BUILDERS and device != "cpu" and torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name()})"
    return f"cpu ({platform.machine()}, {torch.get_num_threads()} threads)"


def report(results: Path) -> str:
    lines = ["# Image benchmarks", "", "Written by `python benchmarks/images.py report`.", ""]
    path = results / "images_fmnist.csv"
    if path.exists():
        frame = pd.read_csv(path)
        per_class = frame.pivot_table(
            index="class_name", columns="detector", values="roc_auc", sort=False
        )[[name for name in [*DETECTORS, *ABLATIONS] if name in set(frame.detector)]]
        complete = per_class.dropna(axis=1)
        lines += [
            "## Fashion-MNIST one-class ROC-AUC (mean over seeds)",
            "",
            f"Train on one class's training images, score all 10,000 test images; our "
            f"detectors at their defaults with {EPOCHS} epochs, PyOD's at theirs on flattened "
            "pixels.",
            "",
            per_class.to_markdown(floatfmt=".3f"),
            "",
            f"Mean over the {len(complete)} classes every detector ran on:",
            "",
            complete.mean()
            .sort_values(ascending=False)
            .to_frame("mean ROC-AUC")
            .to_markdown(floatfmt=".3f"),
            "",
        ]
    path = results / "images_tiles.csv"
    if path.exists():
        frame = pd.read_csv(path)
        if "split" not in frame:  # rows from before the tile split
            frame["split"] = "random"
        frame["split"] = frame["split"].fillna("random")
        kinds = [f"roc_auc_{defect.lower()}" for defect in DEFECT_KINDS]
        columns = ["roc_auc", "pr_auc", "pixel_roc_auc", *kinds, "fit_seconds", "score_seconds"]
        for split, heading in [
            ("tile", "the defect-free shots of 70 % of the tiles, held-out tiles scored"),
            ("random", "a random 70 % of the defect-free images: leaks near copies"),
        ]:
            rows = frame[frame.split == split]
            if rows.empty:
                continue
            summary = rows.groupby("detector")[[c for c in columns if c in rows]].mean()
            summary = summary.rename(columns={k: k.removeprefix("roc_auc_") for k in kinds})
            lines += [
                f"## Magnetic tiles, split `{split}` (train on {heading}; seed "
                + ", ".join(str(s) for s in sorted(set(rows.seed)))
                + ")",
                "",
                "Ours at full resolution (64 x 64 patches), the others on the tiles squared "
                "to 64 x 64. Image ROC-AUC and PR-AUC, pixel ROC-AUC of the anomaly maps "
                "against the defect masks, image ROC-AUC per defect kind (against the "
                "held-out defect-free images), seconds.",
                "",
                summary.sort_values("roc_auc", ascending=False).to_markdown(floatfmt=".3f"),
                "",
            ]
    path = results / "images_speed.csv"
    if path.exists():
        lines += [
            "## Seconds per training epoch (one Fashion-MNIST class, 6,000 images)",
            "",
            pd.read_csv(path).to_markdown(index=False, floatfmt=".3g"),
            "",
        ]
    path = results / "images_speed_large.csv"
    if path.exists():
        lines += [
            "## Full-resolution images: seconds per epoch and peak memory",
            "",
            "Centre 256 x 256 crops of 100 defect-free tiles, the defaults (64 x 64 "
            "patches, about each image's area of patches per epoch), 2 epochs, then "
            "scored; each detector in a fresh process. `peak_rss_mib` is the process's "
            "peak resident memory, `idle_rss_mib` the same process before fitting "
            "(Python, torch and the loaded tiles).",
            "",
            pd.read_csv(path).to_markdown(index=False, floatfmt=".3g"),
            "",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["fmnist", "tiles", "speed", "speed-large", "report"])
    parser.add_argument("--classes", type=int, nargs="+", default=list(range(10)))
    parser.add_argument(
        "--detectors",
        nargs="+",
        choices=[*DETECTORS, *ABLATIONS, *LEAK_CHECKS],
        help="default: ours and PyOD's, and for tiles the leak check",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--data-home", type=Path, default=DATA_HOME)
    parser.add_argument("--device", default="auto", help="for our detectors")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--split",
        choices=["tile", "random"],
        default="tile",
        help="tiles: hold out whole tiles (default) or random defect-free images",
    )
    args = parser.parse_args()
    args.results.mkdir(parents=True, exist_ok=True)
    if args.detectors is None:
        args.detectors = [*DETECTORS, *LEAK_CHECKS] if args.command == "tiles" else DETECTORS
    if args.command == "fmnist":
        for new in fmnist(args.classes, args.detectors, args.seeds, args.data_home, args.device):
            merge_results(
                args.results / "images_fmnist.csv", new, ["normal_class", "detector", "seed"]
            )
    elif args.command == "tiles":
        for new in tiles(args.detectors, args.seeds, args.data_home, args.device, args.split):
            merge_results(args.results / "images_tiles.csv", new, ["detector", "seed", "split"])
    elif args.command == "speed":
        devices = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
        merge_results(
            args.results / "images_speed.csv",
            speed(args.data_home, devices),
            ["detector", "device"],
        )
    elif args.command == "speed-large":
        devices = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
        merge_results(
            args.results / "images_speed_large.csv",
            speed_large(args.data_home, devices),
            ["detector", "device", "image_size"],
        )
    text = report(args.results)
    write_text(args.results / "images.md", text)
    print(text)


if __name__ == "__main__":
    main()
