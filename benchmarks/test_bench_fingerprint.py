"""File and tree fingerprint throughput: fastmlops vs hashlib / xxhash in the same run.

Run with ``python -m pytest benchmarks/test_bench_fingerprint.py --benchmark-enable``.
A module fixture writes a 1 GiB file and a directory of 8 x 128 MiB shards under
the system temporary directory and reads them once so that every test hashes
from the page cache.  In each group ``test_fastmlops_*`` is ours and the other
tests are references; every result is checked against the reference digest
before timing.  Each test records ``GB/s`` (10^9 bytes per second, median) in
``extra_info`` and prints it.

Groups and goals (2-core development VM):

* ``sha256 1 GiB file``: hash_file vs hashlib on the bytes already in memory
  (the ceiling) and an 8 KiB read loop (the naive way).  Goal >= 1.45 GB/s.
* ``xxh3_128 1 GiB file``: hash_file vs xxhash on the bytes in memory, mmap of
  the whole file, and ``readinto`` on a reused 1 MiB buffer.  Goal >= 13 GB/s.
* ``sha256 tree 8 x 128 MiB``: hash_tree vs hashing the 8 shards one after
  another.  Goal >= 1.8x on 2 cores.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import shutil
import tempfile

import numpy as np
import pytest
import xxhash

from fastmlops.fingerprint import hash_file, hash_tree

GIB = 1 << 30
SHARDS = 8
SHARD = GIB // SHARDS


def _warm(path: str) -> None:
    buf = bytearray(1 << 22)
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buf):
            pass


@pytest.fixture(scope="module")
def data_dir():
    root = tempfile.mkdtemp(prefix="fastmlops-bench-fp-")
    rng = np.random.default_rng(2024)
    chunk = rng.bytes(1 << 26)  # 64 MiB of random bytes, varied per copy below
    big = os.path.join(root, "big.bin")
    with open(big, "wb") as f:
        for i in range(GIB // len(chunk)):
            f.write(i.to_bytes(8, "little") + chunk[8:])
    shards = os.path.join(root, "shards")
    os.mkdir(shards)
    for s in range(SHARDS):
        with open(os.path.join(shards, f"shard-{s}.bin"), "wb") as f:
            for i in range(SHARD // len(chunk)):
                f.write((s * 1000 + i).to_bytes(8, "little") + chunk[8:])
    _warm(big)
    for name in os.listdir(shards):
        _warm(os.path.join(shards, name))
    yield {"big": big, "shards": shards}
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def in_memory(data_dir):
    with open(data_dir["big"], "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def expected(in_memory):
    return {"sha256": hashlib.sha256(in_memory).hexdigest(),
            "xxh3_128": xxhash.xxh3_128(in_memory).hexdigest()}


def _report(benchmark, nbytes: int) -> None:
    try:
        median = benchmark.stats.stats.median
    except AttributeError:  # benchmarks disabled: nothing was timed
        return
    rate = nbytes / median / 1e9
    benchmark.extra_info["GB/s"] = round(rate, 3)
    print(f"\n{benchmark.group}: {benchmark.name}: {rate:.2f} GB/s")


# ---------------------------------------------------------------- references
def read_loop(path: str, constructor, size: int) -> str:
    h = constructor()
    with open(path, "rb") as f:
        while chunk := f.read(size):
            h.update(chunk)
    return h.hexdigest()


def readinto_reused(path: str, constructor, size: int = 1 << 20) -> str:
    h = constructor()
    buf = bytearray(size)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


def mmap_whole(path: str, constructor) -> str:
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        with memoryview(m) as view:
            return constructor(view).hexdigest()


def one_after_another(root: str) -> dict[str, str]:
    """The shards hashed in turn on one thread (1 MiB readinto loop, no helper
    reader thread: hash_file itself would overlap reading and hashing)."""
    return {name: readinto_reused(os.path.join(root, name), hashlib.sha256)
            for name in sorted(os.listdir(root))}


# ----------------------------------------------------------- sha256 1 GiB file
def test_fastmlops_sha256_file(benchmark, data_dir, expected):
    benchmark.group = "sha256 1 GiB file"
    assert hash_file(data_dir["big"]) == expected["sha256"]
    benchmark.pedantic(hash_file, (data_dir["big"],), rounds=3, iterations=1)
    _report(benchmark, GIB)


def test_hashlib_sha256_in_memory(benchmark, in_memory, expected):
    benchmark.group = "sha256 1 GiB file"
    fn = lambda: hashlib.sha256(in_memory).hexdigest()  # noqa: E731
    assert fn() == expected["sha256"]
    benchmark.pedantic(fn, rounds=3, iterations=1)
    _report(benchmark, GIB)


def test_hashlib_sha256_read_8k(benchmark, data_dir, expected):
    benchmark.group = "sha256 1 GiB file"
    args = (data_dir["big"], hashlib.sha256, 8192)
    assert read_loop(*args) == expected["sha256"]
    benchmark.pedantic(read_loop, args, rounds=2, iterations=1)
    _report(benchmark, GIB)


# --------------------------------------------------------- xxh3_128 1 GiB file
def test_fastmlops_xxh3_128_file(benchmark, data_dir, expected):
    benchmark.group = "xxh3_128 1 GiB file"
    assert hash_file(data_dir["big"], "xxh3_128") == expected["xxh3_128"]
    benchmark.pedantic(hash_file, (data_dir["big"], "xxh3_128"), rounds=7, iterations=1)
    _report(benchmark, GIB)


def test_xxhash_xxh3_128_in_memory(benchmark, in_memory, expected):
    benchmark.group = "xxh3_128 1 GiB file"
    fn = lambda: xxhash.xxh3_128(in_memory).hexdigest()  # noqa: E731
    assert fn() == expected["xxh3_128"]
    benchmark.pedantic(fn, rounds=7, iterations=1)
    _report(benchmark, GIB)


def test_xxhash_xxh3_128_mmap(benchmark, data_dir, expected):
    benchmark.group = "xxh3_128 1 GiB file"
    args = (data_dir["big"], xxhash.xxh3_128)
    assert mmap_whole(*args) == expected["xxh3_128"]
    benchmark.pedantic(mmap_whole, args, rounds=7, iterations=1)
    _report(benchmark, GIB)


def test_xxhash_xxh3_128_readinto_reused(benchmark, data_dir, expected):
    benchmark.group = "xxh3_128 1 GiB file"
    args = (data_dir["big"], xxhash.xxh3_128)
    assert readinto_reused(*args) == expected["xxh3_128"]
    benchmark.pedantic(readinto_reused, args, rounds=7, iterations=1)
    _report(benchmark, GIB)


# ---------------------------------------------------- sha256 tree of 8 shards
def test_fastmlops_hash_tree_8_shards(benchmark, data_dir):
    benchmark.group = "sha256 tree 8 x 128 MiB"
    root = data_dir["shards"]
    manifest = hash_tree(root)
    assert {e.path: e.digest for e in manifest} == one_after_another(root)
    benchmark.pedantic(hash_tree, (root,), rounds=5, iterations=1)
    _report(benchmark, GIB)


def test_serial_sha256_8_shards(benchmark, data_dir):
    benchmark.group = "sha256 tree 8 x 128 MiB"
    benchmark.pedantic(one_after_another, (data_dir["shards"],), rounds=5, iterations=1)
    _report(benchmark, GIB)
