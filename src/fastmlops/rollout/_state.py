"""How the controller's state reaches the server's workers: a small JSON file,
replaced atomically, that every worker re-reads when it changes.

The controller (one process) writes a :class:`RolloutState` with
:meth:`RolloutState.write`: a temporary file in the same directory, then
``os.replace``, so a reader sees the old file or the new one, never half of
one.  A worker keeps a :class:`StateReader`, whose :meth:`StateReader.get`
costs one ``os.stat`` per request and parses the file again only when its
inode, size or modification time changed.  Requests are routed by
:meth:`RolloutState.route`: :func:`fastmlops.canary.in_canary` of the
request's key at the state's percent, so a user keeps its version as the
canary grows.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

from fastmlops._core.validation import as_real, check_int

__all__ = ["RolloutState", "StateReader"]


def _name(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty str (a version name), got {value!r}")
    return value


@dataclass(frozen=True)
class RolloutState:
    """Which versions serve, and how traffic is split.

    Attributes
    ----------
    baseline : str
        The version that serves everything outside the canary.
    models : dict of str to str
        Version name -> where its model is (a path; how it is loaded is the
        server's business).  ``baseline`` and ``candidate`` must be keys.
    candidate : str or None
        The canary version (None: no canary).
    percent : float
        The candidate's share of traffic, 0 to 100.
    seed : int
        The canary assignment's seed (:func:`fastmlops.canary.in_canary`).
    params : dict of str to float
        Numbers for the server (application knobs, e.g. an injected fault rate).
    generation : int
        Incremented by :meth:`replace`, to tell states apart in logs.

    Examples
    --------
    >>> from fastmlops.rollout import RolloutState
    >>> s = RolloutState("v1", {"v1": "v1.pkl", "v2": "v2.pkl"}, candidate="v2", percent=5)
    >>> s.route("user-1"), s.replace(percent=100).route("user-1")
    ('v1', 'v2')
    >>> RolloutState.from_json(s.to_json()) == s
    True
    """

    baseline: str
    models: dict[str, str]
    candidate: str | None = None
    percent: float = 0.0
    seed: int = 0
    params: dict[str, float] = field(default_factory=dict)
    generation: int = 0

    def __post_init__(self) -> None:
        _name(self.baseline, "baseline")
        if not isinstance(self.models, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.models.items()):
            raise TypeError("models must be a dict of version name (str) -> model path (str)")
        if self.baseline not in self.models:
            raise ValueError(f"baseline {self.baseline!r} is not in models "
                             f"{sorted(self.models)}; add its model path")
        if self.candidate is not None:
            _name(self.candidate, "candidate")
            if self.candidate not in self.models:
                raise ValueError(f"candidate {self.candidate!r} is not in models "
                                 f"{sorted(self.models)}; add its model path")
        p = as_real(self.percent, "percent", "a number between 0 and 100")
        if not 0 <= p <= 100:
            raise ValueError(f"percent must be between 0 and 100, got {self.percent!r}")
        object.__setattr__(self, "percent", p)
        object.__setattr__(self, "seed", check_int(self.seed, "seed", minimum=0))
        object.__setattr__(self, "generation",
                           check_int(self.generation, "generation", minimum=0))
        if not isinstance(self.params, dict):
            raise TypeError(f"params must be a dict of name -> number, got "
                            f"{type(self.params).__name__}")
        params = {}
        for k, v in self.params.items():
            if not isinstance(k, str):
                raise TypeError(f"params keys must be str, got {k!r}")
            fv = as_real(v, f"params[{k!r}]")
            if not math.isfinite(fv):
                raise ValueError(f"params[{k!r}] must be finite, got {v!r}")
            params[k] = fv
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "models", dict(self.models))

    def route(self, key: str | bytes | int) -> str:
        """The version that serves the request of ``key``."""
        from fastmlops.canary import in_canary

        if self.candidate is not None and self.percent > 0 \
                and in_canary(key, self.percent, self.seed):
            return self.candidate
        return self.baseline

    def replace(self, **changes: Any) -> RolloutState:
        """A copy with ``changes`` and the next generation."""
        data = self.to_dict()
        data.update(changes)
        data["generation"] = self.generation + 1
        return RolloutState(**data)

    def to_dict(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "models": dict(self.models),
                "candidate": self.candidate, "percent": self.percent, "seed": self.seed,
                "params": dict(self.params), "generation": self.generation}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> RolloutState:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not a rollout state (invalid JSON: {exc})") from None
        if not isinstance(data, dict):
            raise TypeError("not a rollout state (expected a JSON object)")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(f"not a rollout state: {exc}") from None

    def write(self, path: str | os.PathLike[str]) -> None:
        """Replace the file at ``path`` atomically with this state."""
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".state-", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(self.to_json())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


class StateReader:
    """The newest :class:`RolloutState` of a file, parsed again only when the
    file changed (one ``os.stat`` per call otherwise).

    A file that cannot be read or parsed keeps the last good state (and raises
    only when there never was one), so a worker never fails a request because
    of a state file being replaced."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._key: tuple[int, int, int] | None = None
        self._state: RolloutState | None = None

    def get(self) -> RolloutState:
        try:
            st = os.stat(self.path)
            key = (st.st_ino, st.st_size, st.st_mtime_ns)
            if key != self._key:
                with open(self.path, "rb") as f:
                    self._state = RolloutState.from_json(f.read())
                self._key = key
        except (OSError, ValueError, TypeError):
            if self._state is None:
                raise
        assert self._state is not None
        return self._state
