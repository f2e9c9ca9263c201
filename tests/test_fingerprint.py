"""File and tree fingerprints, manifests, model versions and the CLI handler."""

from __future__ import annotations

import argparse
import errno
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import xxhash
from hypothesis import given
from hypothesis import strategies as st

import fastmlops
from fastmlops import fingerprint as fp
from fastmlops.cli import _fingerprint as fp_cli  # the fingerprint command
from fastmlops.fingerprint import _file as fp_file  # hashing one file: the globals patched
from fastmlops.fingerprint import (FileChangedError, Manifest, ManifestEntry, ModelVersion,
                                   add_cli, canonical_json, capture_environment,
                                   hash_file, hash_tree)

REFERENCE = {
    "sha256": hashlib.sha256,
    "md5": hashlib.md5,
    "xxh3_64": xxhash.xxh3_64,
    "xxh3_128": xxhash.xxh3_128,
}


def ref_digest(algorithm: str, data: bytes) -> str:
    return REFERENCE[algorithm](data).hexdigest()


def write(path, data: bytes) -> str:
    path = os.fspath(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


# ------------------------------------------------------------ known answers
NIST_448 = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
KNOWN = [
    ("sha256", b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ("sha256", b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ("sha256", NIST_448, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ("sha256", b"a" * 1_000_000,
     "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
    ("md5", b"", "d41d8cd98f00b204e9800998ecf8427e"),
    ("md5", b"abc", "900150983cd24fb0d6963f7d28e17f72"),
    ("xxh3_64", b"", "2d06800538d394c2"),
    ("xxh3_128", b"", "99aa06d3014798d86001c324468d497f"),
]


@pytest.mark.parametrize("algorithm,data,expected", KNOWN)
def test_known_answers(tmp_path, algorithm, data, expected):
    path = write(tmp_path / "f.bin", data)
    assert hash_file(path, algorithm) == expected
    assert hash_file(io.BytesIO(data), algorithm) == expected
    with open(path, "rb") as f:
        assert hash_file(f, algorithm) == expected


# ------------------------------------------- sizes around buffer boundaries
B = fp_file.BUFFER_SIZE
SIZES = [0, 1, 63, 64, 65, 4095, B - 1, B, B + 1, 2 * B + 3,
         fp_file._PIPELINE_MIN - 1, fp_file._PIPELINE_MIN, fp_file._PIPELINE_MIN + 1]


@pytest.fixture(scope="module")
def random_bytes():
    return np.random.default_rng(42).bytes(fp_file._PIPELINE_MIN + 1)


@pytest.mark.parametrize("size", SIZES)
def test_sizes_match_reference(tmp_path, random_bytes, size):
    data = random_bytes[:size]
    path = write(tmp_path / "f.bin", data)
    for algorithm in REFERENCE:
        assert hash_file(path, algorithm) == ref_digest(algorithm, data), algorithm
    assert hash_file(path, "sha512") == hashlib.sha512(data).hexdigest()
    assert hash_file(path, "blake2b") == hashlib.blake2b(data).hexdigest()
    assert hash_file(path, "xxh64") == xxhash.xxh64(data).hexdigest()


@pytest.mark.parametrize("threads", ["1", "2"])
def test_small_buffers_serial_and_pipelined(tmp_path, monkeypatch, threads):
    # Tiny buffers drive many chunks through both read paths quickly.
    monkeypatch.setattr(fp_file, "BUFFER_SIZE", 512)
    monkeypatch.setattr(fp_file, "_PIPELINE_MIN", 4 * 512)
    monkeypatch.setenv("FASTMLOPS_NUM_THREADS", threads)
    rng = np.random.default_rng(7)
    for size in [0, 511, 512, 513, 2047, 2048, 2049, 5 * 512 + 17, 100_000]:
        data = rng.bytes(size)
        path = write(tmp_path / f"f{size}.bin", data)
        calls = []
        assert hash_file(path, progress=lambda d, t: calls.append((d, t))) == \
            hashlib.sha256(data).hexdigest()
        assert hash_file(path, "xxh3_128") == xxhash.xxh3_128(data).hexdigest()
        assert calls[0] == (0, size) and calls[-1] == (size, size)
        assert [d for d, _ in calls] == sorted(d for d, _ in calls)


@given(data=st.binary(max_size=3000), chunk=st.integers(1, 700), skip=st.integers(0, 50))
def test_streams_match_reference_property(data, chunk, skip):
    class Chunky:  # a stream returning short reads of random length
        def __init__(self):
            self._b = io.BytesIO(data)
            self._b.seek(min(skip, len(data)))

        def read(self, n):
            return self._b.read(min(n, chunk))

    rest = data[min(skip, len(data)):]
    assert hash_file(Chunky(), "xxh3_128") == xxhash.xxh3_128(rest).hexdigest()
    bio = io.BytesIO(data)
    bio.seek(min(skip, len(data)))
    assert hash_file(bio, "sha256") == hashlib.sha256(rest).hexdigest()


# ------------------------------------------------------------- file objects
def test_file_object_from_current_position(tmp_path, random_bytes):
    data = random_bytes[: 3 * B + 5]
    path = write(tmp_path / "f.bin", data)
    with open(path, "rb") as f:
        f.read(100)  # a buffered reader has read ahead past 100
        assert hash_file(f) == hashlib.sha256(data[100:]).hexdigest()
        assert f.tell() == len(data) and f.read() == b""
    with open(path, "rb", buffering=0) as f:
        f.seek(B + 1)
        assert hash_file(f, "xxh3_64") == xxhash.xxh3_64(data[B + 1:]).hexdigest()
    bio = io.BytesIO(data)
    bio.seek(7)
    calls = []
    assert hash_file(bio, "md5", progress=lambda d, t: calls.append((d, t))) == \
        hashlib.md5(data[7:]).hexdigest()
    assert calls[-1] == (len(data) - 7, len(data) - 7)


def test_pipe_and_read_only_objects(random_bytes):
    data = random_bytes[:200_000]
    r, w = os.pipe()
    os.write(w, data[:60_000])
    os.close(w)
    calls = []
    with os.fdopen(r, "rb") as f:
        assert hash_file(f, progress=lambda d, t: calls.append(t)) == \
            hashlib.sha256(data[:60_000]).hexdigest()
    assert set(calls) == {None}  # unknown length

    class ReadOnly:
        def __init__(self, payload):
            self._b = io.BytesIO(payload)

        def read(self, n):
            return self._b.read(min(n, 999))

    assert hash_file(ReadOnly(data), "xxh3_128") == xxhash.xxh3_128(data).hexdigest()


def test_non_binary_file_objects_rejected(tmp_path):
    path = write(tmp_path / "t.txt", b"hello")
    with open(path, "r") as f, pytest.raises(TypeError, match="binary.*'rb'"):
        hash_file(f)
    with pytest.raises(TypeError, match="binary"):
        hash_file(io.StringIO("hello"))

    class Texty:
        def read(self, n):
            return "text"

    with pytest.raises(TypeError, match="binary"):
        hash_file(Texty())
    f = open(path, "rb")
    f.close()
    with pytest.raises(ValueError, match="closed"):
        hash_file(f)
    with open(tmp_path / "w.bin", "wb") as f, pytest.raises(ValueError, match="reading"):
        hash_file(f)
    import gzip  # binary objects whose mode is not a string still work

    with gzip.open(write(tmp_path / "z.gz", gzip.compress(b"inside")), "rb") as f:
        assert hash_file(f) == hashlib.sha256(b"inside").hexdigest()


# --------------------------------------------------------------- bad input
def test_bad_input_errors(tmp_path):
    path = write(tmp_path / "f.bin", b"x")
    with pytest.raises(ValueError, match=r"unknown algorithm 'sha3'.*sha256.*xxh3_128"):
        hash_file(path, "sha3")
    with pytest.raises(ValueError, match="unknown algorithm"):
        hash_tree(tmp_path, "crc32")
    missing = tmp_path / "nope.bin"
    with pytest.raises(FileNotFoundError, match="nope.bin"):
        hash_file(missing)
    with pytest.raises(IsADirectoryError, match="hash_tree"):
        hash_file(tmp_path)
    with pytest.raises(NotADirectoryError, match="hash_file"):
        hash_tree(path)
    with pytest.raises(FileNotFoundError, match="nope"):
        hash_tree(tmp_path / "nope")
    with pytest.raises(TypeError, match="os.PathLike"):
        hash_file(3.5)
    with pytest.raises(TypeError, match="progress"):
        hash_file(path, progress="yes")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="fifo.*not a regular file"):
        hash_file(fifo)


# ---------------------------------------------------- changes while hashing
@pytest.mark.parametrize("algorithm,threads", [("sha256", "2"), ("sha256", "1"),
                                               ("xxh3_128", "2")])
def test_file_changed_while_hashing(tmp_path, monkeypatch, algorithm, threads):
    monkeypatch.setattr(fp_file, "BUFFER_SIZE", 4096)
    monkeypatch.setattr(fp_file, "_PIPELINE_MIN", 4 * 4096)
    monkeypatch.setenv("FASTMLOPS_NUM_THREADS", threads)
    path = write(tmp_path / "grow.bin", bytes(20 * 4096))

    def append_once(done, total):
        if done == 4096:
            with open(path, "ab") as f:
                f.write(b"more")

    with pytest.raises(FileChangedError, match="grow.bin.*changed while") as info:
        hash_file(path, algorithm, progress=append_once)
    assert isinstance(info.value, RuntimeError) and info.value.path == path

    # Same size, rewritten in place: the modification time gives it away.
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))

    def rewrite_once(done, total):
        if done == 4096:
            with open(path, "r+b") as f:
                f.write(b"\x01")

    with pytest.raises(FileChangedError):
        hash_file(path, algorithm, progress=rewrite_once)
    # Through an open file object too.
    with open(path, "rb") as f:
        with pytest.raises(FileChangedError):
            hash_file(f, algorithm, progress=append_once)
    # Untouched, it hashes fine.
    with open(path, "rb") as f:
        assert hash_file(path, algorithm) == ref_digest(algorithm, f.read())


def test_file_changed_inside_tree(tmp_path, monkeypatch):
    monkeypatch.setattr(fp_file, "BUFFER_SIZE", 4096)
    write(tmp_path / "d" / "a.bin", bytes(10 * 4096))
    target = tmp_path / "d" / "a.bin"

    def append(done, total):
        if done >= 4096 and target.stat().st_size == 10 * 4096:
            with open(target, "ab") as f:
                f.write(b"x")

    with pytest.raises(FileChangedError, match="a.bin"):
        hash_tree(tmp_path / "d", progress=append)


# ------------------------------------------------------------------- trees
FILES = {
    "a.txt": b"alpha",
    "empty": b"",
    "sub/b.bin": bytes(range(256)) * 50,
    "sub/deeper/c.txt": b"gamma\n",
    "sub/deeper/\u00fcnicode \u6f22.txt": b"utf-8 name",
    "Z-upper.txt": b"sorts before lower-case by bytes",
    "with space/new\nline": b"odd names are fine",
}


def make_tree(root, files=FILES, order=None):
    for rel in order or files:
        write(os.path.join(root, *rel.split("/")), files[rel])
    return os.fspath(root)


def reference_tree_digest(root, algorithm="sha256"):
    """The tree digest exactly as hash_tree's docstring defines it (regular
    files only, no links)."""
    lines = []
    for dirpath, _, names in os.walk(os.fsencode(root)):
        for name in names:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, os.fsencode(root)).replace(os.sep.encode(), b"/")
            with open(full, "rb") as f:
                data = f.read()
            lines.append((rel, b"file %d %s %d:" % (len(data), ref_digest(algorithm, data)
                                                     .encode(), len(rel)) + rel + b"\n"))
    h = REFERENCE[algorithm]()
    h.update(f"fastmlops-tree-v1 {algorithm}\n".encode())
    for _, line in sorted(lines):
        h.update(line)
    return h.hexdigest()


@pytest.mark.parametrize("algorithm", ["sha256", "xxh3_128"])
def test_tree_matches_definition(tmp_path, algorithm):
    root = make_tree(tmp_path / "t")
    m = hash_tree(root, algorithm)
    assert m.digest == reference_tree_digest(root, algorithm)
    assert m.algorithm == algorithm and len(m) == len(FILES)
    assert m.paths == sorted(FILES, key=lambda p: p.encode())
    for rel, data in FILES.items():
        assert m[rel].size == len(data)
        assert m[rel].digest == ref_digest(algorithm, data)
        assert m[rel].kind == "file"
    assert m.total_size == sum(map(len, FILES.values()))


def test_tree_digest_ignores_order_mtime_and_location(tmp_path, monkeypatch):
    first = make_tree(tmp_path / "one")
    second = make_tree(tmp_path / "elsewhere" / "two", order=list(reversed(list(FILES))))
    for dirpath, _, names in os.walk(second):
        for name in names:
            os.utime(os.path.join(dirpath, name), ns=(123, 456))
    copy = shutil.copytree(first, tmp_path / "copy")
    digest = hash_tree(first).digest
    assert hash_tree(second).digest == digest
    assert hash_tree(copy).digest == digest
    monkeypatch.chdir(tmp_path)
    assert hash_tree("one").digest == digest
    monkeypatch.setenv("FASTMLOPS_NUM_THREADS", "1")
    assert hash_tree(first) == hash_tree(copy)


def test_tree_digest_changes(tmp_path):
    root = make_tree(tmp_path / "t")
    base = hash_tree(root)
    target = os.path.join(root, "sub", "b.bin")
    with open(target, "r+b") as f:  # flip one byte
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 1]))
    flipped = hash_tree(root)
    assert flipped.digest != base.digest
    assert base.diff(flipped).changed == ("sub/b.bin",)
    with open(target, "r+b") as f:
        f.seek(1000)
        f.write(byte)
    assert hash_tree(root).digest == base.digest
    os.rename(os.path.join(root, "a.txt"), os.path.join(root, "a2.txt"))
    renamed = hash_tree(root)
    assert renamed.digest != base.digest
    d = base.diff(renamed)
    assert (d.added, d.removed, d.changed) == (("a2.txt",), ("a.txt",), ())
    os.rename(os.path.join(root, "a2.txt"), os.path.join(root, "a.txt"))
    write(os.path.join(root, "sub", "new-empty"), b"")
    added = hash_tree(root)
    assert added.digest != base.digest
    assert base.diff(added).added == ("sub/new-empty",)
    assert not base.diff(added).identical and base.diff(base).identical
    os.mkdir(os.path.join(root, "empty-dir"))  # empty directories do not count
    os.remove(os.path.join(root, "sub", "new-empty"))
    assert hash_tree(root).digest == base.digest


