"""Streaming CSV scoring: `anomaly score` on large files, against pyarrow's bare read.

Generates CSV files of a timestamp column (1 s apart) and 8 float columns of
seeded noisy sines (1 M and 4 M rows by default; the writing is streamed in
blocks, so generating a file takes bounded memory), fits one model on a
20,000-row file from the same generator with ``anomaly fit`` (VAEDetector,
``--window-size 32 --stride STRIDE``), then for each file, each in a fresh
process:

- ``anomaly score MODEL FILE -o OUT`` (``python -m anomaly.cli``): its wall
  time, peak RSS and CPU seconds; the output's row count is checked against
  the input's and, on the first run, its scores against the whole file
  scored in memory (``score_samples``, here): equal to the bit, over many
  16 MiB blocks;
- pyarrow's bare read of the same file: ``pyarrow.csv.open_csv`` with the block
  size and column types that ``anomaly.csv_reading.iter_series_csv`` uses
  (timestamps as strings, values as float64), iterating every batch and
  nothing else, in a process that imports pyarrow only;
- once per run, ``import anomaly.cli`` alone: the interpreter, torch and the
  package, i.e. the floor of the scoring process's time and memory;
- once per run, right before scoring the largest file, the network's bare
  forward pass (``bare forward``): the same model over the first 200,000
  rows' windows of the largest file, standardised and held in memory, in the
  blocks scoring uses, under ``inference_mode``, nothing else; the fastest
  pass, on torch's threads or with blocks side by side on one thread each (as
  scoring runs them). It is scoring's real limit: at stride 1 every row costs
  a window through the network.

With ``--busy N``, N CPU-bound processes (pure Python loops, one core each)
run beside everything measured, fitting included, as on a shared server; the
report compares the scoring rate with the quiet run's against a fair share.

Peak RSS is what ``/usr/bin/time -v`` prints as "Maximum resident set size"
(GNU time, Debian package ``time``); CPU seconds are its user plus system
time. Two times per run:

- *seconds*: the wall time of the whole process, interpreter start, imports
  and model loading included, as a user of the command sees it;
- *stream seconds*: the streaming itself, as each process times it: from
  opening the file to the last batch for pyarrow, the call of
  :func:`anomaly.file_scoring.score_file` for ``anomaly score`` (which prints it).
  Its rows per second is the throughput on files of any size; the whole
  process adds a constant, 3.5 to 4 s for ``anomaly score`` (torch and
  scikit-learn's imports, the ``import anomaly.cli`` row) against 0.2 s for
  pyarrow alone.

The files are read from the page cache (they were just written). The
targets: peak RSS of scoring does not grow with the file (the largest file
within 1.25x of the smallest, and under 1 GiB), and scoring's throughput at
least 0.25 of pyarrow's and 0.8 of the bare forward pass's, judged on the
stream rates (against the bare pass: the median of each run's ratio to the
pass run right before it on the largest file, as this machine's speed drifts
over minutes; runs before that pairing, and smaller files, by the ratio of
the medians); the whole-process ratio is reported beside it; beside busy
neighbours, at least 0.8 of the quiet rate times a fair share of the CPU
(cores / (cores + neighbours): the cores split evenly between as many of our
threads as cores and the neighbours).

The stride is the model's (``anomaly score`` scores with the stride the model
was fitted with), 32 by default: non-overlapping windows of 32 steps, each
step scored by the one window that covers it. Stride trades time resolution
for throughput: stride 1 gives every step the mean score of the 32 windows
around it, at 32 times the network work of stride 32. Likewise ``--n-draws``
(the VAE's Monte-Carlo draws per window, for ``--scoring-rule
reconstruction_probability``; ``anomaly fit``'s default of 1 unless given)
multiplies the decoder's work when scoring. ``--scoring-rule`` is ``anomaly
fit``'s default (``standardized_residual``, which draws none) unless given;
runs from before the option scored by ``reconstruction_probability``.

Usage::

    python benchmarks/csv_scoring.py run                       # 1 M and 4 M rows, stride 32
    python benchmarks/csv_scoring.py run --rows 20000 40000 --results /tmp/csv_smoke
    python benchmarks/csv_scoring.py run --stride 8 --repeat 3
    python benchmarks/csv_scoring.py run --scoring-rule reconstruction_probability --n-draws 16
    python benchmarks/csv_scoring.py run --rows 1000000 --stride 1 --busy 1  # a busy machine
    python benchmarks/csv_scoring.py report                    # rewrite results/csv_scoring.md

Files go to ``--workdir`` (default ``/tmp/anomaly_csv_bench``; a generated
file is reused by later runs). Results are merged into
``benchmarks/results/csv_scoring.csv`` (a rerun replaces the rows it
recomputes) and summarised in ``benchmarks/results/csv_scoring.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import torch
from pyarrow import csv as pa_csv

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anomaly  # noqa: E402
from anomaly._atomic import atomic_write  # noqa: E402
from anomaly.csv_reading import iter_series_csv  # noqa: E402
from anomaly.timeseries import WINDOW_DRAWS, WINDOW_SCORING_RULE  # noqa: E402
from benchmarks.common import REPO, RESULTS, merge_results, write_text  # noqa: E402

WORKDIR = Path("/tmp/anomaly_csv_bench")
COLUMNS = [f"x{i}" for i in range(8)]
TIMESTAMP = "time"
# Periods of the sines, in seconds (steps): from under a window to many windows.
PERIODS = np.array([20, 45, 97, 150, 233, 377, 610, 987])
START = np.datetime64("2024-01-01T00:00:00", "s")
GENERATE_BLOCK = 1 << 16  # rows written at a time
TRAIN_ROWS = 20_000
WINDOW_SIZE = 32
EPOCHS = 30
# The block size anomaly score reads with: iter_series_csv's default.
BLOCK_BYTES = inspect.signature(iter_series_csv).parameters["block_bytes"].default
# GNU time (Debian package "time"): the peak RSS of a command.
TIME = Path("/usr/bin/time")
KEYS = ["rows", "what", "stride", "scoring_rule", "n_draws", "busy", "repeat"]
# What runs before `anomaly fit` had --scoring-rule scored by.
EARLIER_RULE = "reconstruction_probability"
# A CPU-bound neighbour, as on a shared server: one core's worth of pure Python.
BURNER = "while True: pass"
SCORE, READ, IMPORT = "anomaly score", "pyarrow read", "import anomaly.cli"
FORWARD = "bare forward"
# The VAE's scoring rules whose scores average Monte-Carlo draws (n_draws).
DRAWING_RULES = ("reconstruction_probability", "elbo")
# What `anomaly score` prints last: its rows and the seconds of score_file.
SCORED = re.compile(r"scored (\d+) rows in ([\d.]+) s")

# The bare read, run with `python -c` so that its process holds pyarrow only; prints the rows
# and the seconds of the read itself.
PYARROW_READ = """
import sys
import time
import pyarrow as pa
from pyarrow import csv
path, block_bytes, timestamp, *values = sys.argv[1:]
start = time.perf_counter()
reader = csv.open_csv(
    path,
    csv.ReadOptions(block_size=int(block_bytes)),
    convert_options=csv.ConvertOptions(
        column_types={timestamp: pa.string(), **dict.fromkeys(values, pa.float64())}
    ),
)
print(sum(batch.num_rows for batch in reader), time.perf_counter() - start)
"""


# The network's bare forward pass, its limit: the same model, the first windows of the same
# file at the model's stride, standardised and held in memory, in blocks of the size scoring
# uses, no grad; nothing else (no windowing, checks, likelihood, step scores or CSV). Prints the
# rows those windows advance over (stride per window) and the seconds of the fastest pass over
# them: three after a warm-up on torch's threads, three with blocks side by side on one thread
# each (as scoring runs them), so the limit is the better of the two.
BARE_FORWARD = """
import sys
import time
import numpy as np
import torch
from pyarrow import csv
import anomaly
from anomaly._threads import map_blocks
from anomaly.windowing import window_starts, windows
model, path, n_rows, *values = sys.argv[1:]
detector = anomaly.load(model, device="cpu")
inner, size = detector.detector_, detector.window_shape_[1]
reader = csv.open_csv(path, convert_options=csv.ConvertOptions(include_columns=values))
rows, n = [], 0
for batch in reader:
    rows.append(np.column_stack([batch.column(v).to_numpy() for v in values]))
    n += batch.num_rows
    if n >= int(n_rows):
        break
