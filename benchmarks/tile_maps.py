"""Where the magnetic tiles' figures are lost: the defect segmenter alone, its maps, and readings.

GANDetector's maps on the tiles come from its defect segmenter, which does not use
the GAN (``anomaly/detectors/segmenter.py``). ``fit`` trains that segmenter as the
detector does (the same patches, standardisation and seeds for ``random_state=seed``,
on the tile split of ``benchmarks/images.py tiles``), in about 10 minutes instead of
the detector's 24, and keeps its maps of the training and test images; ``knn`` adds
maps by the distance of the segmenter's encoder features to the training tiles'
(PatchCore-style); ``report`` reads them: image ROC-AUC of several image scores, and
pixel ROC-AUC per defect kind with each kind's share of the defect pixels.

Usage (``fit`` first: the others read what it saved)::

    python benchmarks/tile_maps.py fit                  # segmenter and maps, seed 1
    python benchmarks/tile_maps.py fit --flips          # the same, maps averaged over 4 flips
    python benchmarks/tile_maps.py knn                  # feature-distance maps (~17 min)
    python benchmarks/tile_maps.py report               # results/tile_maps.md

Maps (about 0.5 GB a set, ``.npz``) go to ``--work`` (default ``~/.cache/anomaly/tile_maps``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter
from scipy.special import logit
from sklearn.metrics import roc_auc_score
from sklearn.utils import Bunch, check_random_state

from anomaly._atomic import atomic_write
from anomaly.datasets import load_magnetic_tile
from anomaly.detectors import segmenter
from anomaly.detectors.patches import normalize_lighting, random_patches
from anomaly.training import seeded

sys.path.insert(0, str(Path(__file__).parent))
from common import DATA_HOME, RESULTS, write_text  # noqa: E402
from images import DEFECT_KINDS, tile_split  # noqa: E402

PATCH = (64, 64)
MARGIN = segmenter.edge_margin(PATCH)[0]
KNN_REFERENCES = 16384
REFERENCE_SEED = 0
CPU = torch.device("cpu")
PARTS = ("train", "test")


def _save(path: Path, state: dict[str, Any]) -> None:
    """``state`` (image indices, standardisation, maps by part) as one ``.npz``, written
    whole or not at all."""
    arrays = {f"{part}_map_{j}": m for part in PARTS for j, m in enumerate(state["maps"][part])}
    scalars = {key: np.asarray(state[key]) for key in (*PARTS, "mean", "scale")}
    with atomic_write(path) as file:
        np.savez(file, **arrays, **scalars)


def _load(path: Path) -> dict[str, Any]:
    """What :func:`_save` wrote; an error naming the step to run first if it is missing."""
    if not path.exists():
        raise SystemExit(f"No {path}: run `python benchmarks/tile_maps.py fit` first.")
    with np.load(path) as saved:
        state: dict[str, Any] = {key: saved[key] for key in PARTS}
        state |= {key: float(saved[key]) for key in ("mean", "scale")}
        state["maps"] = {
            part: [saved[f"{part}_map_{j}"] for j in range(len(state[part]))] for part in PARTS
        }
    return state


def _standardized(image: np.ndarray, mean: float, scale: float) -> np.ndarray:
    return ((normalize_lighting(image[None]) - mean) / scale).astype(np.float32)


def fit(data_home: Path, work: Path, seed: int, flips: bool) -> None:
    """Train the segmenter as ``GANDetector(random_state=seed)`` does and save its maps."""
    data = load_magnetic_tile(data_home=data_home, verify=False)
    train = tile_split(data.groups, data.target, seed, "tile")
    test = np.setdiff1d(np.arange(len(data.target)), train)
    # The detector's training seed: the first of two drawn from random_state.
    training_seed = int(check_random_state(seed).randint(2**31 - 1, size=2)[0])
    patches = random_patches(
        [data.data[i][None] for i in train],
        PATCH,
        np.random.default_rng(training_seed),
        prepare=normalize_lighting,
    )
    mean, scale = float(patches.mean()), float(patches.std())
    patches = ((patches - mean) / scale).astype(np.float32).reshape(-1, 1, *PATCH)
    with seeded(training_seed, CPU):
        network, _ = segmenter.fit_segmenter(
            patches, seed=training_seed, device=CPU, verbose=True, description="segmenter"
        )
    if not flips:  # knn reads the segmenter's features
        torch.save(network.state_dict(), work / f"segmenter_seed{seed}.pt")
    network.eval()

    def segmented(image: np.ndarray) -> np.ndarray:
        x = _standardized(image, mean, scale)
        if not flips:
            return segmenter.segment_whole(network, x)
        # Flips of the image's rows, columns or both (axes 1 and 2 of x, 0 and 1 of its map).
        maps = [segmenter.segment_whole(network, x)]
        for axes in [(1,), (2,), (1, 2)]:
            flipped = segmenter.segment_whole(network, np.flip(x, axes).copy())
            maps.append(np.flip(flipped, tuple(a - 1 for a in axes)))
        return np.mean(maps, axis=0)

    maps = {
        part: [segmented(data.data[i]).astype(np.float32) for i in rows]
        for part, rows in (("train", train), ("test", test))
    }
    name = f"flips_seed{seed}" if flips else f"segmenter_seed{seed}"
    _save(work / f"{name}.npz", dict(train=train, test=test, mean=mean, scale=scale, maps=maps))


def knn(data_home: Path, work: Path, seed: int) -> None:
    """Maps of each location's distance, in the segmenter's encoder features (its second and
    third stages at a quarter of the resolution, 3 x 3 means), to the nearest of about
    ``KNN_REFERENCES`` locations, an equal number drawn from each training tile."""
    data = load_magnetic_tile(data_home=data_home, verify=False)
    state = _load(work / f"segmenter_seed{seed}.npz")
    network = segmenter.build_segmenter(1)
    network.load_state_dict(torch.load(work / f"segmenter_seed{seed}.pt"))
    network.eval()

    @torch.no_grad()
    def features(image: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(_standardized(image, state["mean"], state["scale"]))[None]
        top = network.encode1(x)
        middle = network.encode2(F.max_pool2d(top, 2))
        bottom = network.encode3(F.max_pool2d(middle, 2))
        height, width = bottom.shape[-2:]
        both = torch.cat([F.avg_pool2d(middle, 2)[..., :height, :width], bottom], dim=1)
        return F.avg_pool2d(both, 3, 1, 1)[0]

    rng = np.random.default_rng(REFERENCE_SEED)
    per_image = KNN_REFERENCES // len(state["train"]) + 1
    references = []
    for i in state["train"]:
        locations = features(data.data[i]).flatten(1).T
        pick = rng.choice(len(locations), min(per_image, len(locations)), replace=False)
        references.append(locations[torch.from_numpy(pick)])
    bank = torch.cat(references)
    bank_norms = (bank**2).sum(1)

    def distances(image: np.ndarray) -> np.ndarray:
        grid = features(image)
        queries = grid.flatten(1).T
        squared = (queries**2).sum(1)[:, None] - 2 * queries @ bank.T + bank_norms
        nearest = squared.min(1).values.clamp_min(0).sqrt().reshape(1, 1, *grid.shape[-2:])
        return F.interpolate(nearest, size=image.shape, mode="bilinear")[0, 0].numpy()

    maps = {part: [distances(data.data[i]) for i in state[part]] for part in ("train", "test")}
    # Into (0, 1) like probabilities, so that every reading below applies.
    scale = np.quantile(np.concatenate([m.ravel() for m in maps["train"]]), 0.999)
    state["maps"] = {p: [(m / (m + scale)).astype(np.float32) for m in v] for p, v in maps.items()}
    _save(work / f"knn_seed{seed}.npz", state)


def _inner(anomaly_map: np.ndarray, margin: int = MARGIN) -> np.ndarray:
    return anomaly_map[
        margin : anomaly_map.shape[0] - margin, margin : anomaly_map.shape[1] - margin
    ]


def _edge_distance(shape: tuple[int, ...]) -> np.ndarray:
    rows, columns = (np.minimum(np.arange(n), np.arange(n)[::-1]) for n in shape)
    return np.minimum(rows[:, None], columns[None, :])


def _log_odds(anomaly_map: np.ndarray) -> np.ndarray:
    return logit(np.clip(anomaly_map.astype(np.float64), 1e-7, 1 - 1e-7))


def image_scores(state: dict[str, Any]) -> dict[str, np.ndarray]:
    """Image scores of the test maps, by reading."""
    test, train = state["maps"]["test"], state["maps"]["train"]
    peak = np.array([_inner(m).max() for m in test])
    scores = {"maximum away from the edges (shipped)": peak}
    peak = _log_odds(peak)
    # The maximum of more pixels is higher by chance: calibrated on the training tiles.
    area, train_area = (np.log([_inner(m).size for m in maps]) for maps in (test, train))
    slope = np.polyfit(train_area, _log_odds(np.array([_inner(m).max() for m in train])), 1)
    scores["log-odds of the maximum less its trend with the image's area"] = peak - np.polyval(
        slope, area
    )
    for q in (50, 90):
        scores[f"log-odds of the maximum less that of the image's {q}th percentile"] = (
            peak - _log_odds(np.array([np.percentile(_inner(m), q) for m in test]))
        )
    # Each distance from the edge gets the training tiles' 99th percentile log-odds as offset;
    # from 48 pixels in (three quarters of a patch) the rim no longer shows.
    reach = 48
    log_odds = np.concatenate([_log_odds(m).ravel() for m in train])
    distance = np.concatenate([np.minimum(_edge_distance(m.shape), reach).ravel() for m in train])
    offset = np.array([np.quantile(log_odds[distance == d], 0.99) for d in range(reach + 1)])
    offset -= offset[reach]
    scores["log-odds less its edge-distance offset, maximum away from the edges"] = np.array(
        [
            _inner(_log_odds(m) - offset[np.minimum(_edge_distance(m.shape), reach)]).max()
            for m in test
        ]
    )
    return scores


def texture_maps(data: Bunch, test: np.ndarray, sigma: float) -> list[np.ndarray]:
    """How far each pixel's local streak energy (squared horizontal differences, smoothed by
    ``sigma``) is from the image's median, in log: a hand-made map for the uneven regions."""
    maps = []
    for i in test:
        image = normalize_lighting(data.data[i][None])[0].astype(np.float64)
        energy = np.zeros_like(image)
        energy[:, 1:] = np.diff(image, axis=1) ** 2
        log_energy = np.log(gaussian_filter(energy, sigma, mode="nearest") + 1e-6)
        maps.append(np.abs(log_energy - np.median(log_energy)))
    return maps


