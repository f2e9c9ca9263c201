"""``fastmlops fingerprint --check MANIFEST [DIR]``: verify files against a
saved manifest, as ``sha256sum -c`` does.

MANIFEST is either the JSON manifest of ``fastmlops fingerprint --json`` (or
:meth:`fastmlops.Manifest.save`) or checksum lines (``<hex>  <path>``, the
output of ``fastmlops fingerprint`` or ``sha256sum``).  Paths are relative to
DIR (default: the current directory).  With a JSON manifest and DIR, the whole
tree is hashed again, so files added since are reported too.

One line per file on stdout (``path: OK``, ``path: FAILED``, ``path: MISSING``,
``path: NEW``); a summary on stderr when anything differs.  Exit status 0 when
everything matches, 1 on any difference, 2 when the manifest cannot be read.
"""

from __future__ import annotations

import os
from typing import Any

from fastmlops import fingerprint as fp


class ManifestError(ValueError):
    """The manifest cannot be read or parsed (exit status 2)."""


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


def _read_manifest(path: str) -> tuple[Any, list[tuple[str, str]] | None]:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    except OSError as exc:
        raise ManifestError(f"cannot read the manifest {path}: "
                            f"{exc.strerror or exc}") from None
    if text.lstrip().startswith("{"):
        try:
            return fp.Manifest.from_json(text), None
        except (ValueError, TypeError) as exc:
            raise ManifestError(f"{path}: {exc}") from None
    return None, parse_checksum_lines(text, path)


def _digest_of(path: str, algorithm: str) -> tuple[str, int, str]:
    """(digest, size, kind) of a path as a manifest records it (symlinks not followed)."""
    if os.path.islink(path):
        target = os.fsencode(os.readlink(path))
        hasher = fp._CONSTRUCTORS[algorithm]()
        hasher.update(target)
        return hasher.hexdigest(), len(target), "symlink"
    digest = fp.hash_file(path, algorithm)
    return digest, os.path.getsize(path), "file"


def check(manifest_path: str, root: str | None, algorithm: str, out: Any, err: Any, *,
          ignore: tuple[str, ...] = (), follow_symlinks: bool = False,
          quiet: bool = False, progress: Any = None) -> int:
    """Verify; returns the exit status (0 all match, 1 any difference)."""
    manifest, pairs = _read_manifest(manifest_path)
    base = root if root is not None else "."
    if root is not None and not os.path.isdir(root):
        raise ManifestError(f"{root}: not a directory")
    results: list[tuple[str, str]] = []  # (path, status)
    problems: dict[str, int] = {"FAILED": 0, "MISSING": 0, "NEW": 0}
    if manifest is not None and root is not None:
        current = fp.hash_tree(root, manifest.algorithm, ignore=ignore,
                               follow_symlinks=follow_symlinks, progress=progress)
        diff = manifest.diff(current)
        changed, removed = set(diff.changed), set(diff.removed)
        for e in manifest:
            results.append((e.path, "FAILED" if e.path in changed
                            else "MISSING" if e.path in removed else "OK"))
        results += [(p, "NEW") for p in diff.added]
    else:
        if manifest is not None:
            algorithm = manifest.algorithm
            expected = [(e.digest, e.path, e.size, e.kind) for e in manifest]
        else:
            expected = [(d, p, None, None) for d, p in pairs]
        for digest, rel, size, kind in expected:
            path = os.path.join(base, rel)
            try:
                got, got_size, got_kind = _digest_of(path, algorithm)
            except FileNotFoundError:
                results.append((rel, "MISSING"))
                continue
            except (OSError, ValueError) as exc:
                fp._write(err, f"fastmlops fingerprint: error: {rel}: "
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
            fp._write(out, f"{rel}: {status}\n")
    out.flush()
    n_bad = sum(problems.values())
    if n_bad:
        detail = ", ".join(f"{n} {word}" for word, n in
                           (("changed", problems["FAILED"]), ("missing", problems["MISSING"]),
                            ("new", problems["NEW"])) if n)
        fp._write(err, f"fastmlops fingerprint: error: {n_bad} of {len(results)} files "
                       f"differ from {manifest_path} ({detail})\n")
        return 1
    return 0


def run_check(args: Any, algorithm: str, out: Any, err: Any) -> int:
    """Handler of ``fastmlops fingerprint --check`` (arguments checked by the CLI)."""
    from fastmlops._core.progress import ProgressBar

    root = args.paths[0] if args.paths else None
    bar = ProgressBar(root or args.check, err) if args.progress else None
    try:
        return check(args.check, root, algorithm, out, err, ignore=tuple(args.ignore or ()),
                     follow_symlinks=args.follow_symlinks, quiet=args.quiet, progress=bar)
    finally:
        if bar is not None:
            bar.close()