series = np.concatenate(rows)[: int(n_rows)]
starts = window_starts(len(series), size, detector.stride, cover_end=False)
flat = (windows(series, starts, size) - inner.feature_mean_) / inner.feature_scale_
batches = torch.from_numpy(flat.astype(np.float32)).split(inner._scoring_block_rows())
network = inner.network_.eval()


def forward(batch):
    with torch.inference_mode():  # thread-local: entered in each thread
        return network(batch)


def on_torch_threads():
    for batch in batches:
        forward(batch)


def on_blocks_side_by_side():
    with map_blocks(forward, batches) as outputs:
        for _ in outputs:  # each dropped once done
            pass


passes = []
for run in (on_torch_threads, on_blocks_side_by_side):
    for _ in range(4):  # a warm-up pass (first-call allocations), then the best of three
        start = time.perf_counter()
        run()
        passes.append(time.perf_counter() - start)
print(len(starts) * detector.stride, min(passes[1:4] + passes[5:]))
"""
# Rows whose windows the bare forward pass runs over (at stride 1, that many windows).
BARE_FORWARD_ROWS = 200_000


def generate(path: Path, n_rows: int, seed: int) -> Path:
    """Write ``n_rows`` of noisy sines to ``path`` (unless there), a block at a time."""
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    phases = rng.uniform(0, 2 * np.pi, len(COLUMNS))
    schema = pa.schema(
        [(TIMESTAMP, pa.timestamp("s")), *((name, pa.float64()) for name in COLUMNS)]
    )
    options = pa_csv.WriteOptions(quoting_header="none")
    with (
        atomic_write(path, "wb") as handle,
        pa_csv.CSVWriter(handle, schema, write_options=options) as writer,
    ):
        for first in range(0, n_rows, GENERATE_BLOCK):
            steps = np.arange(first, min(first + GENERATE_BLOCK, n_rows))
            values = np.sin(2 * np.pi * steps[:, None] / PERIODS + phases)
            values += 0.1 * rng.standard_normal(values.shape)
            # 4 decimals: shorter files, and pyarrow writes the shortest exact text.
            columns = [pa.array(START + steps), *np.round(values, 4).T]
            writer.write_table(pa.table(columns, schema=schema))
    return path


def _run(command: list[str]) -> tuple[str, float, float, float]:
    """stdout, wall seconds, peak RSS (MiB) and CPU seconds of ``command`` in a fresh process.

    Measured by GNU time, a small process: the ``ru_maxrss`` that ``os.wait4``
    gives for a child of this process would count this process's own memory
    (Linux keeps the high-water mark across fork and exec).
    """
    start = time.perf_counter()
    done = subprocess.run([str(TIME), "-v", *command], cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{command} failed ({done.returncode}):\n{done.stderr}")
    usage = dict(re.findall(r"^\s*(.+?): (\S+)$", done.stderr, flags=re.MULTILINE))
    cpu_seconds = float(usage["User time (seconds)"]) + float(usage["System time (seconds)"])
    return (
        done.stdout,
        seconds,
        int(usage["Maximum resident set size (kbytes)"]) / 1024,
        cpu_seconds,
    )


def _count_rows(path: Path) -> int:
    """Data rows of a CSV file with a header and no line breaks inside values."""
    lines = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 24):
            lines += block.count(b"\n")
    return lines - 1


def _check_scores(model: Path, data: Path, out: Path) -> None:
    """The streamed scores equal the whole series' scored in memory, to the bit."""
    detector = anomaly.load(model, device="cpu")
    values = pa_csv.read_csv(data).select(COLUMNS).to_pandas()
    expected = -detector.score_samples(values)
    streamed = pa_csv.read_csv(out).column("anomaly_score").to_numpy()
    if not np.array_equal(streamed, expected):
        differ = int(np.sum(streamed != expected))
        raise RuntimeError(f"{differ} streamed scores of {data} differ from in-memory scoring")
    print(f"{out.name}: {len(streamed):,} streamed scores equal in-memory scoring", flush=True)