def test_many_small_files_parallel(tmp_path):
    rng = np.random.default_rng(3)
    files = {f"d{i % 7}/f{i:03d}.bin": rng.bytes(int(rng.integers(0, 5000)))
             for i in range(300)}
    root = make_tree(tmp_path / "many", files)
    calls = []
    m = hash_tree(root, "xxh3_64", progress=lambda d, t: calls.append((d, t)))
    assert m.digest == reference_tree_digest(root, "xxh3_64")
    total = sum(map(len, files.values()))
    assert calls[-1] == (total, total)
    assert max(d for d, _ in calls) == total


def test_symlink_policy(tmp_path):
    root = make_tree(tmp_path / "t", {"real.txt": b"real", "dir/inner.txt": b"inner"})
    outside = write(tmp_path / "outside.txt", b"outside")
    os.symlink("real.txt", os.path.join(root, "link.txt"))
    os.symlink("dir", os.path.join(root, "dirlink"))
    os.symlink(outside, os.path.join(root, "out.txt"))
    # Not followed (default): recorded as links, by target string.
    m = hash_tree(root)
    assert m["link.txt"].kind == "symlink"
    assert m["link.txt"].size == len(b"real.txt")
    assert m["link.txt"].digest == hashlib.sha256(b"real.txt").hexdigest()
    assert m["dirlink"].kind == "symlink" and "dirlink/inner.txt" not in m
    # Retargeting a link changes the tree digest.
    os.remove(os.path.join(root, "link.txt"))
    os.symlink("dir/inner.txt", os.path.join(root, "link.txt"))
    assert hash_tree(root).diff(m).changed == ("link.txt",)
    # Followed: links are hashed as their targets, directories walked.
    f = hash_tree(root, follow_symlinks=True)
    assert f["link.txt"].kind == "file"
    assert f["link.txt"].digest == hashlib.sha256(b"inner").hexdigest()
    assert f["out.txt"].digest == hashlib.sha256(b"outside").hexdigest()
    assert f["dirlink/inner.txt"].digest == f["dir/inner.txt"].digest
    # A broken link is recorded when not following, an error naming it otherwise.
    os.symlink("missing-target", os.path.join(root, "broken"))
    assert hash_tree(root)["broken"].kind == "symlink"
    with pytest.raises(FileNotFoundError, match="broken.*missing-target") as info:
        hash_tree(root, follow_symlinks=True)
    assert info.value.errno == errno.ENOENT
    assert "broken" not in hash_tree(root, follow_symlinks=True, ignore=["broken"])


