"""Many series files scored in one process against a Dask LocalCluster of 1 and 2 workers.

Generates ``--files`` CSV series of ``--rows`` rows (8 value columns and a
timestamp, the generator of ``benchmarks/csv_scoring.py``, one seed per file),
fits one model on a 20,000-row file with ``anomaly fit`` (window 32, stride
``--stride``, 30 epochs), then scores all the files, each setting in a fresh
process:

- ``one process``: :func:`anomaly.batch_scoring.score_files` without a cluster, one
  file after another, on torch's threads as ``anomaly score`` sets them;
- ``LocalCluster, N workers``: the same through :func:`anomaly.dask.connect`
  (N worker processes of one thread each), one task per file.

Reported: the wall time of the scoring call (the cluster's start and the
workers' imports of torch and this package excluded, reported apart), rows
per second over all files, its ratio to one process, and peak RSS: of the
process for ``one process``, of each worker (``VmHWM`` of
``/proc/self/status``, read on each) for the clusters. The outputs of every
setting are checked equal to the first's, file by file. This machine's core
count bounds what workers can gain; the report names it.

Usage::

    python benchmarks/dask_scoring.py run                   # 8 files x 250,000 rows, stride 32
    python benchmarks/dask_scoring.py run --files 4 --rows 20000 --results /tmp/dask_smoke
    python benchmarks/dask_scoring.py report

Results go to ``benchmarks/results/dask_scoring.csv`` (merged: a rerun replaces
the rows it recomputes) and ``dask_scoring.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import merge_results, write_text  # noqa: E402
from benchmarks.csv_scoring import generate  # noqa: E402

RESULTS = Path(__file__).parent / "results"
KEYS = ["setting", "files", "rows_per_file", "stride", "repeat"]
ONE_PROCESS = "one process"
WORKERS = (1, 2)

# Run in a fresh process per setting: times, rows and peak memory as JSON on its last line.
MEASURE = """
import json, sys, time
from anomaly import cli
from anomaly.batch_scoring import score_files
from anomaly.dask import connect
model, out, workers, *inputs = sys.argv[1:]
workers = int(workers)
cli._set_threads(None)  # as `anomaly score` sets torch's threads

def peak_rss_mib():
    # VmHWM: this process's own peak; ru_maxrss keeps the parent's across fork and exec.
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024

if workers == 0:
    start = time.perf_counter()
    results = score_files(model, inputs, out)
    seconds, startup, peaks = time.perf_counter() - start, 0.0, []
else:
    began = time.perf_counter()
    with connect("local", n_workers=workers) as client:
        client.wait_for_workers(workers)
        client.run(lambda: __import__("anomaly.dask"))  # each worker's imports, as warm-up
        startup = time.perf_counter() - began
        start = time.perf_counter()
        results = score_files(model, inputs, out, client=client)
        seconds = time.perf_counter() - start
        peaks = sorted(client.run(peak_rss_mib).values())
failed = {str(k): str(v) for k, v in results.items() if isinstance(v, Exception)}
if failed:
    sys.exit(f"failed: {failed}")
print(json.dumps(dict(seconds=seconds, startup_seconds=startup, rows=sum(results.values()),
                      peak_rss_mib=peak_rss_mib(), worker_peak_rss_mib=peaks)))
"""


def fit_model(workdir: Path, stride: int) -> Path:
    model = workdir / f"model_s{stride}.safetensors"
    if not model.exists():
        train = generate(workdir / "train_20000.csv", 20_000, seed=0)
        command = [sys.executable, "-m", "anomaly.cli", "fit", str(train), "-o", str(model)]
        command += ["--window-size", "32", "--stride", str(stride), "--epochs", "30"]
        subprocess.run([*command, "--device", "cpu"], check=True)
    return model


def measure(model: Path, inputs: list[Path], out: Path, workers: int) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        old.unlink()
    command = [sys.executable, "-c", MEASURE, str(model), str(out), str(workers)]
    done = subprocess.run([*command, *map(str, inputs)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(n_files: int, n_rows: int, stride: int, repeat: int, workdir: Path, results: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    model = fit_model(workdir, stride)
    inputs = [
        generate(workdir / f"series_{n_rows}_{i}.csv", n_rows, seed=i) for i in range(n_files)
    ]
    settings = {ONE_PROCESS: 0, **{f"LocalCluster, {n} worker(s)": n for n in WORKERS}}
    rows = []
    for index in range(repeat):
        reference = None
        for setting, workers in settings.items():
            out = workdir / f"out_{workers}"
            figures = measure(model, inputs, out, workers)
            outputs = {p.name: p.read_bytes() for p in out.iterdir()}
            if reference is None:
                reference = outputs
            elif outputs != reference:
                raise RuntimeError(f"{setting} wrote other scores than {ONE_PROCESS}")
            peaks = figures.pop("worker_peak_rss_mib")
            row = dict(setting=setting, files=n_files, rows_per_file=n_rows, stride=stride)
            row.update(repeat=index, workers=workers, **figures)
            row["worker_peak_rss_mib"] = max(peaks) if peaks else None
            row["rows_per_second"] = figures["rows"] / figures["seconds"]
            row["cores"] = len(os.sched_getaffinity(0))
            print(row, flush=True)
            rows.append(row)
    results.mkdir(parents=True, exist_ok=True)
    merge_results(results / "dask_scoring.csv", pd.DataFrame(rows), KEYS)
    write_text(results / "dask_scoring.md", report(results))


def report(results: Path) -> str:
    frame = pd.read_csv(results / "dask_scoring.csv")
    lines = ["# Many files: one process against a Dask LocalCluster", ""]
    lines.append("Written by `python benchmarks/dask_scoring.py report`.")
    group = ["files", "rows_per_file", "stride"]
    for (n_files, n_rows, stride), runs in frame.groupby(group):
        table = runs.groupby(["setting", "workers"], as_index=False).median(numeric_only=True)
        table = table.sort_values("workers")
        base = table.loc[table.workers == 0, "rows_per_second"].iloc[0]
        table["ratio"] = table["rows_per_second"] / base
        table["rows_per_second"] = table["rows_per_second"].round().astype(int)
        cores = int(runs["cores"].iloc[0])
        lines += [
            "",
            f"## {n_files} files x {n_rows:,} rows, stride {stride}",
            "",
            f"{cores} cores; median of {runs['repeat'].nunique()} run(s). Seconds of the scoring "
            "call alone, the cluster's start and the workers' imports apart (`startup_seconds`); "
            "`peak_rss_mib` of the calling process (for the clusters, the client, which scores "
            "nothing), `worker_peak_rss_mib` of the largest worker.",
            "",
            table[
                [
                    "setting",
                    "seconds",
                    "startup_seconds",
                    "rows_per_second",
                    "ratio",
                    "peak_rss_mib",
                    "worker_peak_rss_mib",
                ]
            ].to_markdown(index=False, floatfmt=",.2f", intfmt=","),
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run")
    run_parser.add_argument("--files", type=int, default=8)
    run_parser.add_argument("--rows", type=int, default=250_000)
    run_parser.add_argument("--stride", type=int, default=32)
    run_parser.add_argument("--repeat", type=int, default=1)
    run_parser.add_argument("--workdir", type=Path, default=Path("/tmp/anomaly_dask_bench"))
    run_parser.add_argument("--results", type=Path, default=RESULTS)
    report_parser = commands.add_parser("report")
    report_parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.command == "run":
        run(args.files, args.rows, args.stride, args.repeat, args.workdir, args.results)
    else:
        write_text(args.results / "dask_scoring.md", report(args.results))


if __name__ == "__main__":
    main()
