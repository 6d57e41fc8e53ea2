"""Where the magnetic tiles' figures are lost: the defect segmenter alone, its maps, and readings.

GANDetector's maps on the tiles come from its defect segmenter, which does not use the
GAN (``anomaly/detectors/segmenter.py``). ``fit`` fits GANDetector as
``benchmarks/images.py tiles`` does (same tile split, ``random_state=seed``) with the
GAN's training left out, in about 14 minutes with the maps (the detector's fit alone:
24), and keeps the segmenter's maps (without the profile steps' band) of the training and
test images; ``--random-state`` and
``--width`` fit other trainings and widths of the segmenter beside it. ``knn`` adds maps
by the distance of the segmenter's encoder features to the training tiles'
(PatchCore-style); ``report`` reads them: image ROC-AUC of several image scores (the
shipped one adds the image's profile and streak steps, its darkest line and its streaks'
break to its map's maximum), and pixel ROC-AUC per
defect kind with each kind's share of the defect pixels (the shipped maps raise each pixel
towards its surroundings' mean and add the band a profile step bounds); ``variants``
compares every segmenter fitted on the split, by its map's maximum and by the shipped score and map.

Usage (``fit`` first: the others read what it saved)::

    python benchmarks/tile_maps.py fit                  # the shipped segmenter's maps, seed 1
    python benchmarks/tile_maps.py fit --flips          # the same, maps averaged over 4 flips
    python benchmarks/tile_maps.py fit --random-state 2 --width 24   # another training, wider
    python benchmarks/tile_maps.py knn                  # feature-distance maps (~17 min)
    python benchmarks/tile_maps.py report               # results/tile_maps.md
    python benchmarks/tile_maps.py variants             # results/tile_segmenters.md

Maps (about 0.5 GB a set, ``.npz``) go to ``--work`` (default ``~/.cache/anomaly/tile_maps``).
"""

from __future__ import annotations

import argparse
import sys
from itertools import chain
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter
from scipy.special import logit
from sklearn.metrics import roc_auc_score
from sklearn.utils import Bunch

from anomaly import GANDetector
from anomaly._atomic import atomic_write
from anomaly.datasets import load_magnetic_tile
from anomaly.detectors import segmenter
from anomaly.detectors.patches import normalize_lighting
from anomaly.detectors.profiles import N_PROFILES

sys.path.insert(0, str(Path(__file__).parent))
from common import DATA_HOME, RESULTS, write_text  # noqa: E402
from images import DEFECT_KINDS, EPOCHS, tile_split  # noqa: E402

PATCH = (64, 64)
MARGIN = segmenter.edge_margin(PATCH)[0]
KNN_REFERENCES = 16384
REFERENCE_SEED = 0
PARTS = ("train", "test")
# The evidence's first columns (grey tiles: one channel): the map's peak and the profile steps
# (stop 39's score), then the darkest line (stops 40-42), the streak steps (stop 43); the
# streaks' break follows (stop 53).
PROFILE_COLUMNS = 1 + N_PROFILES
LINE_COLUMNS = PROFILE_COLUMNS + 1
STREAK_COLUMNS = LINE_COLUMNS + N_PROFILES
# The shipped width, read before any run mocks it, names the shipped segmenter's files.
SHIPPED_WIDTH = segmenter.WIDTH


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


