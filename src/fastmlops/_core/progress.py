"""Progress on stderr for the command line: a bar redrawn in place (carriage
returns) on a terminal, plain periodic lines when stderr is a file or a pipe
(a CI log gets readable lines, never a wall of ``\\r``)."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

__all__ = ["ProgressBar", "is_terminal"]


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is an interactive terminal."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _amount(done: int, total: int | None, unit: str) -> str:
    if unit == "bytes":
        return (f"{done / 1e9:.2f}/{total / 1e9:.2f} GB" if total
                else f"{done / 1e9:.2f} GB")
    return f"{done:,}/{total:,} {unit}" if total else f"{done:,} {unit}"


class ProgressBar:
    """A progress callback ``bar(done, total)`` (``total`` may be None).

    On a terminal: ``[#####.....]  42%  1.20/2.90 GB  label``, redrawn at most
    ten times a second with ``\\r``.  Elsewhere: one line
    ``label: 42%  1.20/2.90 GB`` every ``interval`` seconds (none for work
    shorter than that), so logs stay readable.  Thread-safe; :meth:`close`
    ends the line.
    """

    def __init__(self, label: str, stream: TextIO | None = None, *, unit: str = "bytes",
                 width: int = 30, interval: float = 5.0, tty: bool | None = None):
        self.label, self.stream, self.width, self.unit = label, stream or sys.stderr, width, unit
        self.tty = is_terminal(self.stream) if tty is None else tty
        self.interval = 0.1 if self.tty else interval
        self._start = time.monotonic()
        self._last = self._start
        self._drawn = False
        self._state: tuple[int, int | None] = (0, None)
        self._lock = threading.Lock()

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        with self._lock:
            self._state = (done, total)
            finished = total is not None and done >= total
            if now - self._last < self.interval and not (self.tty and finished):
                return
            self._last = now
            self._draw(done, total)

    def _draw(self, done: int, total: int | None) -> None:
        amount = _amount(done, total, self.unit)
        if self.tty:
            if total:
                frac = min(1.0, done / total)
                fill = int(frac * self.width)
                bar = "#" * fill + "." * (self.width - fill)
                text = f"\r[{bar}] {frac:4.0%}  {amount}  {self.label}"
            else:
                text = f"\r{amount}  {self.label}"
        else:
            pct = f"{min(1.0, done / total):.0%}  " if total else ""
            text = f"{self.label}: {pct}{amount}\n"
        self._drawn = True
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # stderr gone: progress is not worth a failure
            pass

    def close(self) -> None:
        """End the bar: a newline on a terminal; on a log, a last line when
        earlier lines were written (so the log shows the end)."""
        with self._lock:
            if not self._drawn:
                return
            try:
                if self.tty:
                    self.stream.write("\n")
                else:
                    done, total = self._state
                    self._draw(done, total)
                    return
                self.stream.flush()
            except (OSError, ValueError):
                pass
