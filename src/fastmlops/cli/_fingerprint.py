"""``fastmlops fingerprint PATH...``: ``sha256sum``-style digests of files and
directory trees, and ``fastmlops fingerprint --check MANIFEST [DIR]``: verify
files against a saved manifest, as ``sha256sum -c`` does.

Without ``--check``: one ``<hex>  <path>`` line per file (every file inside a
directory), which ``sha256sum -c`` / ``md5sum -c`` accept, or with ``--json``
one manifest (for a single directory the :func:`fastmlops.hash_tree`
manifest, else a manifest of the printed paths).  Exit status 1 if any path
failed, as ``sha256sum``.

With ``--check``: MANIFEST is either the JSON manifest of ``fastmlops
fingerprint --json`` (or :meth:`fastmlops.Manifest.save`) or checksum lines
(``<hex>  <path>``, the output of ``fastmlops fingerprint`` or
``sha256sum``).  Paths are relative to DIR (default: the current directory).
With a JSON manifest and DIR, the whole tree is hashed again, so files added
since are reported too.  One line per file on stdout (``path: OK``,
``path: FAILED``, ``path: MISSING``, ``path: NEW``); a summary on stderr when
anything differs.  Exit status 0 when everything matches, 1 on any
difference, 2 when the manifest cannot be read.

The digests come from the public API of :mod:`fastmlops.fingerprint`, looked
up on that module at every call.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from typing import TYPE_CHECKING, Callable, TextIO

from fastmlops import fingerprint as fp
from fastmlops._core.progress import ProgressBar

if TYPE_CHECKING:
    from fastmlops.cli._common import SubParsers

#: A progress callback ``progress(bytes_done, bytes_total)``.
Progress = Callable[[int, "int | None"], object]


class ManifestError(ValueError):
    """The manifest cannot be read or parsed (exit status 2)."""


def _algorithm(name: object) -> str:
    """The algorithm, checked as the library checks it (a handler called with
    a Namespace argparse did not build gets the library's message)."""
    if not isinstance(name, str) or name.lower() not in fp.ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; use one of {', '.join(fp.ALGORITHMS)}")
    return name.lower()


# ------------------------------------------------------------ checksum lines
def _checksum_line(digest: str, path: str) -> str:
    """A ``sha256sum``-style line, escaped the way GNU coreutils does: a name with
    a backslash or newline gets a leading ``\\`` on the line and those two
    characters written as ``\\\\`` and ``\\n``."""
    if "\\" in path or "\n" in path:
        path = path.replace("\\", "\\\\").replace("\n", "\\n")
        return f"\\{digest}  {path}"
    return f"{digest}  {path}"


def _unescape(path: str) -> str:
    out, i = [], 0
    while i < len(path):
        ch = path[i]
        if ch == "\\" and i + 1 < len(path):
            out.append({"n": "\n", "\\": "\\"}.get(path[i + 1], "\\" + path[i + 1]))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def parse_checksum_lines(text: str, source: str) -> list[tuple[str, str]]:
    """``(digest, path)`` pairs of ``sha256sum``-style lines (GNU escapes
    understood; ``*`` binary markers accepted)."""
    pairs = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        escaped = line.startswith("\\")
        body = line[1:] if escaped else line
        digest, sep, path = body.partition(" ")
        if not sep or not path or not digest or not set(digest.lower()) <= set("0123456789abcdef"):
            raise ManifestError(f"{source}, line {number}: not a checksum line "
                                f"(expected '<hex digest>  <path>'): {line[:80]!r}")
        if path[:1] in (" ", "*"):
            path = path[1:]
        pairs.append((digest.lower(), _unescape(path) if escaped else path))
    if not pairs:
        raise ManifestError(f"{source}: no checksum lines found")
    return pairs


def _write(stream: TextIO, text: str) -> None:
    """Write ``text``; a file name that is not valid in the stream's encoding
    (e.g. non-UTF-8 bytes, held as surrogates) is written as its raw bytes
    when the stream has a binary ``buffer``, as ``sha256sum`` does, else with
    the undecodable bytes shown as ``\\xNN``."""
    try:
        stream.write(text)
        return
    except UnicodeEncodeError:
        pass
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        stream.flush()
        buffer.write(text.encode(getattr(stream, "encoding", None) or "utf-8",
                                 "surrogateescape"))
        buffer.flush()
    else:
        stream.write(text.encode("utf-8", "surrogateescape")
                     .decode("ascii", "backslashreplace"))


# --------------------------------------------------------------- digests
def _hash_one(path: str, algorithm: str, bar: Progress | None) -> fp.ManifestEntry:
    """The entry of one file: its digest and the number of bytes hashed (what
    ``hash_file`` reports last to its progress callback; for a file of /proc
    or /sys that is not its st_size)."""
    read = [0]

    def progress(done: int, total: int | None) -> None:
        read[0] = done
        if bar is not None:
            bar(done, total)

    digest = fp.hash_file(path, algorithm, progress=progress)
    return fp.ManifestEntry(path, read[0], digest)


def cmd_fingerprint(args: argparse.Namespace) -> int:
    """Handler of ``fastmlops fingerprint``; returns the exit status (1 if any
    path failed, as ``sha256sum`` does)."""
    algorithm = _algorithm(args.algorithm)
    out = getattr(args, "stdout", None) or sys.stdout
    err = getattr(args, "stderr", None) or sys.stderr
    if getattr(args, "check", None) is not None:
        return run_check(args, algorithm, out, err)
    status = 0
    single_tree: fp.Manifest | None = None
    entries: list[fp.ManifestEntry] = []
    for raw in args.paths:
        bar = ProgressBar(raw, err) if args.progress else None
        try:
            if os.path.isdir(raw):
                manifest = fp.hash_tree(raw, algorithm, ignore=args.ignore or (),
                                        follow_symlinks=args.follow_symlinks, progress=bar)
                if len(args.paths) == 1:
                    single_tree = manifest
                prefix = raw if raw.endswith("/") else raw + "/"
                for e in manifest:
                    entries.append(fp.ManifestEntry(prefix + e.path, e.size, e.digest, e.kind))
            else:
                entries.append(_hash_one(raw, algorithm, bar))
        except (OSError, fp.FileChangedError, ValueError) as exc:
            if bar is not None:
                bar.close()
            _write(err, f"fastmlops fingerprint: error: {exc}\n")
            status = 1
            continue
        if bar is not None:
            bar.close()
        if not args.json:
            for e in entries:
                if e.kind == "symlink":
                    _write(err, f"fastmlops fingerprint: {e.path}: symlink not followed "
                                "(use --follow-symlinks to hash its target)\n")
                else:
                    _write(out, _checksum_line(e.digest, e.path) + "\n")
            entries.clear()
    if args.json:
        if single_tree is not None:
            manifest = single_tree
        else:  # a file named twice (or also inside a named directory) is listed once
            unique: dict[str, fp.ManifestEntry] = {}
            for e in entries:
                if unique.setdefault(e.path, e) != e:
                    _write(err, f"fastmlops fingerprint: error: {e.path}: changed "
                                "between two reads\n")
                    status = 1
            manifest = fp.Manifest(algorithm, unique.values())
        if status:  # never a manifest that looks complete when a path failed
            _write(err, "fastmlops fingerprint: error: no manifest written, "
                        "since not every path could be hashed\n")
        else:
            out.write(manifest.to_json() + "\n")
    out.flush()
    return status


# ------------------------------------------------------------------ --check
def _read_manifest(path: str) -> fp.Manifest | list[tuple[str, str]]:
    """The manifest at ``path``: a :class:`Manifest` for JSON, else the
    ``(digest, path)`` pairs of its checksum lines."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    except OSError as exc:
        raise ManifestError(f"cannot read the manifest {path}: "
                            f"{exc.strerror or exc}") from None
    if text.lstrip().startswith("{"):
        try:
            return fp.Manifest.from_json(text)
        except (ValueError, TypeError) as exc:
            raise ManifestError(f"{path}: {exc}") from None
    return parse_checksum_lines(text, path)


def _digest_of(path: str, algorithm: str) -> tuple[str, int, str]:
    """(digest, size, kind) of a path as a manifest records it (symlinks not
    followed: the digest of the link's target string, as ``hash_tree``)."""
    if os.path.islink(path):
        target = os.fsencode(os.readlink(path))
        return fp.hash_file(io.BytesIO(target), algorithm), len(target), "symlink"
    digest = fp.hash_file(path, algorithm)
    return digest, os.path.getsize(path), "file"


def check(manifest_path: str, root: str | None, algorithm: str, out: TextIO, err: TextIO, *,
          ignore: tuple[str, ...] = (), follow_symlinks: bool = False,
          quiet: bool = False, progress: Progress | None = None) -> int:
    """Verify; returns the exit status (0 all match, 1 any difference)."""
    manifest = _read_manifest(manifest_path)
    base = root if root is not None else "."
    if root is not None and not os.path.isdir(root):
        raise ManifestError(f"{root}: not a directory")
    results: list[tuple[str, str]] = []  # (path, status)
    problems: dict[str, int] = {"FAILED": 0, "MISSING": 0, "NEW": 0}
    if isinstance(manifest, fp.Manifest) and root is not None:
        current = fp.hash_tree(root, manifest.algorithm, ignore=ignore,
                               follow_symlinks=follow_symlinks, progress=progress)
        diff = manifest.diff(current)
        changed, removed = set(diff.changed), set(diff.removed)
        for e in manifest:
            results.append((e.path, "FAILED" if e.path in changed
                            else "MISSING" if e.path in removed else "OK"))
        results += [(p, "NEW") for p in diff.added]
    else:
        expected: list[tuple[str, str, int | None, str | None]]
        if isinstance(manifest, fp.Manifest):
            algorithm = manifest.algorithm
            expected = [(e.digest, e.path, e.size, e.kind) for e in manifest]
        else:
            expected = [(d, p, None, None) for d, p in manifest]
        for digest, rel, size, kind in expected:
            path = os.path.join(base, rel)
            try:
                got, got_size, got_kind = _digest_of(path, algorithm)
            except FileNotFoundError:
                results.append((rel, "MISSING"))
                continue
            except (OSError, ValueError) as exc:
                _write(err, f"fastmlops fingerprint: error: {rel}: "
                            f"{getattr(exc, 'strerror', None) or exc}\n")
                results.append((rel, "FAILED"))
                continue
            same = got == digest and (size is None or size == got_size) \
                and (kind is None or kind == got_kind)
            results.append((rel, "OK" if same else "FAILED"))
    for rel, status in results:
        if status != "OK":
            problems[status] += 1
        if status != "OK" or not quiet:
            _write(out, f"{rel}: {status}\n")
    out.flush()
    n_bad = sum(problems.values())
    if n_bad:
        detail = ", ".join(f"{n} {word}" for word, n in
                           (("changed", problems["FAILED"]), ("missing", problems["MISSING"]),
                            ("new", problems["NEW"])) if n)
        _write(err, f"fastmlops fingerprint: error: {n_bad} of {len(results)} files "
                    f"differ from {manifest_path} ({detail})\n")
        return 1
    return 0


def run_check(args: argparse.Namespace, algorithm: str, out: TextIO, err: TextIO) -> int:
    """Handler of ``fastmlops fingerprint --check`` (arguments checked by the CLI)."""
    root = args.paths[0] if args.paths else None
    bar = ProgressBar(root or args.check, err) if args.progress else None
    try:
        return check(args.check, root, algorithm, out, err, ignore=tuple(args.ignore or ()),
                     follow_symlinks=args.follow_symlinks, quiet=args.quiet, progress=bar)
    finally:
        if bar is not None:
            bar.close()


# ---------------------------------------------------------------- arguments
def _check_arguments(args: argparse.Namespace) -> None:
    """Checks argparse cannot express; a failure exits 2 with the usage."""
    if args.check is None and not args.paths:
        args.subparser.error("the following arguments are required: PATH "
                             "(or --check MANIFEST)")
    if args.check is not None and len(args.paths) > 1:
        args.subparser.error("--check takes at most one PATH: the directory the "
                             "manifest's paths are relative to")
    if args.check is not None and args.json:
        args.subparser.error("--check and --json do not go together")
    if args.quiet and args.check is None:
        args.subparser.error("--quiet goes with --check")


def add_cli(subparsers: SubParsers) -> argparse.ArgumentParser:
    """Register ``fingerprint`` on an ``argparse`` subparsers object.

    ``fastmlops fingerprint PATH... [--algorithm sha256] [--json] [--progress]
    [--ignore PATTERN]... [--follow-symlinks]`` prints ``<hex>  <path>`` per file
    (every file inside a directory), which ``sha256sum -c`` / ``md5sum -c``
    accept, or with ``--json`` one manifest (for a single directory the
    :func:`~fastmlops.hash_tree` manifest, else a manifest of the printed paths).
    The handler is :func:`cmd_fingerprint`, set as ``func``; the checks of
    argument combinations argparse cannot express are ``check_arguments``
    (run by :func:`fastmlops.cli.main`).
    """
    parser = subparsers.add_parser(
        "fingerprint", help="sha256sum-style digests of files and directory trees",
        description="Digest files and directories (in parallel); the text output is "
                    "accepted by sha256sum -c.")
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="files or directories (with --check: the directory the "
                             "manifest's paths are relative to, default: .)")
    parser.add_argument("--check", "-c", metavar="MANIFEST", default=None,
                        help="verify against MANIFEST (a --json manifest or checksum lines) "
                             "instead of printing digests; exit status 1 on any difference")
    parser.add_argument("--quiet", action="store_true",
                        help="with --check: print only the files that differ")
    parser.add_argument("--algorithm", "-a", default="sha256", choices=fp.ALGORITHMS,
                        help="digest algorithm (default: sha256)")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON manifest instead of checksum lines")
    parser.add_argument("--progress", action="store_true",
                        help="show progress on stderr (a bar on a terminal, a line "
                             "every few seconds otherwise)")
    parser.add_argument("--ignore", action="append", metavar="PATTERN",
                        help="fnmatch pattern to leave out inside directories (repeatable)")
    parser.add_argument("--follow-symlinks", action="store_true",
                        help="hash the targets of symlinks inside directories")
    parser.set_defaults(func=cmd_fingerprint, subparser=parser,
                        check_arguments=_check_arguments)
    return parser
