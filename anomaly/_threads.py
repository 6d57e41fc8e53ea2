"""CPU threads for torch: blocks of work side by side, and a thread count that fits the machine.

torch runs each operation on its intra-op threads, which wait for each other
at the end of every operation. The networks here run many small operations,
so when another process takes a core, every operation waits for the thread
it pushed off: beside two busy processes on 2 cores, scoring a series ran at
a quarter to a half of the rate it kept with one thread (benchmarks/README.md,
"on a busy machine"). Blocks run side by side on one thread each instead
share what CPU is left, and a block's numbers do not depend on how many run.
Training cannot be cut into independent blocks: ``anomaly fit`` gives it as
many threads as there are idle cores (:func:`idle_cores`).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar

import torch
from sklearn import config_context, get_config

__all__ = ["block_pool", "idle_cores", "map_blocks"]

T = TypeVar("T")
R = TypeVar("R")


# Callers inside block_pool, and the thread count to restore when the last one leaves: torch's
# count is one per process, and two threads scoring at once must not restore each other's 1.
_lock = threading.Lock()
_callers = 0
_threads = 1


@contextmanager
def block_pool(*, parallel: bool = True) -> Iterator[Callable[..., Future]]:
    """Calls on torch's number of threads side by side, one torch thread each.

    While any caller is inside, torch runs one thread per operation in the
    whole process; the count is restored when the last caller leaves. Each
    call runs under the caller's scikit-learn configuration (which is
    thread-local). With ``parallel=False`` (e.g. a network on a GPU) each
    call runs at once in the calling thread, torch's threads untouched.
    Leaving waits for the calls under way; leaving on an error (or a closed
    generator) cancels those not started.

    Yields
    ------
    submit : callable
        ``submit(function, *args)`` starts ``function(*args)`` and returns
        its :class:`~concurrent.futures.Future`.
    """
    if not parallel:
        yield _run_now
        return
    global _callers, _threads
    config = get_config()

    def configured(function: Callable[..., R], *args: Any) -> R:
        with config_context(**config):
            return function(*args)

    with _lock:
        if _callers == 0:
            _threads = torch.get_num_threads()
            torch.set_num_threads(1)
        _callers += 1
        workers = _threads
    pool = ThreadPoolExecutor(workers)
    try:
        yield partial(pool.submit, configured)
    except BaseException:
        pool.shutdown(cancel_futures=True)
        raise
    else:
        pool.shutdown()
    finally:
        with _lock:
            _callers -= 1
            if _callers == 0:
                torch.set_num_threads(_threads)


def _run_now(function: Callable[..., R], *args: Any) -> Future:
    """``function(*args)`` run in the calling thread, as a finished future."""
    future: Future = Future()
    try:
        future.set_result(function(*args))
    except Exception as error:  # raised where the result is read, as from a thread
        future.set_exception(error)
    return future


@contextmanager
def map_blocks(
    function: Callable[[T], R], blocks: Iterable[T], *, parallel: bool = True
) -> Iterator[Iterator[R]]:
    """``function`` over ``blocks`` in a :func:`block_pool`; yields the results in order,
    each dropped once read (with ``parallel=False``, computed as read)."""
    if not parallel:
        yield map(function, blocks)
        return
    with block_pool() as submit:
        futures = deque(submit(function, block) for block in blocks)
        yield (futures.popleft().result() for _ in range(len(futures)))


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
    # user, nice, system, idle, iowait, irq, softirq, steal; guest time is within user's.
    elapsed = [b - a for a, b in zip(first[:8], second[:8])]
    if sum(elapsed) <= 0:
        return None
    idle = elapsed[3] + elapsed[4]
    return len(os.sched_getaffinity(0)) * idle / sum(elapsed)


def _cpu_times() -> list[int]:
    with open("/proc/stat") as stat:
        return [int(value) for value in stat.readline().split()[1:]]
