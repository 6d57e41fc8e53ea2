"""The ``anomaly`` command: compare detectors, fit a time-series detector on a CSV file, score CSVs.

Wiring only: the comparison is :func:`anomaly.compare` on
:func:`anomaly.datasets.load_embedded`, the time-series model is
:class:`anomaly.TimeSeriesDetector`, read by
:func:`anomaly.csv_reading.read_series_csv`, batch scoring is
:func:`anomaly.file_scoring.score_file`, many files at once
:func:`anomaly.batch_scoring.score_files` (on :func:`anomaly.dask.connect`'s
cluster), figures are :mod:`anomaly.plotting`.
"""

from __future__ import annotations

import argparse
import errno
import glob
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from anomaly._atomic import atomic_write, check_not_same_file, check_writable, is_stream
from anomaly._threads import idle_cores
from anomaly.batch_scoring import score_files
from anomaly.csv_reading import read_series_csv
from anomaly.detectors import GANDetector, VAEDetector, VAEGANDetector
from anomaly.file_scoring import score_file
from anomaly.persistence import load
from anomaly.timeseries import (
    WINDOW_DRAWS,
    WINDOW_EARLY_STOPPING,
    WINDOW_SCORING_RULE,
    TimeSeriesDetector,
)
from anomaly.training import is_main_process

FIT_THREADS_HELP = (
    "CPU threads (default: as many as the cores other processes leave idle, at most torch's "
    "default), so that a busy machine slows training in proportion"
)
SCORE_THREADS_HELP = (
    "blocks of windows scored side by side on the CPU, one thread each (default: torch's "
    "count, one per core); blocks do not wait for each other, so a busy machine slows scoring "
    "in proportion; with --scheduler, each file's threads on its worker (default there: one, "
    "on workers Dask starts; keep --workers times --threads within the cores)"
)
DETECTORS = {"vae": VAEDetector, "gan": GANDetector, "vaegan": VAEGANDetector}
DETECTOR_CLASSES = {cls.__name__: cls for cls in DETECTORS.values()}

SCORE_HELP = """\
Writes one row per input row: the timestamp as written in the input,
`anomaly_score` (the higher, the more abnormal: minus the detector's
score_samples) and `label` (-1 for an anomaly, 1 for a normal step, from the
model's threshold); with --explain, `score_<variable>` for each variable (its
share of the step's abnormality), with --explain-top K, `top_1` ... `top_K`
(the names of the step's K most abnormal variables).

The input must hold the model's value columns and one timestamp column (or
more columns, if --timestamp-column names the timestamps: the others are left
unread), with strictly increasing timestamps and numeric values, none missing
unless the model was fitted with --missing marginalize (empty cells are then
missing values); the first malformed row stops the run with its line and column.
The output is written to a temporary file renamed at the end: a failed run
(a full disk included) leaves none, and an output that is the input file
(also through a link) is refused before a row is read. The input is read in
blocks, so memory does not grow with the file.
"""


def _contamination(text: str) -> str | float:
    return text if text == "auto" else float(text)


def _window_size(text: str) -> str | int:
    return text if text == "auto" else int(text)


