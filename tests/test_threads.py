"""Blocks side by side on one torch thread each; idle cores."""

import os
import threading
import time

import sklearn
import torch

from anomaly._threads import block_pool, idle_cores, map_blocks


def test_blocks_keep_their_order_run_on_one_thread_and_restore_the_count():
    before = torch.get_num_threads()
    with map_blocks(lambda block: (block, torch.get_num_threads()), range(20)) as results:
        assert list(results) == [(block, 1) for block in range(20)]
    assert torch.get_num_threads() == before


def test_the_callers_scikit_learn_configuration_reaches_every_thread():
    with (
        sklearn.config_context(working_memory=3),
        map_blocks(lambda _: sklearn.get_config()["working_memory"], range(8)) as results,
    ):
        assert set(results) == {3}


def test_overlapping_callers_restore_the_count_once_the_last_leaves():
    before = torch.get_num_threads()
    first, second = map_blocks(str, [1]), map_blocks(str, [2])
    first.__enter__()
    second.__enter__()  # e.g. another thread scoring at the same time
    first.__exit__(None, None, None)
    assert torch.get_num_threads() == 1
    second.__exit__(None, None, None)
    assert torch.get_num_threads() == before


def test_serial_blocks_leave_torch_threads_alone():
    before = torch.get_num_threads()
    caller = threading.get_ident()
    with map_blocks(lambda _: threading.get_ident(), range(3), parallel=False) as results:
        assert list(results) == [caller] * 3
        assert torch.get_num_threads() == before


def test_an_error_in_a_block_restores_the_count():
    before = torch.get_num_threads()

    def fail(block):
        raise RuntimeError(block)

    try:
        with map_blocks(fail, range(3)) as results:
            list(results)
    except RuntimeError:
        pass
    assert torch.get_num_threads() == before


def test_idle_cores_reads_the_cpu_counters():
    idle = idle_cores(0.05)
    assert idle is None or 0 <= idle <= len(os.sched_getaffinity(0))


def test_leaving_on_an_error_cancels_the_calls_not_started():
    before = torch.get_num_threads()
    ran = []

    def slow(block):
        time.sleep(0.02)
        ran.append(block)

    try:
        with block_pool() as submit:
            for block in range(50):
                submit(slow, block)
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert len(ran) < 50
    assert torch.get_num_threads() == before
