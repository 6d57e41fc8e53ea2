"""CPU threads for torch: blocks of work side by side, and a thread count that fits the machine.

torch runs each operation on its intra-op threads, which wait for each other
at the end of every operation. The networks here run many small operations,
so when another process takes a core, every operation waits for the thread
it pushed off: beside two busy processes on 2 cores, scoring a series ran at
a quarter to a half of the rate it kept with one thread (benchmarks/results/
csv_scoring.md). Blocks run side by side on one thread each instead share
what CPU is left, and a block's numbers do not depend on how many run.
Training cannot be cut into independent blocks: the command line gives it
as many threads as there are idle cores (:func:`idle_cores`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import torch

__all__ = ["idle_cores", "map_blocks"]

T = TypeVar("T")
R = TypeVar("R")


@contextmanager
def map_blocks(function: Callable[[T], R], blocks: Iterable[T]) -> Iterator[Iterator[R]]:
    """``function`` over ``blocks`` on torch's number of threads, one torch thread each.

    Yields the results in the order of ``blocks``; torch's thread count is
    restored on exit.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(threads) as pool:
            yield pool.map(function, blocks)
    finally:
        torch.set_num_threads(threads)


def idle_cores(interval: float = 0.2) -> float | None:
    """Cores left idle by every process over the next ``interval`` seconds.

    Read from the kernel's CPU time counters (``/proc/stat``, Linux); None
    where there are none. Call it while this process itself is idle.
    """
    try:
        first = _cpu_times()
        time.sleep(interval)
        second = _cpu_times()
    except OSError:
        return None
    elapsed = [b - a for a, b in zip(first, second)]
    if sum(elapsed) <= 0:
        return None
    idle = elapsed[3] + elapsed[4]  # idle and iowait
    return len(os.sched_getaffinity(0)) * idle / sum(elapsed)


def _cpu_times() -> list[int]:
    with open("/proc/stat") as stat:
        return [int(value) for value in stat.readline().split()[1:]]