def fit(data_home: Path, work: Path, seed: int, random_state: int, width: int, flips: bool) -> None:
    """Fit ``GANDetector(random_state)`` as ``benchmarks/images.py tiles`` does, its GAN's
    training left out (the segmenter does not use the GAN), and save its segmenter's maps
    (without the band of the image's profile steps, which the readings add)."""
    data = load_magnetic_tile(data_home=data_home, verify=False)
    train = tile_split(data.groups, data.target, seed, "tile")
    test = np.setdiff1d(np.arange(len(data.target)), train)
    detector = GANDetector(epochs=EPOCHS, random_state=random_state, device="cpu", verbose=True)
    untrained = mock.patch.object(GANDetector, "_train", lambda *args, **kwargs: {})
    with untrained, mock.patch.object(segmenter, "WIDTH", width):
        detector.fit([data.data[i] for i in train])
    name = _run_name(seed, random_state, width, "flips" if flips else "segmenter")
    if not flips:  # knn reads the segmenter's features
        torch.save(detector.network_.defect_segmenter.state_dict(), work / f"{name}.pt")

    def maps_of(images: list[np.ndarray]) -> list[np.ndarray]:
        # The segmenter's own maps: anomaly_map adds the profile steps' band (stop 38), which
        # the readings below add themselves (saved with it, a band was counted in the peak).
        return list(detector._segmented_maps(detector._validate_input(images, reset=False)))

    def segmented(images: list[np.ndarray]) -> list[np.ndarray]:
        if not flips:
            return maps_of(images)
        # Flips of the image's rows, columns or both, each map flipped back.
        maps = [maps_of(images)]
        for axes in [(0,), (1,), (0, 1)]:
            flipped = maps_of([np.flip(image, axes).copy() for image in images])
            maps.append([np.flip(m, axes) for m in flipped])
        return [np.mean(each, axis=0) for each in zip(*maps)]

    maps = {
        part: [m.astype(np.float32) for m in segmented([data.data[i] for i in rows])]
        for part, rows in (("train", train), ("test", test))
    }
    mean, scale = (float(v.ravel()[0]) for v in (detector.feature_mean_, detector.feature_scale_))
    _save(work / f"{name}.npz", dict(train=train, test=test, mean=mean, scale=scale, maps=maps))


def _run_name(seed: int, random_state: int, width: int, kind: str) -> str:
    """The saved files' name: the shipped settings keep the short ``{kind}_seed{seed}``."""
    name = f"{kind}_seed{seed}"
    if random_state != seed:
        name += f"_state{random_state}"
    if width != SHIPPED_WIDTH:
        name += f"_width{width}"
    return name