def _n_neighbors(text: str) -> str | int | None:
    if text == "none":
        return None
    if text == "auto":
        return text
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anomaly", description="Anomaly detection on time series with deep generative models."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    compare = commands.add_parser(
        "compare",
        help="compare our detectors with baselines on data that needs no download",
        description="Fit VAEDetector, GANDetector and VAEGANDetector and PyOD's IForest, KNN, "
        "LOF and ECOD on four small sets (scikit-learn's breast cancer, wine and digits with a "
        "minority class as anomalies, and generated clusters), print the ROC-AUC table, and save "
        "the table (CSV) and the ROC curves (PNG) to --output-dir.",
    )
    compare.add_argument("--output-dir", type=Path, default=Path("."), help="default: here")
    compare.add_argument("--seeds", type=int, nargs="+", default=[0])
    compare.add_argument(
        "--epochs", type=int, default=None, help="training epochs of ours (their default: 50)"
    )

    fit = commands.add_parser(
        "fit",
        help="fit a detector on a CSV time series and save it",
        description="Fit a TimeSeriesDetector on TRAIN.csv (a timestamp column and numeric "
        "value columns) and save it to --output, to be opened by `anomaly score` or "
        "anomaly.load.",
    )
    fit.add_argument("train", type=Path, help="CSV file: a timestamp column, value columns")
    fit.add_argument("--output", "-o", type=Path, required=True, help="model file to write")
    fit.add_argument("--detector", choices=sorted(DETECTORS), default="vae")
    fit.add_argument(
        "--window-size",
        type=_window_size,
        default="auto",
        help="time steps per window, or auto: 32 for several value columns, 64 for one",
    )
    fit.add_argument("--stride", type=int, default=1, help="steps between window starts")
    fit.add_argument("--epochs", type=int, default=None, help="training epochs (detector default)")
    fit.add_argument(
        "--scoring-rule",
        default=None,
        help=f"the detector's scoring_rule (default: {WINDOW_SCORING_RULE} for vae, the "
        "detector's default otherwise)",
    )
    fit.add_argument(
        "--n-draws",
        type=int,
        default=None,
        help=f"vae, vaegan: Monte-Carlo draws per window for the scoring rules that draw "
        f"(default {WINDOW_DRAWS}; each costs a decoder pass)",
    )
    fit.add_argument(
        "--n-neighbors",
        type=_n_neighbors,
        default="auto",
        help="score windows by their distance to the N nearest training windows in the "
        "encoder's features; auto: 5 for one value column, none for several (the scoring "
        "rule); with one column, none scored stride 1 about 13 times faster (measured with the "
        "reconstruction probability), and ranks worse on NAB",
    )
    fit.add_argument(
        "--early-stopping",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="hold out the last tenth of the windows and stop once their loss improves by "
        "under 1%% for 5 epochs (the GAN: its encoder); --no-early-stopping trains every epoch",
    )
    fit.add_argument("--timestamp-column", default=None, help="default: time / timestamp / date")
    fit.add_argument(
        "--columns", nargs="+", default=None, help="value columns (default: all others)"
    )
    fit.add_argument(
        "--missing",
        choices=["error", "marginalize"],
        default="error",
        help="empty cells: refused (error), or let in and left out of the likelihood "
        "(marginalize); the model then scores files with empty cells too",
    )
    fit.add_argument("--contamination", type=_contamination, default="auto")
    fit.add_argument("--threshold", choices=["contamination", "pot"], default="contamination")
    fit.add_argument("--device", default="auto", help="cpu, cuda, or auto")
    fit.add_argument("--random-state", type=int, default=0)
    fit.add_argument("--verbose", action="store_true", help="progress bar per epoch")
    fit.add_argument("--threads", type=int, default=None, help=FIT_THREADS_HELP)

    score = commands.add_parser(
        "score",
        help="score CSV time series with a saved model",
        description="Score INPUT.csv with MODEL and write SCORES.csv (or each of many inputs "
        "into --output-dir, under its name).\n\n" + SCORE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    score.add_argument("model", type=Path, help="model file written by `anomaly fit`")
    score.add_argument(
        "input",
        type=Path,
        nargs="+",
        help="CSV or Parquet (.parquet) files with the model's columns, each its own series "
        "(a quoted glob pattern is expanded)",
    )
    written = score.add_mutually_exclusive_group(required=True)
    written.add_argument(
        "--output", "-o", type=Path, help="file to write (one input): CSV, or Parquet if .parquet"
    )
    written.add_argument(
        "--output-dir",
        type=Path,
        help="folder (made if missing) to write each input's scores into, by its name",
    )
    score.add_argument(
        "--scheduler",
        default=None,
        help="score the files in parallel on Dask: `local` (a LocalCluster of --workers "
        "processes, started and closed here) or a running scheduler's address, tcp://host:port "
        "(default: one file after another in this process)",
    )
    score.add_argument(
        "--workers", type=int, default=None, help="processes of --scheduler local (default: cores)"
    )
    score.add_argument(
        "--timestamp-column",
        default=None,
        help="the column of timestamps; columns other than it and the model's are then "
        "ignored (default: the one column besides the model's)",
    )
    score.add_argument(
        "--chunk-rows", type=int, default=None, help="rows scored at a time (default: a block)"
    )
    score.add_argument(
        "--explain",
        action="store_true",
        help="add a column per variable, score_<variable>: its share of the step's "
        "abnormality (higher = more abnormal)",
    )
    score.add_argument(
        "--explain-top",
        type=int,
        default=None,
        metavar="K",
        help="add columns top_1 ... top_K: the K most abnormal variables of each step",
    )
    score.add_argument("--threads", type=int, default=None, help=SCORE_THREADS_HELP)
    score.add_argument("--device", default=None, help="default: the device the model was fit on")
    return parser


def compare_command(args: argparse.Namespace) -> None:
    # Imported here, so that `anomaly fit` and `anomaly score` start without the harness,
    # PyOD and matplotlib.
    from matplotlib.figure import Figure
    from pyod.models.ecod import ECOD
    from pyod.models.iforest import IForest
    from pyod.models.knn import KNN
    from pyod.models.lof import LOF

    from anomaly.comparison import compare
    from anomaly.datasets.embedded import load_embedded
    from anomaly.plotting import plot_roc_curves

    epochs = {} if args.epochs is None else {"epochs": args.epochs}
    detectors = {name: cls(**epochs) for name, cls in DETECTOR_CLASSES.items()}
    detectors |= {"IForest": IForest(), "KNN": KNN(), "LOF": LOF(), "ECOD": ECOD()}
    datasets = load_embedded()
    args.output_dir.mkdir(parents=True, exist_ok=True)  # before the comparison, not after it
    table, scores = compare(detectors, datasets, seeds=args.seeds, return_scores=True)
    with atomic_write(args.output_dir / "comparison.csv", "w") as handle:
        table.to_csv(handle, index=False)
    roc = table[table.metric == "roc_auc"].pivot_table(
        index="detector", columns="dataset", values="value", sort=False
    )
    roc["mean"] = roc.mean(axis=1)
    print("ROC-AUC (mean over seeds)")
    print(roc.sort_values("mean", ascending=False).round(3).to_string())
    failed = table.dropna(subset=["error"]).drop_duplicates(["detector", "dataset", "seed"])
    for row in failed.itertuples():
        print(f"failed: {row.detector} on {row.dataset} (seed {row.seed}): {row.error}")

    figure = Figure(figsize=(4.5 * len(datasets), 4.8), layout="constrained")
    for ax, (name, (_, y)) in zip(
        figure.subplots(1, len(datasets), squeeze=False)[0], datasets.items()
    ):
        runs = {
            d: s
            for (d, dataset, seed), s in scores.items()
            if dataset == name and seed == args.seeds[0]
        }
        plot_roc_curves(y, runs, ax=ax)
        ax.set_title(name)
    with atomic_write(args.output_dir / "roc_curves.png") as handle:
        figure.savefig(handle, format="png", dpi=90)
    print(f"wrote {args.output_dir / 'comparison.csv'} and {args.output_dir / 'roc_curves.png'}")


def fit_command(args: argparse.Namespace) -> None:
    check_not_same_file(args.train, args.output)
    check_writable(args.output)  # before the training, not after it

    frame = read_series_csv(
        args.train,
        timestamp_column=args.timestamp_column,
        value_columns=args.columns,
        allow_missing=args.missing == "marginalize",
    )
    detector_params = dict(
        device=args.device, random_state=args.random_state, n_neighbors=args.n_neighbors
    )
    if args.epochs is not None:
        detector_params["epochs"] = args.epochs
    if args.early_stopping:
        detector_params |= WINDOW_EARLY_STOPPING
    if args.detector == "gan":
        if args.n_draws is not None:
            raise ValueError("--n-draws applies to --detector vae or vaegan, not gan.")
    else:
        detector_params["n_draws"] = WINDOW_DRAWS if args.n_draws is None else args.n_draws
    if args.missing == "marginalize":
        detector_params["missing"] = args.missing
    if args.scoring_rule is not None:
        detector_params["scoring_rule"] = args.scoring_rule
    elif args.detector == "vae":
        detector_params["scoring_rule"] = WINDOW_SCORING_RULE
    detector = TimeSeriesDetector(
        DETECTORS[args.detector](**detector_params, verbose=args.verbose),
        window_size=args.window_size,
        stride=args.stride,
        contamination=args.contamination,
        threshold=args.threshold,
    )
    detector.fit(frame.iloc[:, 1:])  # the value columns, with their names
    if is_main_process():  # under torchrun, every rank trained; rank 0 alone writes
        detector.save(args.output)
        print(
            f"fitted on {len(frame)} rows of {list(frame.columns[1:])}; saved {args.output}",
            file=sys.stderr if is_stream(args.output) else sys.stdout,  # not into the model
        )


def score_command(args: argparse.Namespace) -> int | None:
    if args.workers is not None and (args.scheduler != "local" or args.workers < 1):
        raise ValueError("--workers takes a number of at least 1, with --scheduler local.")
    inputs = _expand(args.input)
    if args.output_dir is not None:
        return score_files_command(args, inputs)
    if len(inputs) > 1:
        raise ValueError(f"{len(inputs)} inputs need --output-dir, not --output.")
    if args.scheduler is not None:
        raise ValueError("--scheduler scores many files: give --output-dir.")
    args.input = inputs[0]
    check_not_same_file(args.model, args.output)
    detector = load(args.model, device=args.device)
    if not isinstance(detector, TimeSeriesDetector):
        raise ValueError(
            f"{args.model} holds a {type(detector).__name__}, not a time-series model."
        )
    start = time.perf_counter()
    n_rows = score_file(
        detector,
        args.input,
        args.output,
        timestamp_column=args.timestamp_column,
        chunk_rows=args.chunk_rows,
        explain=args.explain,
        explain_top=args.explain_top,
    )
    seconds = time.perf_counter() - start
    # The streaming rate, without the start-up (interpreter, torch, model file) before it;
    # beside the scores, not among them, where they go to a stream such as /dev/stdout.
    print(
        f"scored {n_rows} rows in {seconds:.3f} s ({n_rows / seconds:,.0f} rows/s); "
        f"wrote {args.output}",
        file=sys.stderr if is_stream(args.output) else sys.stdout,
    )


def score_files_command(args: argparse.Namespace, inputs: list[Path]) -> int:
    """Each input scored into --output-dir; one line per file, the failed ones by name."""
    args.output_dir.mkdir(parents=True, exist_ok=True)  # as compare's, before any work
    options = dict(
        timestamp_column=args.timestamp_column,
        chunk_rows=args.chunk_rows,
        explain=args.explain,
        explain_top=args.explain_top,
        device=args.device,
        threads=args.threads,
    )
    start = time.perf_counter()
    if args.scheduler is None:
        results = score_files(args.model, inputs, args.output_dir, **options)
    else:
        try:  # Dask is an optional extra
            from anomaly.dask import connect
        except ImportError as err:
            raise ValueError(
                f"--scheduler needs Dask: pip install 'anomaly[dask]' ({err})."
            ) from None
        with connect(args.scheduler, args.workers) as client:
            results = score_files(args.model, inputs, args.output_dir, client=client, **options)
    seconds = time.perf_counter() - start
    failed = {path: error for path, error in results.items() if isinstance(error, Exception)}
    for path, error in failed.items():
        print(f"anomaly score: error: {path}: {error}", file=sys.stderr)
    n_rows = sum(n for n in results.values() if not isinstance(n, Exception))
    print(
        f"scored {n_rows} rows of {len(results) - len(failed)} file(s) in {seconds:.3f} s; "
        f"wrote {args.output_dir}" + (f"; {len(failed)} file(s) failed" if failed else "")
    )
    return 1 if failed else 0


def _expand(inputs: list[Path]) -> list[Path]:
    """The inputs, with quoted glob patterns (``'data/*.csv'``) expanded, in sorted order."""
    expanded: list[Path] = []
    for path in inputs:
        if path.exists() or not any(char in str(path) for char in "*?["):
            expanded.append(path)
            continue
        matches = sorted(glob.glob(str(path)))
        if not matches:
            raise FileNotFoundError(errno.ENOENT, "No file matches", str(path))
        expanded.extend(Path(match) for match in matches)
    return expanded


def _written(args: argparse.Namespace) -> Path:
    """The file or folder the command writes."""
    if args.command == "compare" or getattr(args, "output_dir", None) is not None:
        return args.output_dir
    return args.output


def _os_error(err: OSError, written: Path) -> str:
    """One line for an operating-system error; a full disk is named with its mount point."""
    if err.errno == errno.ENOSPC:
        mount = written.resolve().parent
        while not os.path.ismount(mount):
            mount = mount.parent
        return (
            f"no space left on the disk mounted at {mount} while writing {written}; "
            "no partial file was left"
        )
    if err.strerror is None:
        return str(err)  # our own messages, which name the file
    return f"{err.strerror}: {err.filename or written}"


def _set_threads(threads: int | None, command: str) -> None:
    """torch's thread count for ``command``: ``threads``, or by default the idle cores for
    ``fit`` and torch's own count (one per core) for ``score``."""
    if threads is None:
        # Training's threads stall each other when a core is taken (see anomaly._threads), so it
        # takes the idle cores only. Scoring's blocks of windows do not: cut to one block beside
        # two busy processes on 2 cores, it kept 0.34 of its quiet rate; with one block per
        # core, 0.44 (fair share 0.50; benchmarks/README.md, "on a busy machine").
        if command != "fit":
            return
        idle = idle_cores()
        if idle is None:
            return
        threads = max(1, min(torch.get_num_threads(), round(idle)))
    elif threads < 1:
        raise ValueError(f"--threads must be at least 1, not {threads}.")
    torch.set_num_threads(threads)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    threads = torch.get_num_threads()  # restored for callers in the same process
    try:
        if args.command in ("fit", "score"):
            _set_threads(args.threads, args.command)
        commands = {"compare": compare_command, "fit": fit_command, "score": score_command}
        status = commands[args.command](args)
    except ValueError as err:
        print(f"anomaly {args.command}: error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"anomaly {args.command}: error: {_os_error(err, _written(args))}", file=sys.stderr)
        return 1
    finally:
        torch.set_num_threads(threads)
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
