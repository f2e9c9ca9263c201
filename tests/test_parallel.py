"""The thread pool that runs kernels on many columns."""

import os
import threading

import pytest

from fastmlops._core.parallel import chunk_bounds, n_workers, parallel_map


def test_order_and_nesting():
    out = parallel_map(lambda x: parallel_map(lambda y: (x, y), range(3)), range(5))
    assert out == [[(x, y) for y in range(3)] for x in range(5)]


def test_nested_calls_stay_on_their_thread():
    def inner(x):
        return parallel_map(lambda _: threading.current_thread().name, range(4))

    for names in parallel_map(inner, range(4)):
        assert len(set(names)) == 1


def test_exceptions_propagate():
    def boom(x):
        if x == 3:
            raise KeyError("three")
        return x

    with pytest.raises(KeyError, match="three"):
        parallel_map(boom, range(6))
    assert parallel_map(lambda x: x + 1, range(6)) == list(range(1, 7))


def test_chunk_bounds_cover_everything():
    for n in (0, 1, 7, 100, 65537):
        for parts in (1, 2, 3, 8):
            b = chunk_bounds(n, parts, minimum=4)
            assert b[0][0] == 0 and b[-1][1] == n
            assert all(x[1] == y[0] for x, y in zip(b, b[1:]))


def test_worker_count_from_environment(monkeypatch):
    monkeypatch.setenv("FASTMLOPS_NUM_THREADS", "3")
    assert n_workers() == 3
    monkeypatch.setenv("FASTMLOPS_NUM_THREADS", "zero")
    with pytest.raises(ValueError, match="FASTMLOPS_NUM_THREADS"):
        n_workers()
    monkeypatch.setenv("FASTMLOPS_NUM_THREADS", "0")
    with pytest.raises(ValueError, match=">= 1"):
        n_workers()
    monkeypatch.delenv("FASTMLOPS_NUM_THREADS")
    assert n_workers() >= 1 and n_workers() <= (os.cpu_count() or 1)


def test_pool_survives_fork():
    parallel_map(lambda x: x, range(4))  # make sure a pool exists
    pid = os.fork()
    if pid == 0:  # child: the parent's worker threads don't exist here
        ok = False
        try:
            ok = parallel_map(lambda x: x * 2, range(4)) == [0, 2, 4, 6]
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