def knn(data_home: Path, work: Path, seed: int, random_state: int, width: int) -> None:
    """Maps of each location's distance, in the segmenter's encoder features (its second and
    third stages at a quarter of the resolution, 3 x 3 means), to the nearest of about
    ``KNN_REFERENCES`` locations, an equal number drawn from each training tile."""
    data = load_magnetic_tile(data_home=data_home, verify=False)
    name = _run_name(seed, random_state, width, "segmenter")
    state = _load(work / f"{name}.npz")
    with mock.patch.object(segmenter, "WIDTH", width):
        network = segmenter.build_segmenter(1)
    network.load_state_dict(torch.load(work / f"{name}.pt"))
    network.eval()

    @torch.no_grad()
    def features(image: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(_standardized(image, state["mean"], state["scale"]))[None]
        top = network.encode1(x)
        middle = network.encode2(F.max_pool2d(top, 2))
        bottom = network.encode3(F.max_pool2d(middle, 2))
        rows, columns = bottom.shape[-2:]
        both = torch.cat([F.avg_pool2d(middle, 2)[..., :rows, :columns], bottom], dim=1)
        return F.avg_pool2d(both, 3, 1, 1)[0]

    # The training tiles' features (about 2 MB each) serve the bank and their own maps.
    train_grids = [features(data.data[i]) for i in state["train"]]
    rng = np.random.default_rng(REFERENCE_SEED)
    per_image = KNN_REFERENCES // len(train_grids) + 1
    references = []
    for grid in train_grids:
        locations = grid.flatten(1).T
        pick = rng.choice(len(locations), min(per_image, len(locations)), replace=False)
        references.append(locations[torch.from_numpy(pick)])
    bank = torch.cat(references)
    bank_norms = (bank**2).sum(1)

    def distances(grid: torch.Tensor, shape: tuple[int, ...]) -> np.ndarray:
        queries = grid.flatten(1).T
        squared = (queries**2).sum(1)[:, None] - 2 * queries @ bank.T + bank_norms
        nearest = squared.min(1).values.clamp_min(0).sqrt().reshape(1, 1, *grid.shape[-2:])
        return F.interpolate(nearest, size=shape, mode="bilinear")[0, 0].numpy()

    maps = {
        "train": [distances(g, data.data[i].shape) for g, i in zip(train_grids, state["train"])],
        "test": [distances(features(data.data[i]), data.data[i].shape) for i in state["test"]],
    }
    # Into (0, 1) like probabilities, so that every reading below applies.
    scale = np.quantile(np.concatenate([m.ravel() for m in maps["train"]]), 0.999)
    state["maps"] = {p: [(m / (m + scale)).astype(np.float32) for m in v] for p, v in maps.items()}
    _save(work / f"{_run_name(seed, random_state, width, 'knn')}.npz", state)


def _inner(anomaly_map: np.ndarray, margin: int = MARGIN) -> np.ndarray:
    return anomaly_map[
        margin : anomaly_map.shape[0] - margin, margin : anomaly_map.shape[1] - margin
    ]


def _edge_distance(shape: tuple[int, ...]) -> np.ndarray:
    rows, columns = (np.minimum(np.arange(n), np.arange(n)[::-1]) for n in shape)
    return np.minimum(rows[:, None], columns[None, :])


def _log_odds(anomaly_map: np.ndarray) -> np.ndarray:
    return logit(np.clip(anomaly_map.astype(np.float64), 1e-7, 1 - 1e-7))


def _standardized_peaks(state: dict[str, Any]) -> np.ndarray:
    """The test maps' maxima away from the edges, in log-odds standardised by the training
    tiles': image scores of different maps on one scale, so that they can be combined."""
    train_peak, test_peak = (
        _log_odds(np.array([_inner(m).max() for m in state["maps"][part]])) for part in PARTS
    )
    return (test_peak - train_peak.mean()) / train_peak.std()


def evidence(data: Bunch, state: dict[str, Any]) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Each saved map's :func:`segmenter.image_evidence` (evidence, lines), per part."""
    return {
        part: [
            segmenter.image_evidence(normalize_lighting(data.data[i][None]), m, PATCH)
            for i, m in zip(state[part], state["maps"][part])
        ]
        for part in PARTS
    }


def shipped(
    state: dict[str, Any],
    found: dict[str, list[tuple[np.ndarray, np.ndarray]]],
    *,
    columns: int | None = None,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The package's image scores and maps of the test images, from the segmenter's saved
    maps and their :func:`evidence`: each maximum away from the edges plus its image's profile
    steps, darkest line, streak steps and streaks' break (or only the first ``columns`` of that
    evidence, as a model fitted before the rest scores and maps: :data:`PROFILE_COLUMNS`,
    :data:`LINE_COLUMNS`, :data:`STREAK_COLUMNS`),
    standardised on the training tiles, and each map as the package shows it
    (:func:`segmenter.defect_map`)."""
    scales = segmenter.evidence_scales(np.array([evidence for evidence, _ in found["train"]]))
    scales = scales[:, :columns]
    scores = segmenter.image_scores(np.array([evidence for evidence, _ in found["test"]]), scales)
    maps = [
        segmenter.defect_map(m, evidence, lines, scales, PATCH)
        for m, (evidence, lines) in zip(state["maps"]["test"], found["test"])
    ]
    return scores, maps


def image_scores(state: dict[str, Any]) -> dict[str, np.ndarray]:
    """Image scores of the test maps, by reading."""
    test, train = state["maps"]["test"], state["maps"]["train"]
    peak = np.array([_inner(m).max() for m in test])
    scores = {"maximum away from the edges (the shipped score's first part)": peak}
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


def report(
    data_home: Path, work: Path, seed: int, random_state: int, width: int, results: Path
) -> str:
    """Read the saved maps (the flips' and knn's where they were made) into
    ``results/tile_maps.md`` (the shipped segmenter's; another training or width gets its
    own file, named as its maps), and return its text."""
    data = load_magnetic_tile(data_home=data_home, verify=False)
    runs = {"segmenter": _load(work / f"{_run_name(seed, random_state, width, 'segmenter')}.npz")}
    for extra in ("flips", "knn"):
        path = work / f"{_run_name(seed, random_state, width, extra)}.npz"
        if path.exists():
            runs[extra] = _load(path)
    is_shipped = random_state == seed and width == SHIPPED_WIDTH
    named = f"seed {seed}" if is_shipped else _run_name(seed, random_state, width, "segmenter")
    base = runs["segmenter"]
    test = base["test"]
    target, kind = data.target[test], data.kind[test]
    masks = np.concatenate([data.masks[i].ravel() for i in test])
    header = "| reading | image ROC-AUC | " + " | ".join(DEFECT_KINDS) + " |"
    lines = [
        f"# Magnetic tiles: the defect segmenter alone ({named}, tile split)",
        "",
        "`python benchmarks/tile_maps.py fit` / `knn` / `report`; maps of the segmenter trained",
        "as GANDetector trains it. Pixel ROC-AUC of the maps over every test pixel:",
        "",
    ]
    shipped_scores, shipped_maps = shipped(base, evidence(data, base))
    pixel = roc_auc_score(masks, np.concatenate([m.ravel() for m in shipped_maps]))
    lines.append(
        f"- shipped (raised towards the surroundings, the profile steps' and the streak "
        f"breaks' bands): {pixel:.3f}"
    )
    for name, run in runs.items():
        pixel = roc_auc_score(masks, np.concatenate([m.ravel() for m in run["maps"]["test"]]))
        lines.append(f"- {name}: {pixel:.3f}")
    lines += ["", header, "|---" * (len(DEFECT_KINDS) + 2) + "|"]
    shipped_label = (
        "maximum away from the edges, the profile steps, the darkest line, the streak steps "
        "and the streaks' break (shipped)"
    )
    lines.append(_kinds_row(shipped_label, shipped_scores, target, kind))
    for label, scores in image_scores(base).items():
        lines.append(_kinds_row(label, scores, target, kind))
    if "flips" in runs:
        peak = np.array([_inner(m).max() for m in runs["flips"]["maps"]["test"]])
        lines.append(_kinds_row("maps averaged over the 4 flips, maximum", peak, target, kind))
    if "knn" in runs:
        standardized = [_standardized_peaks(run) for run in (base, runs["knn"])]
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
        "The same for the shipped maps (raised towards the surroundings, with the bands):",
        "",
        "| kind | share of defect pixels | pixel ROC-AUC | within its own images |",
        "|---|---|---|---|",
        *_pixel_rows(data, test, shipped_maps),
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
    name = "tile_maps" if is_shipped else _run_name(seed, random_state, width, "tile_maps")
    write_text(results / f"{name}.md", text)
    return text


def variants(data_home: Path, work: Path, seed: int, results: Path) -> str:
    """Every segmenter fitted on the split of ``seed`` (each ``--random-state`` and
    ``--width``) by its map's maximum, with its profile steps, with its darkest line too, and
    by the shipped score (with the streak steps and break too), the mean of their maps and
    the mean of their image scores, into
    ``results/tile_segmenters.md`` (seed 1) or ``tile_segmenters_seed{seed}.md``."""
    data = load_magnetic_tile(data_home=data_home, verify=False)
    header = "| segmenter | image ROC-AUC | " + " | ".join(DEFECT_KINDS) + " | pixel ROC-AUC |"
    lines = [
        f"# Magnetic tiles: segmenters trained on the tile split of seed {seed}",
        "",
        "`python benchmarks/tile_maps.py fit --random-state R --width W`, then `variants`;",
        "the image score is the map's maximum away from the edges, and below each segmenter",
        "that maximum plus the image's profile steps (stop 39's score), plus its darkest line",
        "(stops 40-42), plus its streak steps (stop 43), then the shipped score and map: plus",
        "its streaks' break too (stop 53), and the map raised towards its surroundings' mean,",
        "with the band its largest profile step bounds (the same map in the four rows), in the",
        "last row with the band its largest streak break bounds too (stop 54).",
        "",
        header,
        "|---" * (len(DEFECT_KINDS) + 3) + "|",
    ]
    # The shipped run first (and required: `fit` makes it); every run has the split's test images.
    first = _load(work / f"segmenter_seed{seed}.npz")
    test = first["test"]
    target, kind = data.target[test], data.kind[test]
    masks = np.concatenate([data.masks[i].ravel() for i in test])

    def row(
        label: str, maps: list[np.ndarray], scored: tuple[np.ndarray, list] | None = None
    ) -> str:
        """By the map's maximum, or by ``scored`` (image scores and maps)."""
        scores, maps = scored or (np.array([_inner(m).max() for m in maps]), maps)
        pixel = roc_auc_score(masks, np.concatenate([m.ravel() for m in maps]))
        return _kinds_row(label, scores, target, kind)[:-1] + f"| {pixel:.3f} |"

    paths = sorted(work.glob(f"segmenter_seed{seed}_*.npz"))
    total: list[np.ndarray] = []
    standardized = []
    labels = [f"segmenter_seed{seed}", *(path.stem for path in paths)]
    for label, run in zip(labels, chain([first], map(_load, paths))):  # one set of maps at a time
        lines.append(row(label, run["maps"]["test"]))
        found = evidence(data, run)
        for reading, columns in (
            ("with the profile steps", PROFILE_COLUMNS),
            ("and the darkest line", LINE_COLUMNS),
            ("and the streak steps", STREAK_COLUMNS),
            ("and the streaks' break (shipped)", None),
        ):
            scored = shipped(run, found, columns=columns)
            lines.append(row(reading, run["maps"]["test"], scored))
        total = [t + m for t, m in zip(total, run["maps"]["test"])] or run["maps"]["test"]
        standardized.append(_standardized_peaks(run))
    if paths:
        n_runs = len(paths) + 1
        lines.append(row(f"mean of the {n_runs} maps above", [t / n_runs for t in total]))
        lines.append(
            _kinds_row(
                f"mean of the {n_runs} image scores, each standardised on its training tiles",
                np.mean(standardized, axis=0),
                target,
                kind,
            )[:-1]
            + "| |"
        )
    text = "\n".join(lines) + "\n"
    write_text(results / f"tile_segmenters{'' if seed == 1 else f'_seed{seed}'}.md", text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["fit", "knn", "report", "variants"])
    parser.add_argument("--seed", type=int, default=1, help="the tile split's seed")
    parser.add_argument(
        "--random-state", type=int, help="the detector's random_state (default: --seed)"
    )
    parser.add_argument("--width", type=int, default=SHIPPED_WIDTH, help="the U-Net's width")
    parser.add_argument("--flips", action="store_true", help="fit: average the maps of 4 flips")
    parser.add_argument("--data-home", type=Path, default=DATA_HOME)
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache/anomaly/tile_maps")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)  # the development machine's cores; the figures were taken so
    state = args.seed if args.random_state is None else args.random_state
    if args.command == "fit":
        fit(args.data_home, args.work, args.seed, state, args.width, args.flips)
    elif args.command == "knn":
        knn(args.data_home, args.work, args.seed, state, args.width)
    elif args.command == "report":
        print(report(args.data_home, args.work, args.seed, state, args.width, args.results))
    else:
        print(variants(args.data_home, args.work, args.seed, args.results))


if __name__ == "__main__":
    main()