def test_symlink_loops(tmp_path):
    root = make_tree(tmp_path / "t", {"d/x.txt": b"x"})
    os.symlink("..", os.path.join(root, "d", "up"))
    assert hash_tree(root)["d/up"].kind == "symlink"
    with pytest.raises(OSError, match="loop.*up") as info:
        hash_tree(root, follow_symlinks=True)
    assert info.value.errno == errno.ELOOP
    os.remove(os.path.join(root, "d", "up"))
    os.symlink("self", os.path.join(root, "self"))  # a link to itself
    with pytest.raises(OSError, match="loop.*self"):
        hash_tree(root, follow_symlinks=True)


def test_ignore_patterns(tmp_path):
    root = make_tree(tmp_path / "t", {
        "keep.txt": b"1", "scratch.tmp": b"2", "sub/x.tmp": b"3", "sub/keep.py": b"4",
        "build/out.bin": b"5", "src/build/gen.py": b"6", "data/raw/a.csv": b"7",
        "data/clean/a.csv": b"8", "logs/today.log": b"9", "sub/logs": b"a file named logs",
        "__pycache__/m.pyc": b"b"})
    m = hash_tree(root, ignore=["*.tmp", "build", "data/raw/*", "logs/", "__pycache__"])
    assert m.paths == ["data/clean/a.csv", "keep.txt", "sub/keep.py", "sub/logs"]
    assert hash_tree(root, ignore="/data/raw/a.csv").paths.count("data/raw/a.csv") == 0
    assert len(hash_tree(root, ignore=())) == 11
    with pytest.raises(TypeError, match="ignore patterns"):
        hash_tree(root, ignore=[3])
    with pytest.raises(TypeError, match="ignore"):
        hash_tree(root, ignore=5)


def test_hidden_files(tmp_path):
    root = make_tree(tmp_path / ".hidden-root", {
        "a.txt": b"a", ".env": b"secret", ".git/HEAD": b"ref", "sub/.cache/x": b"x",
        "sub/y": b"y"})
    assert len(hash_tree(root)) == 5
    assert hash_tree(root, include_hidden=False).paths == ["a.txt", "sub/y"]


def test_special_files_and_unreadable(tmp_path):
    root = make_tree(tmp_path / "t", {"a.txt": b"a"})
    os.mkfifo(os.path.join(root, "pipe"))
    with pytest.raises(ValueError, match="not a regular file.*pipe.*ignore="):
        hash_tree(root)
    assert hash_tree(root, ignore=["pipe"]).paths == ["a.txt"]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads files whatever their mode")
def test_unreadable_file_is_named(tmp_path):
    root = make_tree(tmp_path / "t", {"a.txt": b"a", "locked.bin": b"x"})
    locked = os.path.join(root, "locked.bin")
    os.chmod(locked, 0)
    try:
        with pytest.raises(PermissionError, match="locked.bin"):
            hash_tree(root)
        with pytest.raises(PermissionError, match="locked.bin"):
            hash_file(locked)
    finally:
        os.chmod(locked, 0o644)


