"""Named results that unpack like short tuples (as scipy's result bunches)."""

from __future__ import annotations

from typing import Any

__all__ = ["TupleResult"]


class TupleResult(tuple):
    """A tuple of the first ``_n_unpack`` fields, with every field as an attribute."""

    _fields: tuple[str, ...] = ()
    _n_unpack = 2

    def __new__(cls, **values: Any) -> "TupleResult":
        missing = set(cls._fields) - set(values)
        if missing:  # pragma: no cover - programming error
            raise TypeError(f"missing fields {sorted(missing)}")
        self = super().__new__(cls, tuple(values[f] for f in cls._fields[: cls._n_unpack]))
        for name in cls._fields:
            object.__setattr__(self, "_v_" + name, values[name])
        return self

    def __getattr__(self, name: str) -> Any:
        if name in type(self)._fields:
            return object.__getattribute__(self, "_v_" + name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _asdict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._fields}

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._asdict().items())
        return f"{type(self).__name__}({inner})"

    def __reduce__(self) -> tuple:
        return (_rebuild, (type(self), self._asdict()))


def _rebuild(cls: type[TupleResult], values: dict[str, Any]) -> TupleResult:
    return cls(**values)