def _kinds_row(label: str, scores: np.ndarray, target: np.ndarray, kind: np.ndarray) -> str:
    cells = [f"{roc_auc_score(target, scores):.3f}"]
    for defect in DEFECT_KINDS:
        pick = (kind == defect) | (target == 0)
        cells.append(f"{roc_auc_score(target[pick], scores[pick]):.3f}")
    return f"| {label} | " + " | ".join(cells) + " |"


def _pixel_rows(data: Bunch, test: np.ndarray, maps: list[np.ndarray]) -> list[str]:
    kind = data.kind[test]
    # Every 7th pixel of the defect-free images and of the defects' surroundings: millions of
    # pixels otherwise, and a seventh changes the ROC-AUC by less than its third decimal.
    normal = np.concatenate([m.ravel()[::7] for m, k in zip(maps, kind) if k == "Free"])
    total = sum(data.masks[i].sum() for i in test)
    rows = []
    for defect in DEFECT_KINDS:
        chosen = [j for j in range(len(test)) if kind[j] == defect]
        inside = np.concatenate([maps[j][data.masks[test[j]] > 0] for j in chosen])
        around = np.concatenate([maps[j][data.masks[test[j]] == 0][::7] for j in chosen])
        y = np.r_[np.ones(len(inside)), np.zeros(len(around) + len(normal))]
        own = np.r_[np.ones(len(inside)), np.zeros(len(around))]
        rows.append(
            f"| {defect} | {len(inside) / total:.3f} | "
            f"{roc_auc_score(y, np.r_[inside, around, normal]):.3f} | "
            f"{roc_auc_score(own, np.r_[inside, around]):.3f} |"
        )
    return rows


