"""Manifests: the per-file sizes and digests of a tree, the tree digest, the
comparison of two manifests and their JSON form."""

from __future__ import annotations

import json
import operator
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

from fastmlops.fingerprint._algorithms import CONSTRUCTORS, HEX, PathArg, check_algorithm, fspath

_TREE_HEADER = "fastmlops-tree-v1"
_MANIFEST_FORMAT = "fastmlops-manifest"


@dataclass(frozen=True)
class ManifestEntry:
    """One file of a :class:`Manifest`.

    ``path`` is relative with POSIX separators; ``kind`` is ``"file"`` (``size``
    bytes with ``digest``) or ``"symlink"`` (a link not followed: ``size`` and
    ``digest`` are the byte length and digest of its target string, as
    ``os.readlink`` returns it).  ``size`` is a non-negative int and
    ``digest`` lower-case hex; other values raise TypeError or ValueError.
    """

    path: str
    size: int
    digest: str
    kind: str = "file"

    def __post_init__(self) -> None:
        # Checked so that every manifest has a well-defined tree digest (and a
        # hand-edited JSON manifest is refused rather than silently coerced).
        if not isinstance(self.path, str) or not self.path:
            raise TypeError(f"manifest path must be a non-empty str, got {self.path!r}")
        try:
            raw = self.path.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raw = None
        if raw is None or raw.decode("utf-8", "surrogateescape") != self.path:
            raise ValueError(f"manifest path {self.path!r} is not a file name decoded "
                             "from bytes as UTF-8 with surrogateescape")
        size = self.size
        if not isinstance(size, bool) and not isinstance(size, int):
            try:
                size = operator.index(size)  # numpy integers
            except TypeError:
                pass
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError(f"manifest size of {self.path!r} must be an int, got {size!r}")
        if size < 0:
            raise ValueError(f"manifest size of {self.path!r} is negative ({size})")
        object.__setattr__(self, "size", int(size))
        if (not isinstance(self.digest, str) or not self.digest
                or not set(self.digest) <= HEX):
            raise ValueError(f"manifest digest of {self.path!r} must be lower-case hex, "
                             f"got {self.digest!r}")
        if self.kind not in ("file", "symlink"):
            raise ValueError(f"manifest kind of {self.path!r} must be 'file' or "
                             f"'symlink', got {self.kind!r}")

    def _line(self) -> bytes:
        raw = self.path.encode("utf-8", "surrogateescape")
        return (f"{self.kind} {self.size} {self.digest} {len(raw)}:".encode("ascii")
                + raw + b"\n")


