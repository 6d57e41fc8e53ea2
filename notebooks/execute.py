"""Run the notebooks top to bottom; with ``--save``, store their outputs in the files.

    python notebooks/execute.py            # check that every notebook runs
    python notebooks/execute.py --save     # refresh the outputs committed with them

The tests (``tests/test_notebooks.py``) run the same function without saving.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

FOLDER = Path(__file__).resolve().parent
SHARED_DATASETS = FOLDER.parents[1] / "shared" / "datasets"


def notebooks() -> list[Path]:
    return sorted(FOLDER.glob("*.ipynb"))


def execute(path: Path, *, save: bool = False, timeout: int = 900) -> nbformat.NotebookNode:
    """Execute ``path`` in its folder; a failing cell raises nbclient's CellExecutionError."""
    notebook = nbformat.read(path, as_version=4)
    # The development machines' datasets, unless a data directory is already set.
    if "ANOMALY_DATA" not in os.environ and SHARED_DATASETS.is_dir():
        os.environ["ANOMALY_DATA"] = str(SHARED_DATASETS)
    NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(FOLDER)}},
    ).execute()
    if save:
        nbformat.write(notebook, path)
    return notebook


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", action="store_true", help="write the outputs into the files")
    parser.add_argument("names", nargs="*", help="notebook file names (default: all)")
    args = parser.parse_args()
    paths = [FOLDER / name for name in args.names] or notebooks()
    for path in paths:
        start = time.perf_counter()
        execute(path, save=args.save)
        print(f"{path.name}: ran in {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