def test_permission_error_is_named(tmp_path, monkeypatch):
    # Works as root too: the open of one file is made to fail as EACCES would.
    root = make_tree(tmp_path / "t", {"a.txt": b"a", "locked.bin": b"x"})
    real_open = os.open

    def guarded_open(path, *args, **kwargs):
        if os.fsdecode(path).endswith("locked.bin"):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(fp_file.os, "open", guarded_open)
    with pytest.raises(PermissionError, match="permission denied.*locked.bin"):
        hash_tree(root)
    with pytest.raises(PermissionError, match="locked.bin"):
        hash_file(os.path.join(root, "locked.bin"))
    assert hash_tree(root, ignore=["locked.bin"]).paths == ["a.txt"]


def test_non_utf8_file_name(tmp_path):
    root = os.fsencode(tmp_path / "t")
    os.mkdir(root)
    with open(os.path.join(root, b"caf\xe9.bin"), "wb") as f:
        f.write(b"latin-1 name")
    m = hash_tree(root)
    assert m.digest == reference_tree_digest(root)
    assert Manifest.from_json(m.to_json()) == m


# ---------------------------------------------------------------- manifests
def test_manifest_json_round_trip(tmp_path):
    m = hash_tree(make_tree(tmp_path / "t"))
    again = Manifest.from_json(m.to_json())
    assert again == m and again.digest == m.digest
    data = json.loads(m.to_json())
    assert data["format"] == "fastmlops-manifest" and data["digest"] == m.digest
    assert data["files"][0] == {"path": m.entries[0].path, "size": m.entries[0].size,
                                "digest": m.entries[0].digest, "kind": "file"}
    m.save(tmp_path / "m.json")
    assert Manifest.load(tmp_path / "m.json") == m
    data["files"][0]["size"] += 1
    with pytest.raises(ValueError, match="corrupt or was edited"):
        Manifest.from_json(json.dumps(data))
    with pytest.raises(ValueError, match="not valid JSON"):
        Manifest.from_json("{nope")
    with pytest.raises(ValueError, match="not a fastmlops manifest"):
        Manifest.from_json('{"files": []}')
    with pytest.raises(ValueError, match="duplicate"):
        Manifest("sha256", [ManifestEntry("a", 1, "00"), ManifestEntry("a", 1, "00")])


def test_diff_needs_same_algorithm(tmp_path):
    root = make_tree(tmp_path / "t")
    with pytest.raises(ValueError, match="same algorithm"):
        hash_tree(root).diff(hash_tree(root, "md5"))
    with pytest.raises(TypeError, match="Manifest"):
        hash_tree(root).diff({})


# ------------------------------------------------------------ model version
ENV = {"python": "3.11.7", "packages": {"numpy": "2.0"}}


def version(**kw):
    args = dict(weights="sha256:" + "a" * 64, data="sha256:" + "b" * 64,
                hyperparameters={"lr": 0.01, "layers": [64, 32], "opt": {"name": "adam"}},
                seed=1, environment=ENV)
    args.update(kw)
    return ModelVersion.create(**args)


def test_canonical_hyperparameters():
    a = {"lr": 0.001, "epochs": 10, "nested": {"b": [1, 2.0, {"z": 3.0}], "a": None}}
    b = {"nested": {"a": None, "b": (1.0, 2, {"z": 3})}, "epochs": 10.0, "lr": 1e-3}
    assert canonical_json(a) == canonical_json(b)
    assert canonical_json(a) == \
        '{"epochs":10,"lr":0.001,"nested":{"a":null,"b":[1,2,{"z":3}]}}'
    assert canonical_json({"x": -0.0}) == canonical_json({"x": 0})
    assert canonical_json({"x": True}) != canonical_json({"x": 1})  # bool is not int
    assert canonical_json({"x": np.float64(2.0), "y": np.int32(3)}) == '{"x":2,"y":3}'
    assert version(hyperparameters=a).hyperparameters_digest == \
        version(hyperparameters=b).hyperparameters_digest
    assert version(hyperparameters=a).digest == version(hyperparameters=b).digest
    assert version(hyperparameters={"lr": 0.1}).hyperparameters_digest != \
        version(hyperparameters={"lr": 0.10000001}).hyperparameters_digest
    with pytest.raises(TypeError, match=r"hyper-parameter value\['s'\] is a set"):
        canonical_json({"s": {1, 2}})
    with pytest.raises(TypeError, match="keys must be str"):
        version(hyperparameters={1: "a"})
    with pytest.raises(TypeError, match="object"):
        version(hyperparameters={"f": object()})
    with pytest.raises(ValueError, match="NaN"):
        version(hyperparameters={"x": [float("nan")]})


def test_compare_each_field():
    base = version()
    same = version(hyperparameters={"opt": {"name": "adam"}, "layers": [64.0, 32],
                                    "lr": 0.01})
    result = base.compare(same)
    assert result.reproducible and result.differences == () and base == same
    assert "reproducible" in str(result)
    changes = {
        "weights": dict(weights="sha256:" + "c" * 64),
        "data": dict(data="sha256:" + "d" * 64),
        "hyperparameters": dict(hyperparameters={"lr": 0.02}),
        "environment": dict(environment={**ENV, "python": "3.12.0"}),
        "seed": dict(seed=2),
    }
    for name, change in changes.items():
        result = base.compare(version(**change))
        assert result.differences == (name,) and not result.reproducible, name
    result = base.compare(version(seed=3, data="md5:" + "e" * 32,
                                  environment={**ENV, "cuda": "12.1"}))
    assert result.differences == ("data", "environment", "seed")
    assert result.environment_differences == ("cuda",)
    assert "data, environment, seed" in str(result)
    with pytest.raises(TypeError, match="ModelVersion"):
        base.compare("v2")


def test_create_from_paths_and_manifests(tmp_path):
    weights = write(tmp_path / "w.bin", b"weights")
    data_dir = make_tree(tmp_path / "data")
    v = ModelVersion.create(weights=weights, data=data_dir, seed=0, environment=ENV)
    assert v.weights == "sha256:" + hashlib.sha256(b"weights").hexdigest()
    assert v.data == "sha256:" + hash_tree(data_dir).digest
    assert ModelVersion.create(weights=weights, data=hash_tree(data_dir, "md5"), seed=0,
                               environment=ENV).data.startswith("md5:")
    x = ModelVersion.create(weights=weights, data=data_dir, seed=0, environment=ENV,
                            algorithm="xxh3_128")
    assert x.weights == "xxh3_128:" + xxhash.xxh3_128(b"weights").hexdigest()
    bare = hash_file(weights)
    assert ModelVersion.create(weights=bare.upper(), data=data_dir, seed=0,
                               environment=ENV).weights == bare
    with pytest.raises(ValueError, match="neither an existing file.*digest"):
        ModelVersion.create(weights=tmp_path / "missing.bin", data=data_dir, seed=0)
    with pytest.raises(ValueError, match="neither"):
        ModelVersion.create(weights="model.pt", data=data_dir, seed=0)
    with pytest.raises(TypeError, match="seed must be an int"):
        ModelVersion.create(weights=weights, data=data_dir, seed=True)
    with pytest.raises(TypeError, match="seed must be an int"):
        ModelVersion.create(weights=weights, data=data_dir, seed=1.5)
    with pytest.raises(TypeError, match="weights must be"):
        ModelVersion.create(weights=123, data=data_dir, seed=0)


