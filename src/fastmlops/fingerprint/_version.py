"""Model versions: :class:`ModelVersion` (weights, data, hyper-parameters,
environment, seed), their comparison, and the canonical JSON that makes their
digests reproducible."""

from __future__ import annotations

import hashlib
import json
import math
import operator
import os
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence, Union

from fastmlops.fingerprint._algorithms import CONSTRUCTORS, HEX, PathArg, check_algorithm, fspath
from fastmlops.fingerprint._environment import capture_environment
from fastmlops.fingerprint._file import hash_file
from fastmlops.fingerprint._manifest import Manifest, parse_json
from fastmlops.fingerprint._tree import hash_tree

#: What a version records of its weights or data: a file or directory path, a
#: Manifest, or a digest string.
Artifact = Union[str, "os.PathLike[str]", Manifest]


class HasDigest(Protocol):
    """An object with a ``digest`` string (a :class:`fastmlops.DriftReference`)."""

    @property
    def digest(self) -> str: ...


def _canonical(value: Any, where: str, active: set[int] | None = None) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"hyper-parameter {where} is {value!r}; NaN and infinities "
                             "have no JSON form: use None or a string such as 'inf'")
        return int(value) if value.is_integer() else float(value)
    if isinstance(value, (dict, list, tuple)):
        active = set() if active is None else active
        if id(value) in active:
            raise ValueError(f"hyper-parameter {where} contains itself (a circular "
                             "reference), which has no JSON form")
        active.add(id(value))
        try:
            if isinstance(value, dict):
                out = {}
                for k, v in value.items():
                    if not isinstance(k, str):
                        raise TypeError(
                            f"hyper-parameter keys must be str; {where} has key {k!r} "
                            f"({type(k).__name__}): convert it with str()")
                    out[k] = _canonical(v, f"{where}[{k!r}]", active)
                return out
            return [_canonical(v, f"{where}[{i}]", active) for i, v in enumerate(value)]
        finally:
            active.discard(id(value))
    if type(value).__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        item = value.item()
        if type(item).__module__ != "numpy":  # long double's item() is itself
            return _canonical(item, where, active)
    raise TypeError(
        f"hyper-parameter {where} is a {type(value).__name__} ({value!r}), which has no "
        "canonical JSON form; use None, bool, int, float, str, lists or dicts with str "
        "keys (e.g. str(value), float(value) or value.tolist())")


def canonical_json(value: Any) -> str:
    """Canonical JSON of nested hyper-parameters: keys sorted, no spaces, ASCII,
    integral floats written as integers (``1.0`` -> ``1``, ``-0.0`` -> ``0``),
    tuples as lists, numpy scalars as the Python value they hold.

    Booleans stay booleans: ``True`` and ``1`` are different hyper-parameters
    (``{"shuffle": True}`` is not ``{"shuffle": 1}``), although Python's
    ``True == 1``.  Strings are taken as they are (no Unicode normalisation).

    Raises TypeError for values JSON cannot represent (sets, bytes, arrays,
    ``numpy.longdouble``, non-str keys), ValueError for NaN/inf, for a
    container that contains itself and for nesting deeper than Python's
    recursion limit allows.

    Examples
    --------
    >>> from fastmlops.fingerprint import canonical_json
    >>> canonical_json({"lr": 1e-3, "epochs": 10.0, "layers": (64, 32)})
    '{"epochs":10,"layers":[64,32],"lr":0.001}'
    """
    try:
        return json.dumps(_canonical(value, "value"), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=True, allow_nan=False)
    except RecursionError:
        raise ValueError("hyper-parameters are nested too deeply for canonical JSON; "
                         "flatten them") from None


_FIELDS = ("weights", "data", "hyperparameters", "environment", "seed")