def fit(
    workdir: Path, stride: int, rule: str, n_draws: int, epochs: int, train_rows: int
) -> tuple[Path, float]:
    """The model file written by ``anomaly fit`` on a training file, and the seconds it took."""
    train = generate(workdir / f"train_{train_rows}.csv", train_rows, seed=1)
    model = workdir / f"model_w{WINDOW_SIZE}_s{stride}_{rule}_n{n_draws}_e{epochs}.safetensors"
    command = [sys.executable, "-m", "anomaly.cli", "fit", str(train), "-o", str(model)]
    command += ["--window-size", str(WINDOW_SIZE), "--stride", str(stride)]
    command += ["--epochs", str(epochs), "--n-draws", str(n_draws), "--device", "cpu"]
    command += ["--scoring-rule", rule]
    output, seconds, _, _ = _run(command)
    print(output.strip(), f"({seconds:.1f} s)", flush=True)
    return model, seconds


def run(
    sizes: list[int],
    stride: int,
    rule: str,
    n_draws: int,
    epochs: int,
    train_rows: int,
    workdir: Path,
    repeats: int,
    busy: int = 0,
) -> pd.DataFrame:
    """Every measurement, with ``busy`` CPU-bound processes running beside it, fit included."""
    if not TIME.exists():
        raise SystemExit(f"{TIME} not found: install GNU time (Debian: apt-get install time).")
    workdir.mkdir(parents=True, exist_ok=True)
    with _neighbours(busy):
        model, fit_seconds = fit(workdir, stride, rule, n_draws, epochs, train_rows)
        setting = dict(
            columns=len(COLUMNS),
            stride=stride,
            scoring_rule=rule,
            n_draws=n_draws,
            window_size=WINDOW_SIZE,
            detector="vae",
            epochs=epochs,
            train_rows=train_rows,
            fit_seconds=fit_seconds,
            block_bytes=BLOCK_BYTES,
            cpu=_cpu(),
            torch_threads=torch.get_num_threads(),
            busy=busy,
            pyarrow=pa.__version__,
            torch=torch.__version__,
        )
        rows = []

        def record(
            n_rows: int,
            what: str,
            repeat: int,
            measured: tuple,
            stream_seconds: float = np.nan,
            file_mib: float = np.nan,
            **extra: object,
        ) -> None:
            _, seconds, rss, cpu_seconds = measured
            rows.append(
                dict(
                    rows=n_rows,
                    what=what,
                    repeat=repeat,
                    seconds=seconds,
                    rows_per_second=n_rows / seconds if n_rows else np.nan,
                    stream_seconds=stream_seconds,
                    stream_rows_per_second=n_rows / stream_seconds,
                    peak_rss_mib=rss,
                    cpu_seconds=cpu_seconds,
                    file_mib=file_mib,
                    **setting,
                    **extra,
                )
            )
            shown = ["rows", "what", "seconds", "stream_seconds", "peak_rss_mib"]
            print({k: rows[-1][k] for k in shown}, flush=True)

        for repeat in range(repeats):
            record(0, IMPORT, repeat, _run([sys.executable, "-c", "import anomaly.cli"]))
        for n_rows in sizes:
            data = generate(workdir / f"series_{n_rows}.csv", n_rows, seed=0)
            file_mib = data.stat().st_size / 2**20
            out = workdir / f"scores_{n_rows}.csv"
            for repeat in range(repeats):
                if n_rows == max(sizes):
                    # Right before scoring, so that each run's ratio sees the same machine:
                    # its speed drifts over minutes (quiet bare passes of one hour: 1.05-1.74 s).
                    forward = [sys.executable, "-c", BARE_FORWARD, str(model), str(data)]
                    measured = _run([*forward, str(min(BARE_FORWARD_ROWS, n_rows)), *COLUMNS])
                    n_forward, seconds = measured[0].split()
                    record(int(n_forward), FORWARD, repeat, measured, float(seconds), paired=True)
                read = [sys.executable, "-c", PYARROW_READ, str(data), str(BLOCK_BYTES), TIMESTAMP]
                measured = _run(read + COLUMNS)
                n_read, read_seconds = measured[0].split()
                if int(n_read) != n_rows:
                    raise RuntimeError(f"pyarrow read {n_read} rows of {data}")
                record(n_rows, READ, repeat, measured, float(read_seconds), file_mib)

                score = [sys.executable, "-m", "anomaly.cli", "score", str(model), str(data)]
                measured = _run([*score, "-o", str(out)])
                written = _count_rows(out)
                if written != n_rows:
                    raise RuntimeError(f"anomaly score wrote {written} rows for {n_rows} in {data}")
                if repeat == 0:
                    _check_scores(model, data, out)
                out.unlink()
                stream_seconds = float(SCORED.search(measured[0])[2])
                record(n_rows, SCORE, repeat, measured, stream_seconds, file_mib)
        return pd.DataFrame(rows)