def test_version_json_round_trip(tmp_path):
    v = version()
    again = ModelVersion.from_json(v.to_json())
    assert again == v and again.digest == v.digest and hash(again) == hash(v)
    v.save(tmp_path / "v.json")
    assert ModelVersion.load(tmp_path / "v.json").compare(v).reproducible
    data = json.loads(v.to_json())
    data["seed"] = 99
    with pytest.raises(ValueError, match="corrupt or was edited"):
        ModelVersion.from_json(json.dumps(data))
    del data["seed"]
    with pytest.raises(ValueError, match="lacks the field 'seed'"):
        ModelVersion.from_json(json.dumps(data))
    with pytest.raises(ValueError, match="not a fastmlops model version"):
        ModelVersion.from_json("[]")


def test_capture_environment():
    had_torch = "torch" in sys.modules
    env = capture_environment(packages=["pytest", "surely-not-installed-pkg"])
    assert env["python"] == ".".join(map(str, sys.version_info[:3]))
    assert env["implementation"] == "CPython"
    assert env["packages"]["numpy"] == np.__version__
    assert env["packages"]["pytest"] == pytest.__version__
    assert env["packages"]["surely-not-installed-pkg"] is None
    assert isinstance(env["cpu"]["machine"], str)
    if os.path.exists("/proc/cpuinfo"):
        assert isinstance(env["cpu"]["flags"], list)
    assert ("torch" in sys.modules) == had_torch  # never imported unless asked
    json.dumps(env)  # JSON-able
    v = ModelVersion.create(weights="sha256:" + "a" * 64, data="sha256:" + "b" * 64,
                            seed=0, packages=["pytest"])
    assert v.environment["packages"]["pytest"] == pytest.__version__
    with pytest.raises(TypeError, match="distribution names"):
        capture_environment(packages=[3])


def test_top_level_names():
    for name in ["hash_file", "hash_tree", "Manifest", "ModelVersion"]:
        assert getattr(fastmlops, name) is getattr(fp, name)