def _fingerprint(value: Artifact, what: str, algorithm: str) -> str:
    """``"<algorithm>:<hex>"`` for a path / Manifest, or a given digest, checked."""
    if isinstance(value, Manifest):
        return f"{value.algorithm}:{value.digest}"
    if isinstance(value, (str, os.PathLike)) and not isinstance(value, bytes):
        text = os.fspath(value)
        if os.path.isdir(text):
            return f"{algorithm}:{hash_tree(text, algorithm).digest}"
        if os.path.exists(text):
            return f"{algorithm}:{hash_file(text, algorithm)}"
        if isinstance(value, str):
            alg, sep, hexpart = text.lower().rpartition(":")
            if ((not sep or alg in CONSTRUCTORS) and len(hexpart) >= 16
                    and set(hexpart) <= HEX):
                return text.lower()
        raise ValueError(
            f"{what}={value!r} is neither an existing file or directory nor a digest "
            "('<hex>' or '<algorithm>:<hex>', e.g. from hash_file()); check the path")
    raise TypeError(f"{what} must be a path, a Manifest or a digest string, got "
                    f"{type(value).__name__}")


def _drift_digest(value: object) -> str:
    """A drift reference's digest: ``"<algorithm>:<hex>"`` (lower case)."""
    if not isinstance(value, str):
        raise TypeError(f"drift_reference must be a digest string such as 'sha256:<hex>' "
                        f"(DriftReference.digest), got {type(value).__name__} {value!r}")
    alg, sep, hexpart = value.lower().rpartition(":")
    if not (sep and alg in CONSTRUCTORS and len(hexpart) >= 16 and set(hexpart) <= HEX):
        raise ValueError(f"drift_reference must be a digest such as 'sha256:<hex>' "
                         f"(DriftReference.digest), got {value!r}")
    return value.lower()


@dataclass(frozen=True)
class VersionComparison:
    """Result of :meth:`ModelVersion.compare`.

    ``differences`` lists the differing fields among ``weights``, ``data``,
    ``hyperparameters``, ``environment``, ``seed`` and ``drift_reference``
    (in that order; ``drift_reference`` differs when one version has a
    drift reference the other lacks, or a different one);
    ``environment_differences`` the differing top-level environment keys.
    """

    differences: tuple[str, ...]
    environment_differences: tuple[str, ...] = ()

    @property
    def reproducible(self) -> bool:
        """True when all five parts (and ``drift_reference``) match."""
        return not self.differences

    def __str__(self) -> str:
        if self.reproducible:
            return "reproducible: all five parts match"
        extra = (f" (environment: {', '.join(self.environment_differences)})"
                 if self.environment_differences else "")
        return f"not reproducible: {', '.join(self.differences)} differ{extra}"