@dataclass(frozen=True)
class ManifestDiff:
    """What changed from one manifest to another: sorted tuples of paths."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]

    @property
    def identical(self) -> bool:
        """True when no file was added, removed or changed."""
        return not (self.added or self.removed or self.changed)

    def __str__(self) -> str:
        lines = [f"+ {p}" for p in self.added] + [f"- {p}" for p in self.removed]
        lines += [f"~ {p}" for p in self.changed]
        return "\n".join(lines) if lines else "(identical)"


def _sort_key(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


def _tree_digest(algorithm: str, entries: Sequence[ManifestEntry]) -> str:
    hasher = CONSTRUCTORS[algorithm]()
    hasher.update(f"{_TREE_HEADER} {algorithm}\n".encode("ascii"))
    for entry in entries:
        hasher.update(entry._line())
    return hasher.hexdigest()


class Manifest:
    """Per-file sizes and digests of a directory, and one digest of the tree.

    Built by :func:`hash_tree` (or from entries).  Iterating yields the
    :class:`ManifestEntry` objects sorted by the UTF-8 bytes of their paths;
    ``manifest[path]`` looks one up; ``manifest.digest`` is the tree digest
    defined in :func:`hash_tree`.

    Examples
    --------
    >>> from fastmlops.fingerprint import Manifest, ManifestEntry
    >>> m = Manifest("sha256", [ManifestEntry("b.txt", 3, "ab" * 32),
    ...                         ManifestEntry("a.txt", 0, "cd" * 32)])
    >>> [e.path for e in m], len(m), m.total_size
    (['a.txt', 'b.txt'], 2, 3)
    >>> Manifest.from_json(m.to_json()) == m
    True
    """

    def __init__(self, algorithm: str, entries: Iterable[ManifestEntry]):
        self.algorithm = check_algorithm(algorithm)
        items = sorted(entries, key=lambda e: _sort_key(e.path))
        for a, b in zip(items, items[1:]):
            if a.path == b.path:
                raise ValueError(f"duplicate path {a.path!r} in manifest entries")
        self.entries: tuple[ManifestEntry, ...] = tuple(items)
        self._index = {e.path: e for e in self.entries}
        self.digest: str = _tree_digest(self.algorithm, self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[ManifestEntry]:
        return iter(self.entries)

    def __contains__(self, path: object) -> bool:
        return path in self._index

    def __getitem__(self, path: str) -> ManifestEntry:
        try:
            return self._index[path]
        except KeyError:
            raise KeyError(f"{path!r} is not in the manifest") from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Manifest):
            return NotImplemented
        return self.algorithm == other.algorithm and self.entries == other.entries

    def __hash__(self) -> int:
        return hash((self.algorithm, self.digest))

    def __repr__(self) -> str:
        return (f"Manifest({self.algorithm!r}, {len(self)} entries, "
                f"{self.total_size} bytes, digest={self.digest[:16]}...)")

    @property
    def paths(self) -> list[str]:
        """Relative paths, in manifest order."""
        return [e.path for e in self.entries]

    @property
    def total_size(self) -> int:
        """Sum of the entry sizes in bytes."""
        return sum(e.size for e in self.entries)

    # -------------------------------------------------------------- compare
    def diff(self, other: "Manifest") -> ManifestDiff:
        """Paths added, removed and changed (size, digest or kind) going from
        ``self`` to ``other``.  Both must use the same algorithm."""
        if not isinstance(other, Manifest):
            raise TypeError(f"diff() needs a Manifest, got {type(other).__name__}")
        if other.algorithm != self.algorithm:
            raise ValueError(
                f"cannot compare a {self.algorithm} manifest with a {other.algorithm} one; "
                f"hash both trees with the same algorithm= (e.g. {self.algorithm!r})")
        mine, theirs = self._index, other._index
        key = _sort_key
        return ManifestDiff(
            added=tuple(sorted((p for p in theirs if p not in mine), key=key)),
            removed=tuple(sorted((p for p in mine if p not in theirs), key=key)),
            changed=tuple(sorted((p for p in mine if p in theirs and mine[p] != theirs[p]),
                                 key=key)))

    # ---------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form (see :meth:`to_json`)."""
        return {"format": _MANIFEST_FORMAT, "version": 1, "algorithm": self.algorithm,
                "digest": self.digest, "total_size": self.total_size,
                "files": [{"path": e.path, "size": e.size, "digest": e.digest,
                           "kind": e.kind} for e in self.entries]}

    def to_json(self, indent: int | None = 2) -> str:
        """JSON text: ``{"format", "version", "algorithm", "digest",
        "total_size", "files": [{"path", "size", "digest", "kind"}, ...]}``."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: Any) -> "Manifest":
        """Inverse of :meth:`to_dict`; checks the stored tree digest."""
        if not isinstance(data, dict) or data.get("format") != _MANIFEST_FORMAT:
            raise ValueError("not a fastmlops manifest: expected a JSON object with "
                             f"\"format\": \"{_MANIFEST_FORMAT}\"")
        if data.get("version") != 1:
            raise ValueError(f"unsupported manifest version {data.get('version')!r}; "
                             "this fastmlops reads version 1")
        try:
            entries = [ManifestEntry(f["path"], f["size"], f["digest"],
                                     f.get("kind", "file")) for f in data["files"]]
            manifest = cls(data["algorithm"], entries)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed manifest: missing or bad field ({exc})") from None
        stored = data.get("digest")
        if stored is not None and stored != manifest.digest:
            raise ValueError(
                "manifest is corrupt or was edited: its stored digest does not match its "
                "entries; regenerate it with hash_tree()")
        return manifest

    @classmethod
    def from_json(cls, text: str | bytes) -> "Manifest":
        """Inverse of :meth:`to_json`; raises ValueError if the stored tree
        digest does not match the entries, or if ``text`` is not a manifest
        (invalid JSON, not UTF-8, nested too deeply...)."""
        return cls.from_dict(parse_json(text, "manifest"))

    def save(self, path: PathArg) -> None:
        """Write :meth:`to_json` to ``path`` (UTF-8)."""
        with open(fspath(path), "w", encoding="utf-8") as f:
            f.write(self.to_json())
            f.write("\n")

    @classmethod
    def load(cls, path: PathArg) -> "Manifest":
        """Read a manifest written by :meth:`save`."""
        with open(fspath(path), encoding="utf-8") as f:
            return cls.from_json(f.read())


def parse_json(text: str | bytes, what: str) -> Any:
    """``json.loads(text)``, with every way bad input fails as ValueError."""
    try:
        return json.loads(text)
    except RecursionError:  # deeply nested arrays or objects
        raise ValueError(f"not a fastmlops {what}: its JSON is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} is not valid JSON: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{what} is not valid JSON: the bytes are not UTF-8 text "
                         f"({exc})") from None
    except ValueError as exc:  # e.g. an integer past sys.get_int_max_str_digits()
        raise ValueError(f"not a fastmlops {what}: {exc}") from None

