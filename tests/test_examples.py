"""The scripts in examples/ run (each checks its own results)."""

import runpy
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_many_files_on_dask(tmp_path):
    script = runpy.run_path(str(EXAMPLES / "many_files_on_dask.py"))
    script["main"](tmp_path)
    assert sorted(p.name for p in (tmp_path / "cluster").iterdir()) == [
        f"host-{seed}.csv" for seed in range(4)
    ]