@dataclass(frozen=True)
class ModelVersion:
    """What pins a trained model: (weights, data, hyper-parameters, environment, seed).

    ``weights`` and ``data`` are fingerprints (``"<algorithm>:<hex>"`` or a bare
    hex digest); ``hyperparameters`` is stored in canonical form (see
    :func:`canonical_json`); ``environment`` as :func:`capture_environment`
    returns it; ``seed`` an int (a numpy integer is converted).  Build one with
    :meth:`create`.  ``digest`` is the SHA-256 of the canonical JSON of all
    five, a single version id.

    ``drift_reference`` (optional) is the digest of the drift baseline the
    model was trained with (:attr:`fastmlops.DriftReference.digest`, e.g.
    ``"sha256:<hex>"``), so that the model and its baseline are versioned
    together: check it with ``DriftReference.load(path,
    expected_digest=version.drift_reference)``.  When set it is part of
    ``digest``, :meth:`compare` (as the difference ``"drift_reference"``),
    ``==`` and the JSON; when it is None (the default) none of them mention
    it, so a version without one has the same digest and JSON as before the
    field existed.  Two versions are equal (``==``, and then hash
    alike) exactly when :meth:`compare` finds no difference: by canonical form,
    so ``{"shuffle": True}`` does not equal ``{"shuffle": 1}``.

    Examples
    --------
    >>> from fastmlops.fingerprint import ModelVersion
    >>> env = {"python": "3.11"}
    >>> a = ModelVersion.create(weights="sha256:" + "0" * 64, data="md5:" + "1" * 32,
    ...                         hyperparameters={"lr": 0.1, "epochs": 10},
    ...                         seed=7, environment=env)
    >>> b = ModelVersion.create(weights="sha256:" + "0" * 64, data="md5:" + "1" * 32,
    ...                         hyperparameters={"epochs": 10.0, "lr": 0.1},
    ...                         seed=8, environment=env)
    >>> a.hyperparameters_digest == b.hyperparameters_digest
    True
    >>> result = a.compare(b)
    >>> result.differences, result.reproducible
    (('seed',), False)
    """

    weights: str
    data: str
    hyperparameters: dict = field(default_factory=dict)
    environment: dict = field(default_factory=dict)
    seed: int = 0
    drift_reference: str | None = None

    def __post_init__(self) -> None:
        for name in ("weights", "data"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise TypeError(f"{name} must be a fingerprint string, got {value!r}")
        if self.drift_reference is not None:
            object.__setattr__(self, "drift_reference",
                               _drift_digest(self.drift_reference))
        if not isinstance(self.hyperparameters, dict):
            raise TypeError("hyperparameters must be a dict, got "
                            f"{type(self.hyperparameters).__name__}")
        if not isinstance(self.environment, dict):
            raise TypeError(f"environment must be a dict, got {type(self.environment).__name__}")
        seed = self.seed
        if not isinstance(seed, int) and type(seed).__module__ == "numpy":
            try:  # numpy integer scalars (rng.integers(...)) are integers too
                seed = operator.index(seed)
            except TypeError:
                pass
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {self.seed!r}; pass the integer "
                            "seed the training run used")
        object.__setattr__(self, "seed", int(seed))
        object.__setattr__(self, "hyperparameters",
                           json.loads(canonical_json(self.hyperparameters)))
        object.__setattr__(self, "environment", json.loads(canonical_json(self.environment)))

    @classmethod
    def create(cls, *, weights: Artifact, data: Artifact, hyperparameters: dict | None = None,
               seed: int, packages: Sequence[str] = (), algorithm: str = "sha256",
               environment: dict | None = None,
               drift_reference: str | HasDigest | None = None) -> "ModelVersion":
        """A version from paths or digests, capturing the environment.

        ``weights`` / ``data``: a file (hashed with :func:`hash_file`), a
        directory (:func:`hash_tree` digest), a :class:`Manifest`, or a digest
        string.  ``packages``: extra distributions whose versions to record.
        ``environment``: pass one to skip automatic capture.
        ``drift_reference``: the drift baseline's digest string, or any object
        with a ``.digest`` string (a :class:`fastmlops.DriftReference`).

        Examples
        --------
        >>> from types import SimpleNamespace
        >>> from fastmlops.fingerprint import ModelVersion
        >>> baseline = SimpleNamespace(digest="sha256:" + "2" * 64)  # a DriftReference
        >>> v = ModelVersion.create(weights="sha256:" + "0" * 64, data="md5:" + "1" * 32,
        ...                         seed=7, environment={}, drift_reference=baseline)
        >>> v.drift_reference == baseline.digest
        True
        """
        algorithm = check_algorithm(algorithm)
        if drift_reference is not None and not isinstance(drift_reference, str):
            digest = getattr(drift_reference, "digest", None)
            if not isinstance(digest, str):
                raise TypeError(
                    "drift_reference must be a digest string ('sha256:<hex>') or an object "
                    f"with a .digest string such as a DriftReference, got "
                    f"{type(drift_reference).__name__}")
            drift_reference = digest
        if environment is None:
            environment = capture_environment(packages)
        return cls(weights=_fingerprint(weights, "weights", algorithm),
                   data=_fingerprint(data, "data", algorithm),
                   hyperparameters={} if hyperparameters is None else hyperparameters,
                   environment=environment, seed=seed, drift_reference=drift_reference)

    @property
    def hyperparameters_digest(self) -> str:
        """SHA-256 of the canonical JSON of the hyper-parameters."""
        return hashlib.sha256(canonical_json(self.hyperparameters).encode()).hexdigest()

    @property
    def environment_digest(self) -> str:
        """SHA-256 of the canonical JSON of the environment."""
        return hashlib.sha256(canonical_json(self.environment).encode()).hexdigest()

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical JSON of all five parts (and of
        ``drift_reference`` when it is set)."""
        return hashlib.sha256(canonical_json(self.to_dict()).encode()).hexdigest()

    def compare(self, other: "ModelVersion") -> VersionComparison:
        """Which of the five parts differ from ``other``."""
        if not isinstance(other, ModelVersion):
            raise TypeError(f"compare() needs a ModelVersion, got {type(other).__name__}")
        diffs = []
        for name in _FIELDS:
            a, b = getattr(self, name), getattr(other, name)
            if name in ("hyperparameters", "environment"):
                a, b = canonical_json(a), canonical_json(b)
            if a != b:
                diffs.append(name)
        if self.drift_reference != other.drift_reference:
            diffs.append("drift_reference")
        env_keys = sorted(set(self.environment) | set(other.environment))
        env_diffs = tuple(k for k in env_keys
                          if canonical_json(self.environment.get(k))
                          != canonical_json(other.environment.get(k)))
        return VersionComparison(tuple(diffs), env_diffs)

    def __eq__(self, other: object) -> bool:
        # By canonical form, as compare() and digest: the dataclass default would
        # compare the dicts with Python's ==, where True == 1.
        if not isinstance(other, ModelVersion):
            return NotImplemented
        return canonical_json(self.to_dict()) == canonical_json(other.to_dict())

    def __hash__(self) -> int:
        return hash(self.digest)

    def to_dict(self) -> dict[str, Any]:
        """The five parts as a JSON-able dict (and ``drift_reference`` when set)."""
        out = {"weights": self.weights, "data": self.data,
               "hyperparameters": self.hyperparameters, "environment": self.environment,
               "seed": self.seed}
        if self.drift_reference is not None:  # absent otherwise: older digests stay
            out["drift_reference"] = self.drift_reference
        return out

    def to_json(self, indent: int | None = 2) -> str:
        """JSON with the five parts, ``drift_reference`` when set, and ``digest``."""
        return json.dumps({"format": "fastmlops-model-version", "version": 1,
                           **self.to_dict(), "digest": self.digest},
                          indent=indent, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> "ModelVersion":
        """Inverse of :meth:`to_json`; checks the stored digest."""
        data = parse_json(text, "model version")
        if not isinstance(data, dict) or data.get("format") != "fastmlops-model-version":
            raise ValueError("not a fastmlops model version: expected a JSON object with "
                             "\"format\": \"fastmlops-model-version\"")
        try:
            version = cls(**{name: data[name] for name in _FIELDS},
                          drift_reference=data.get("drift_reference"))
        except KeyError as exc:
            raise ValueError(f"model version JSON lacks the field {exc}") from None
        except TypeError as exc:
            raise ValueError(f"malformed model version JSON: {exc}") from None
        if data.get("digest") not in (None, version.digest):
            raise ValueError("model version JSON is corrupt or was edited: its digest "
                             "does not match its contents")
        return version

    def save(self, path: PathArg) -> None:
        with open(fspath(path), "w", encoding="utf-8") as f:
            f.write(self.to_json())
            f.write("\n")

    @classmethod
    def load(cls, path: PathArg) -> "ModelVersion":
        with open(fspath(path), encoding="utf-8") as f:
            return cls.from_json(f.read())