def report(data_home: Path, work: Path, seed: int, results: Path) -> str:
    """Read the saved maps (the flips' and knn's where they were made) into
    ``results/tile_maps.md``, and return its text."""
    data = load_magnetic_tile(data_home=data_home, verify=False)
    runs = {"segmenter": _load(work / f"segmenter_seed{seed}.npz")}
    for name in ("flips", "knn"):
        path = work / f"{name}_seed{seed}.npz"
        if path.exists():
            runs[name] = _load(path)
    base = runs["segmenter"]
    test = base["test"]
    target, kind = data.target[test], data.kind[test]
    masks = np.concatenate([data.masks[i].ravel() for i in test])
    header = "| reading | image ROC-AUC | " + " | ".join(DEFECT_KINDS) + " |"
    lines = [
        f"# Magnetic tiles: the defect segmenter alone (seed {seed}, tile split)",
        "",
        "`python benchmarks/tile_maps.py fit` / `knn` / `report`; maps of the segmenter trained",
        "as GANDetector trains it. Pixel ROC-AUC of the maps over every test pixel:",
        "",
    ]
    for name, run in runs.items():
        pixel = roc_auc_score(masks, np.concatenate([m.ravel() for m in run["maps"]["test"]]))
        lines.append(f"- {name}: {pixel:.3f}")
    lines += ["", header, "|---" * (len(DEFECT_KINDS) + 2) + "|"]
    for label, scores in image_scores(base).items():
        lines.append(_kinds_row(label, scores, target, kind))
    if "flips" in runs:
        peak = np.array([_inner(m).max() for m in runs["flips"]["maps"]["test"]])
        lines.append(_kinds_row("maps averaged over the 4 flips, maximum", peak, target, kind))
    if "knn" in runs:
        standardized = []
        for run in (base, runs["knn"]):
            train_peak, test_peak = (
                _log_odds(np.array([_inner(m).max() for m in run["maps"][p]]))
                for p in ("train", "test")
            )
            standardized.append((test_peak - train_peak.mean()) / train_peak.std())
        lines.append(_kinds_row("feature distance alone, maximum", standardized[1], target, kind))
        for weight in (0.5, 1.0):
            combined = standardized[0] + weight * standardized[1]
            label = (
                f"both maxima standardised on the training tiles, segmenter + {weight} x distance"
            )
            lines.append(_kinds_row(label, combined, target, kind))
    lines += [
        "",
        "Pixel ROC-AUC by defect kind (its pixels against the pixels of the defect-free images",
        "and of the defect's own surroundings; then against its surroundings alone), and the",
        "kind's share of all defect pixels:",
        "",
        "| kind | share of defect pixels | pixel ROC-AUC | within its own images |",
        "|---|---|---|---|",
        *_pixel_rows(data, test, base["maps"]["test"]),
        "",
        "A hand-made map for the uneven regions (`texture_maps`), pixel ROC-AUC over the",
        "uneven and defect-free images only:",
        "",
    ]
    uneven = (kind == "Uneven") | (target == 0)
    uneven_masks = np.concatenate([data.masks[i].ravel() for i in test[uneven]])
    for sigma in (6, 12, 24):
        maps = texture_maps(data, test[uneven], sigma)
        pixel = roc_auc_score(uneven_masks, np.concatenate([m.ravel() for m in maps]))
        lines.append(f"- streak energy smoothed by sigma {sigma}: {pixel:.3f}")
    text = "\n".join(lines) + "\n"
    write_text(results / "tile_maps.md", text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["fit", "knn", "report"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--flips", action="store_true", help="fit: average the maps of 4 flips")
    parser.add_argument("--data-home", type=Path, default=DATA_HOME)
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache/anomaly/tile_maps")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)  # the development machine's cores; the figures were taken so
    if args.command == "fit":
        fit(args.data_home, args.work, args.seed, args.flips)
    elif args.command == "knn":
        knn(args.data_home, args.work, args.seed)
    else:
        print(report(args.data_home, args.work, args.seed, args.results))


if __name__ == "__main__":
    main()