@contextlib.contextmanager
def _neighbours(n: int) -> Iterator[None]:
    """``n`` CPU-bound processes running beside whatever runs inside."""
    burners = [subprocess.Popen([sys.executable, "-c", BURNER]) for _ in range(n)]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


def _cpu() -> str:
    model = platform.processor() or platform.machine()
    info = Path("/proc/cpuinfo")
    text = info.read_text() if info.exists() else ""
    names = [line for line in text.splitlines() if line.startswith("model name")]
    if names:
        model = names[0].split(":", 1)[1].strip()
    return f"{model}, {os.cpu_count()} cores"


def _paired_ratios(runs: pd.DataFrame, n_rows: int) -> pd.Series | None:
    """Each run's scoring rate on ``n_rows`` over that of the bare forward pass run right
    before it; None where there was none (runs before the pairing, and smaller files)."""
    if "paired" not in runs:
        return None
    forward = runs[(runs.what == FORWARD) & runs.paired.eq(True)].set_index("repeat")
    score = runs[(runs.what == SCORE) & (runs.rows == n_rows)].set_index("repeat")
    if forward.empty or n_rows != runs.rows[runs.what == SCORE].max():
        return None
    if not (forward.index.is_unique and score.index.is_unique):
        raise ValueError(f"repeats measured twice for {n_rows:,} rows: {sorted(score.index)}")
    ratios = (score.stream_rows_per_second / forward.stream_rows_per_second).dropna()
    return ratios if len(ratios) else None


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def report(results: Path) -> str:
    path = results / "csv_scoring.csv"
    lines = ["# Streaming CSV scoring", "", "Written by `python benchmarks/csv_scoring.py`.", ""]
    if not path.exists():
        return "\n".join([*lines, "No results yet.", ""])
    frame = pd.read_csv(path)
    if "busy" not in frame:  # runs before busy neighbours were measured had none
        frame["busy"] = 0
    frame["busy"] = frame["busy"].fillna(0).astype(int)
    frame["scoring_rule"] = frame.get("scoring_rule", EARLIER_RULE)
    frame["scoring_rule"] = frame["scoring_rule"].fillna(EARLIER_RULE)
    setting = ["stride", "scoring_rule", "n_draws"]
    quiet = frame[frame.busy == 0].groupby([*setting, "rows", "what"])
    quiet_rates = quiet.stream_rows_per_second.median()
    for (stride, rule, n_draws, busy), runs in frame.groupby([*setting, "busy"]):
        first = runs.iloc[0]
        measures = [
            "seconds",
            "rows_per_second",
            "stream_seconds",
            "stream_rows_per_second",
            "peak_rss_mib",
            "cpu_seconds",
        ]
        median = runs.groupby(["rows", "what"], sort=False)[measures].median().reset_index()
        order = median["what"].map({IMPORT: 0, FORWARD: 1, READ: 2, SCORE: 3})
        median = median.iloc[np.lexsort([order, median["rows"]])]
        repeats = runs["repeat"].nunique()
        lines += [
            f"## Stride {stride}, scoring_rule={rule!r}"
            + (f", {n_draws} Monte-Carlo draws per window" if rule in DRAWING_RULES else "")
            + f" (window {first.window_size})"
            + (f", {busy} CPU-bound neighbour process(es)" if busy else ""),
            "",
            f"{first['columns']} value columns and a timestamp column; a {first.detector} model "
            f"fitted by `anomaly fit` on {first.train_rows:,} rows with {first.epochs} epochs "
            f"({first.fit_seconds:.0f} s); pyarrow {first.pyarrow}, torch {first.torch} with "
            f"{first.torch_threads} threads; {first.cpu}; pyarrow blocks of "
            f"{first.block_bytes / 2**20:g} MiB; median of {repeats} run(s). Seconds are whole "
            "processes (start, imports, model loading included; the first row is the floor of "
            "that); stream seconds are the streaming alone, timed inside the process.",
            "",
            median.astype(object)
            .where(median.notna(), None)  # blank cells, not "nan"
            .to_markdown(
                index=False,
                intfmt=",",
                floatfmt=("", "", ".3g", ",.0f", ".3g", ",.0f", ".0f", ".3g"),
            ),
            "",
        ]
        score = median[median.what == SCORE].set_index("rows")
        read = median[median.what == READ].set_index("rows")
        forward = median[median.what == FORWARD].stream_rows_per_second
        if score.empty:
            continue
        small, large = score.index.min(), score.index.max()
        growth = score.peak_rss_mib[large] / score.peak_rss_mib[small]
        largest = score.peak_rss_mib.max()
        stream_ratios = (score.stream_rows_per_second / read.stream_rows_per_second).dropna()
        process_ratios = score.rows_per_second / read.rows_per_second
        lines += [
            f"- Peak RSS of scoring, {large:,} rows against {small:,}: {growth:.2f}x "
            f"(target <= 1.25x): {_met(growth <= 1.25)}.",
            f"- Largest peak RSS of scoring: {largest:.0f} MiB (target < 1024 MiB): "
            f"{_met(largest < 1024)}.",
        ]
        for n_rows, ratio in stream_ratios.items():
            lines.append(
                f"- {n_rows:,} rows: {score.stream_rows_per_second[n_rows]:,.0f} rows/s scored "
                f"against {read.stream_rows_per_second[n_rows]:,.0f} read by pyarrow, "
                f"{ratio:.3f} of it (target >= 0.25): {_met(ratio >= 0.25)}; whole processes, "
                f"start included: {score.rows_per_second[n_rows]:,.0f} against "
                f"{read.rows_per_second[n_rows]:,.0f} rows/s, {process_ratios[n_rows]:.3f}."
            )
        for n_rows, rate in score.stream_rows_per_second.items():
            if len(forward):  # runs before the bare forward pass was measured have none
                ratio = rate / forward.iloc[0]
                line = (
                    f"- {n_rows:,} rows: {rate:,.0f} rows/s scored against the network's bare "
                    f"forward pass at {forward.iloc[0]:,.0f} rows/s, {ratio:.2f} of it"
                )
                paired = _paired_ratios(runs, n_rows)
                if paired is None:  # the bare passes all ran first, or before another file
                    line += f" (target >= 0.8): {_met(ratio >= 0.8)}."
                else:
                    ratio = paired.median()
                    line += (
                        "; the median of each run's scoring against the bare pass run right "
                        f"before it: {ratio:.2f} (runs: {', '.join(f'{r:.2f}' for r in paired)}; "
                        f"target >= 0.8): {_met(ratio >= 0.8)}."
                    )
                lines.append(line)
            key = (stride, rule, n_draws, n_rows, SCORE)
            if busy and key in quiet_rates:
                # Our fair share: the cores split evenly between as many of our threads as
                # cores and one per neighbour.
                cores = int(re.search(r"(\d+) cores", first.cpu)[1])
                share = cores / (cores + busy)
                ratio = rate / quiet_rates[key]
                each = runs[(runs.what == SCORE) & (runs.rows == n_rows)].stream_rows_per_second
                each = ", ".join(f"{r:.2f}" for r in each / quiet_rates[key])
                lines.append(
                    f"- {n_rows:,} rows beside {busy} busy process(es): {ratio:.2f} of the quiet "
                    f"machine's rate (runs: {each}), against a fair share of {share:.2f} of the "
                    f"CPU (target >= 0.8 of that): {_met(ratio >= 0.8 * share)}."
                )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["run", "report"])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 4_000_000])
    parser.add_argument("--stride", type=int, default=32, help="the model's, for fit and score")
    parser.add_argument(
        "--scoring-rule",
        default=WINDOW_SCORING_RULE,
        help="the VAE's scoring rule (default: anomaly fit's)",
    )
    parser.add_argument(
        "--n-draws",
        type=int,
        default=WINDOW_DRAWS,
        help="the VAE's Monte-Carlo draws per window, for the rules that draw (default: "
        "anomaly fit's)",
    )
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--train-rows", type=int, default=TRAIN_ROWS)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each measurement")
    parser.add_argument(
        "--busy", type=int, default=0, help="CPU-bound processes running beside (default: none)"
    )
    parser.add_argument("--workdir", type=Path, default=WORKDIR, help="generated files, model")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of the CSV and .md")
    args = parser.parse_args()
    args.results.mkdir(parents=True, exist_ok=True)
    if args.command == "run":
        new = run(
            args.rows,
            args.stride,
            args.scoring_rule,
            args.n_draws,
            args.epochs,
            args.train_rows,
            args.workdir,
            args.repeat,
            args.busy,
        )
        merge_results(args.results / "csv_scoring.csv", new, KEYS)
    text = report(args.results)
    write_text(args.results / "csv_scoring.md", text)
    print(text)


if __name__ == "__main__":
    main()