# ---------------------------------------------------------------------- CLI
def run_cli(argv, capsys):
    parser = argparse.ArgumentParser(prog="fastmlops")
    add_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    status = args.func(args)
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_checksum_lines(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    make_tree("tree", {"x.txt": b"x", "sub/y.bin": b"yy", "odd\\name": b"z",
                       "new\nline": b"w"})
    write("single.bin", b"abc")
    os.symlink("x.txt", os.path.join("tree", "link"))
    status, out, err = run_cli(["fingerprint", "single.bin", "tree"], capsys)
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == KNOWN[1][2] + "  single.bin"
    assert f"{hashlib.sha256(b'yy').hexdigest()}  tree/sub/y.bin" in lines
    assert "\\" + hashlib.sha256(b"z").hexdigest() + "  tree/odd\\\\name" in lines
    assert len(lines) == 5 and "tree/link: symlink not followed" in err
    status, out2, _ = run_cli(["fingerprint", "tree/"], capsys)
    assert f"{hashlib.sha256(b'x').hexdigest()}  tree/x.txt" in out2.splitlines()
    if shutil.which("sha256sum"):
        write("sums.txt", out.encode())
        check = subprocess.run(["sha256sum", "--strict", "-c", "sums.txt"],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        with open("tree/x.txt", "wb") as f:
            f.write(b"changed")
        check = subprocess.run(["sha256sum", "-c", "sums.txt"], capture_output=True)
        assert check.returncode == 1  # the check can fail
    status, out, _ = run_cli(["fingerprint", "-a", "md5", "single.bin"], capsys)
    assert out == "900150983cd24fb0d6963f7d28e17f72  single.bin\n"


def test_cli_main_if_wired(tmp_path, monkeypatch, capsys):
    from fastmlops import cli

    try:
        cli.build_parser().parse_args(["fingerprint", "x"])
    except SystemExit:
        capsys.readouterr()
        pytest.skip("fingerprint is not wired into fastmlops.cli yet")
    monkeypatch.chdir(tmp_path)
    write("f.bin", b"abc")
    assert cli.main(["fingerprint", "f.bin"]) == 0
    assert capsys.readouterr().out == KNOWN[1][2] + "  f.bin\n"


def test_cli_json_progress_and_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    make_tree("tree", {"x.txt": b"x", ".hidden": b"h", "skip.tmp": b"s"})
    status, out, err = run_cli(["fingerprint", "tree", "--json", "--ignore", "*.tmp",
                                "--algorithm", "xxh3_128", "--progress"], capsys)
    assert status == 0
    m = Manifest.from_json(out)
    assert m == hash_tree("tree", "xxh3_128", ignore=["*.tmp"])
    # stderr is not a terminal here: no bar redrawn with carriage returns, and no
    # periodic line for work this short (see fastmlops._core.progress)
    assert "\r" not in err
    write("f.bin", b"f")
    status, out, err = run_cli(["fingerprint", "f.bin", "tree", "--json"], capsys)
    assert Manifest.from_json(out).paths == ["f.bin", "tree/.hidden", "tree/skip.tmp",
                                             "tree/x.txt"]
    status, out, err = run_cli(["fingerprint", "missing.bin", "f.bin"], capsys)
    assert status == 1
    assert "missing.bin" in err and out.endswith("  f.bin\n")
    with pytest.raises(SystemExit):
        run_cli(["fingerprint", "f.bin", "--algorithm", "crc32"], capsys)


# ------------------------------------------------- regressions from an audit
def test_binary_io_objects_whose_mode_lacks_b(tmp_path):
    # zipfile's ZipExtFile is an io.BufferedIOBase with mode "r": binary all the same.
    import zipfile

    zpath = tmp_path / "z.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr("member.bin", b"zipped bytes")
    with zipfile.ZipFile(zpath) as z, z.open("member.bin") as f:
        assert f.mode == "r"
        assert hash_file(f) == hashlib.sha256(b"zipped bytes").hexdigest()

    class TextModeNoReadinto:  # a non-io object claiming text mode is still refused
        mode = "r"

        def read(self, n):
            return b""

    with pytest.raises(TypeError, match="text mode"):
        hash_file(TextModeNoReadinto())


def test_bytesio_positioned_past_end_reports_zero_total():
    bio = io.BytesIO(b"abc")
    bio.seek(10)
    calls = []
    assert hash_file(bio, progress=lambda d, t: calls.append((d, t))) == \
        hashlib.sha256(b"").hexdigest()
    assert calls == [(0, 0)]


def test_canonical_json_longdouble_and_cycles():
    with pytest.raises(TypeError, match="longdouble"):
        canonical_json({"x": np.longdouble(1.5)})
    loop = {"a": 1}
    loop["self"] = loop
    with pytest.raises(ValueError, match="contains itself"):
        canonical_json(loop)
    items = [1]
    items.append(items)
    with pytest.raises(ValueError, match="circular"):
        canonical_json({"l": items})
    shared = [1, 2]  # the same object twice is not a cycle
    assert canonical_json({"a": shared, "b": shared}) == '{"a":[1,2],"b":[1,2]}'
    assert canonical_json({"x": np.float32(0.5), "y": np.array(2.0)}) == '{"x":0.5,"y":2}'


def test_version_equality_is_canonical_like_compare_and_hash():
    a = version(hyperparameters={"shuffle": True})
    b = version(hyperparameters={"shuffle": 1})
    assert not a.compare(b).reproducible
    assert a != b and a.digest != b.digest  # dataclass == said True (True == 1)
    c = version(hyperparameters={"shuffle": True})
    assert a == c and hash(a) == hash(c) and len({a, b, c}) == 2
    assert version(hyperparameters={"lr": 1}) == version(hyperparameters={"lr": 1.0})
    assert (a == "x") is False


def test_version_numpy_integer_seed():
    v = version(seed=np.int64(42))
    assert v.seed == 42 and type(v.seed) is int
    assert v == version(seed=42)
    assert ModelVersion.from_json(v.to_json()) == v
    with pytest.raises(TypeError, match="seed must be an int"):
        version(seed=np.float64(42.0))
    with pytest.raises(TypeError, match="seed must be an int"):
        version(seed=np.bool_(True))


def test_version_from_json_malformed_fields_are_value_errors():
    data = json.loads(version().to_json())
    for field_name, bad in [("hyperparameters", [1]), ("seed", "1"), ("weights", 5),
                            ("environment", None)]:
        broken = dict(data, **{field_name: bad})
        with pytest.raises(ValueError, match="malformed model version"):
            ModelVersion.from_json(json.dumps(broken))


def test_manifest_fields_are_checked_not_coerced():
    good = Manifest("sha256", [ManifestEntry("a", 3, "ab" * 32)]).to_dict()
    del good["digest"]  # without a stored digest nothing else would catch these
    for key, bad in [("size", 3.9), ("size", True), ("size", -1), ("size", "3"),
                     ("path", None), ("path", ""), ("path", "\ud800"),
                     ("digest", "\u00e9"), ("digest", "AB"), ("digest", 12),
                     ("kind", "weird")]:
        data = json.loads(json.dumps(good))
        data["files"][0][key] = bad
        with pytest.raises(ValueError, match="malformed manifest|manifest (size|path|"
                                             "digest|kind)"):
            Manifest.from_dict(data)
    # two spellings of the same bytes would make the tree digest ambiguous
    with pytest.raises(ValueError, match="surrogateescape"):
        ManifestEntry("\udcc3\udca9", 1, "00")
    assert ManifestEntry("x", np.int64(5), "00").size == 5
    assert Manifest.from_dict(json.loads(json.dumps(good)))["a"].size == 3


def test_deep_tree_does_not_hit_the_recursion_limit(tmp_path):
    depth = sys.getrecursionlimit() + 100
    path = os.fspath(tmp_path / "deep")
    os.mkdir(path)
    for _ in range(depth):
        path = os.path.join(path, "d")
        os.mkdir(path)
    try:
        write(os.path.join(path, "leaf.txt"), b"leaf")
        m = hash_tree(tmp_path / "deep")
        assert m.paths == ["d/" * depth + "leaf.txt"]
        os.symlink("../../..", os.path.join(path, "up"))  # loops are still found
        with pytest.raises(OSError, match="loop.*up") as info:
            hash_tree(tmp_path / "deep", follow_symlinks=True)
        assert info.value.errno == errno.ELOOP
    finally:  # shutil.rmtree (pytest's clean-up) recurses and would fail on it
        for name in ("leaf.txt", "up"):
            if os.path.lexists(os.path.join(path, name)):
                os.remove(os.path.join(path, name))
        while path != os.fspath(tmp_path):
            os.rmdir(path)
            path = os.path.dirname(path)


def test_tree_progress_first_call_and_empty_tree(tmp_path):
    os.mkdir(tmp_path / "empty")
    calls = []
    assert len(hash_tree(tmp_path / "empty", progress=lambda d, t: calls.append((d, t)))) == 0
    assert calls == [(0, 0)]  # a progress bar learns it is done
    root = make_tree(tmp_path / "t", {"a": b"x" * 10, "b/c": b"y" * 5})
    calls = []
    hash_tree(root, progress=lambda d, t: calls.append((d, t)))
    assert calls[0] == (0, 15) and calls[-1] == (15, 15)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_tree_names_are_not_unicode_normalised(tmp_path):
    nfc, nfd = "caf\u00e9.txt", "cafe\u0301.txt"
    one = make_tree(tmp_path / "one", {nfc: b"same"})
    two = make_tree(tmp_path / "two", {nfd: b"same"})
    assert hash_tree(one).digest != hash_tree(two).digest
    d = hash_tree(one).diff(hash_tree(two))
    assert (d.added, d.removed) == ((nfd,), (nfc,))
    both = make_tree(tmp_path / "both", {nfc: b"1", nfd: b"2"})
    assert len(hash_tree(both)) == 2


def test_ignore_star_matches_slash_as_documented(tmp_path):
    root = make_tree(tmp_path / "t", {"data/x.csv": b"1", "data/old/y.csv": b"2",
                                      "data/keep.txt": b"3"})
    assert hash_tree(root, ignore=["data/*.csv"]).paths == ["data/keep.txt"]


def run_cli_to(argv, stdout, stderr):
    parser = argparse.ArgumentParser(prog="fastmlops")
    add_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    args.stdout, args.stderr = stdout, stderr
    return args.func(args)


def test_cli_non_utf8_name_on_strict_stdout(tmp_path):
    root = os.fsencode(tmp_path / "t")
    os.mkdir(root)
    with open(os.path.join(root, b"caf\xe9.bin"), "wb") as f:
        f.write(b"latin-1 name")
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    assert run_cli_to(["fingerprint", os.fsdecode(root)], out, err) == 0
    out.flush()
    line = out.buffer.getvalue()
    assert line == (hashlib.sha256(b"latin-1 name").hexdigest().encode() + b"  "
                    + root + b"/caf\xe9.bin\n")  # the raw name, as sha256sum writes it
    missing = os.fsdecode(root + b"/gon\xe9.bin")
    assert run_cli_to(["fingerprint", missing], out, err) == 1
    os.symlink(b"caf\xe9.bin", os.path.join(root, b"l\xefnk"))
    assert run_cli_to(["fingerprint", os.fsdecode(root)], out, err) == 0
    err.flush()
    assert b"gon\\udce9.bin" in err.buffer.getvalue()  # repr() in the OSError
    assert root + b"/l\xefnk: symlink not followed" in err.buffer.getvalue()

    class StrictNoBuffer(io.StringIO):  # no binary buffer: shown escaped instead
        def write(self, text):
            text.encode("utf-8")
            return super().write(text)

    stream = StrictNoBuffer()
    fp_cli._write(stream, "x \udce9\n")
    assert stream.getvalue() == "x \\xe9\n"


def test_cli_json_lists_a_file_named_twice_once(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    make_tree("tree", {"x.txt": b"x"})
    status, out, err = run_cli(["fingerprint", "tree/x.txt", "tree/x.txt", "tree", "--json"],
                               capsys)
    assert status == 0, err
    assert Manifest.from_json(out).paths == ["tree/x.txt"]


# ----------------------------------------------------- kernel pseudo-files
def _proc_available():
    return sys.platform.startswith("linux") and os.path.exists("/proc/self/mountinfo")


@pytest.mark.skipif(not _proc_available(), reason="Linux /proc only")
@pytest.mark.parametrize("algorithm", ["sha256", "xxh3_128"])
def test_proc_files_are_read_to_end_of_file_like_sha256sum(algorithm):
    # /proc/version: st_size 0, stable content.
    assert os.stat("/proc/version").st_size == 0
    with open("/proc/version", "rb") as f:
        expected = ref_digest(algorithm, f.read())
    assert hash_file("/proc/version", algorithm) == expected
    with open("/proc/version", "rb") as f:  # an open file object too
        assert hash_file(f, algorithm) == expected
        assert f.read() == b""
    seen = []
    assert hash_file("/proc/version", algorithm,
                     progress=lambda d, t: seen.append((d, t))) == expected
    assert seen[0] == (0, None) and seen[-1][1] is None and seen[-1][0] > 0


@pytest.mark.skipif(not _proc_available(), reason="Linux /proc only")
def test_proc_cmdline_of_a_subprocess_hashes_like_hashlib():
    marker = "fastmlops-proc-test-" + "x" * 300
    code = "import sys; sys.stdin.read()"
    with subprocess.Popen([sys.executable, "-c", code, marker], stdin=subprocess.PIPE) as proc:
        try:
            path = f"/proc/{proc.pid}/cmdline"
            expected = b"\0".join(os.fsencode(a) for a in
                                  (sys.executable, "-c", code, marker)) + b"\0"
            for _ in range(200):  # until the child has exec'd the interpreter
                with open(path, "rb") as f:
                    if f.read() == expected:
                        break
                import time
                time.sleep(0.02)
            assert os.stat(path).st_size == 0
            assert hash_file(path) == hashlib.sha256(expected).hexdigest()
            assert hash_file(path, "md5") == hashlib.md5(expected).hexdigest()
        finally:
            proc.stdin.close()
            proc.wait(timeout=30)


@pytest.mark.skipif(not _proc_available(), reason="Linux /proc only")
def test_sysfs_file_with_size_4096_and_cli_on_proc_files(tmp_path, capsys):
    sysfile = "/sys/devices/system/cpu/online"
    if os.path.exists(sysfile):
        with open(sysfile, "rb") as f:
            data = f.read()
        assert os.stat(sysfile).st_size != len(data)  # sysfs says 4096
        assert hash_file(sysfile) == hashlib.sha256(data).hexdigest()
    with open("/proc/version", "rb") as f:
        expected = hashlib.sha256(f.read()).hexdigest()
    args = argparse.Namespace(paths=["/proc/version"], algorithm="sha256", json=False,
                              progress=False, ignore=None, follow_symlinks=False)
    assert fp_cli.cmd_fingerprint(args) == 0
    assert capsys.readouterr().out == f"{expected}  /proc/version\n"


def test_regular_files_keep_the_strict_size_check(tmp_path, monkeypatch):
    # A regular file whose reads disagree with its st_size is still refused
    # (only kernel pseudo file systems are exempt).
    path = write(tmp_path / "f.bin", b"abcdef")
    real_read = fp_file._readinto_fd

    def short_read(fd, buf):  # as if the file were shorter than st_size says
        n = real_read(fd, buf)
        return max(0, n - 1)

    monkeypatch.setattr(fp_file, "_readinto_fd", short_read)
    with pytest.raises(FileChangedError, match="f.bin"):
        hash_file(path)
    monkeypatch.setattr(fp_file, "_readinto_fd", real_read)
    assert not fp_file._pseudo_file(os.stat(path))
    if _proc_available():
        assert fp_file._pseudo_file(os.stat("/proc/version"))


# ---------------------------------------------------------- Ctrl-C, promptly
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_during_parallel_fingerprint_stops_within_a_buffer(tmp_path):
    import signal
    import time

    # Two sparse 16 GiB files (no disk space, read at memory speed): at the
    # ~0.5-2 GB/s of sha256, each takes 8 s or more to hash, so a worker that
    # finishes its file before stopping is far outside the bound below.
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("a.bin", "b.bin"):
        with open(tree / name, "wb") as f:
            f.truncate(16 << 30)
        if os.stat(tree / name).st_blocks * 512 > 1 << 20:
            pytest.skip("the temporary directory's file system has no sparse files")
    env = dict(os.environ, FASTMLOPS_NUM_THREADS="2", PYTHONUNBUFFERED="1")
    with subprocess.Popen([sys.executable, "-m", "fastmlops", "fingerprint", str(tree),
                           "--progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env) as proc:
        try:
            # stderr is a pipe, so the progress bar draws no line at the start
            # (plain lines every 5 s): give the workers time to be well inside
            # their 16 GiB files (8 s or more each)
            time.sleep(2.0)
            assert proc.poll() is None
            t0 = time.monotonic()
            proc.send_signal(signal.SIGINT)
            status = proc.wait(timeout=60)
            elapsed = time.monotonic() - t0
            out, err = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert status == 130
    assert elapsed < 2.5, f"took {elapsed:.1f} s to stop after Ctrl-C"
    assert out == b"" and b"Traceback" not in err and b"KeyboardInterrupt" not in err


def test_a_failing_file_stops_the_other_workers_promptly(tmp_path, monkeypatch):
    # The same cancellation when a worker fails: the others stop at their next
    # buffer instead of finishing their file.
    monkeypatch.setenv("FASTMLOPS_NUM_THREADS", "2")
    monkeypatch.setattr(fp_file, "BUFFER_SIZE", 4096)
    write(tmp_path / "d" / "big.bin", bytes(4096 * 2000))
    write(tmp_path / "d" / "small.bin", bytes(4096 * 1000))
    reads = []
    real_read = fp_file._readinto_fd

    def reader(fd, buf):
        reads.append(fd)
        if len(reads) == 50:
            raise OSError(errno.EIO, "I/O error")
        return real_read(fd, buf)

    monkeypatch.setattr(fp_file, "_readinto_fd", reader)
    with pytest.raises(OSError, match="I/O error"):
        hash_tree(tmp_path / "d")
    assert len(reads) < 500  # not the 3000 reads of both whole files


# ------------------------------------------------------- issue #17 (fuzzing)
@pytest.mark.parametrize("depth", [10_000, 200_000])
@pytest.mark.parametrize("opener, closer", [("[", "]"), ('{"a":', "}")])
def test_deeply_nested_json_is_not_a_manifest_or_version(depth, opener, closer):
    # item 10: RecursionError instead of the ValueError other bad input gets
    text = opener * depth + "1" + closer * depth
    with pytest.raises(ValueError, match="not a fastmlops manifest"):
        Manifest.from_json(text)
    with pytest.raises(ValueError, match="not a fastmlops model version"):
        ModelVersion.from_json(text.encode())


def test_deeply_nested_hyperparameters_are_value_errors():
    data = json.loads(version().to_json())
    del data["digest"]
    data["hyperparameters"] = {"x": json.loads("[" * 900 + "]" * 900)}
    with pytest.raises(ValueError, match="nested too deeply"):
        ModelVersion.from_json(json.dumps(data))
    nested: list = []
    for _ in range(5000):
        nested = [nested]
    with pytest.raises(ValueError, match="nested too deeply"):
        fp.canonical_json(nested)


@pytest.mark.parametrize("raw", [b"\xff{", b"\xc3(", b"\xff\xfe{", "9" * 5000])
def test_undecodable_json_is_a_value_error(raw):
    for cls in (Manifest, ModelVersion):
        with pytest.raises(ValueError) as info:
            cls.from_json(raw)
        assert type(info.value) is ValueError
        assert "manifest" in str(info.value) or "model version" in str(info.value)


# ------------------------------------------------------- issue #11: drift reference
_KNOWN = dict(weights="sha256:" + "0" * 64, data="md5:" + "1" * 32,
              hyperparameters={"lr": 0.1, "epochs": 10}, environment={"python": "3.11"}, seed=7)
# computed before ModelVersion had drift_reference (commit c6872bc)
_KNOWN_DIGEST = "ca78e62c17d3e53eb339131018161e1236a0487b9730f2b10d4dec12d141a13b"
_KNOWN_JSON = (
    '{"data": "md5:11111111111111111111111111111111", "digest": "' + _KNOWN_DIGEST + '", '
    '"environment": {"python": "3.11"}, "format": "fastmlops-model-version", '
    '"hyperparameters": {"epochs": 10, "lr": 0.1}, "seed": 7, "version": 1, '
    '"weights": "sha256:' + "0" * 64 + '"}')


def test_version_without_drift_reference_is_byte_identical_to_before():
    v = ModelVersion(**_KNOWN)
    assert v.digest == _KNOWN_DIGEST
    assert v.to_json(indent=None) == _KNOWN_JSON
    assert v.drift_reference is None and "drift_reference" not in v.to_dict()
    assert ModelVersion.from_json(_KNOWN_JSON) == v


def test_version_with_drift_reference():
    ref = "sha256:" + "ab" * 32
    v = ModelVersion(**_KNOWN)
    w = ModelVersion(**_KNOWN, drift_reference=ref)
    assert w.drift_reference == ref
    assert w.digest != v.digest and w != v and hash(w) != hash(v)
    assert w.digest == hashlib.sha256(fp.canonical_json(dict(
        _KNOWN, drift_reference=ref)).encode()).hexdigest()
    assert w.compare(v).differences == ("drift_reference",)
    assert v.compare(w).differences == ("drift_reference",)
    other = ModelVersion(**_KNOWN, drift_reference="sha256:" + "cd" * 32)
    assert w.compare(other).differences == ("drift_reference",)
    assert w.compare(ModelVersion(**dict(_KNOWN, seed=8), drift_reference=ref)).differences \
        == ("seed",)
    again = ModelVersion.from_json(w.to_json())
    assert again == w and again.digest == w.digest
    assert json.loads(w.to_json())["drift_reference"] == ref
    data = json.loads(w.to_json())
    data["drift_reference"] = "sha256:" + "cd" * 32
    with pytest.raises(ValueError, match="corrupt or was edited"):
        ModelVersion.from_json(json.dumps(data))
    assert ModelVersion(**_KNOWN, drift_reference=ref.upper()) == w  # case-insensitive hex


def test_version_create_takes_a_drift_reference_object(tmp_path):
    rng = np.random.default_rng(0)
    ref = fastmlops.DriftReference(rng.normal(size=(200, 2)))
    kwargs = dict(weights=_KNOWN["weights"], data=_KNOWN["data"], seed=1, environment={})
    v = ModelVersion.create(**kwargs, drift_reference=ref)
    assert v.drift_reference == ref.digest
    saved = ref.save(tmp_path / "ref.fmr")
    assert ModelVersion.create(**kwargs, drift_reference=saved) == v
    loaded = fastmlops.DriftReference.load(tmp_path / "ref.fmr",
                                           expected_digest=v.drift_reference)
    assert ModelVersion.create(**kwargs, drift_reference=loaded) == v
    assert ModelVersion.create(**kwargs).drift_reference is None


@pytest.mark.parametrize("bad, error", [(5, TypeError), (b"sha256:00", TypeError),
                                        (object(), TypeError), ("", ValueError),
                                        ("sha256:xyz", ValueError), ("0" * 64, ValueError),
                                        ("nope:" + "0" * 64, ValueError)])
def test_version_refuses_bad_drift_references(bad, error):
    with pytest.raises(error, match="drift_reference"):
        ModelVersion.create(weights=_KNOWN["weights"], data=_KNOWN["data"], seed=1,
                            environment={}, drift_reference=bad)
    with pytest.raises(error, match="drift_reference"):
        ModelVersion(**_KNOWN, drift_reference=bad)
