"""``fastmlops warmup``: compile (or load from the cache) every kernel ahead of time."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastmlops.cli._common import SubParsers


def cmd_warmup(args: argparse.Namespace) -> int:
    """Handler of ``fastmlops warmup``."""
    import fastmlops

    fastmlops.warmup(verbose=True)
    return 0


def add_cli(sub: SubParsers) -> None:
    """Register ``warmup`` on the ``fastmlops`` subparsers."""
    warm = sub.add_parser("warmup", help="compile or load every kernel ahead of time")
    warm.set_defaults(func=cmd_warmup)
