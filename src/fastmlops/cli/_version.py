"""``fastmlops version``: print the version."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastmlops.cli._common import SubParsers


def cmd_version(args: argparse.Namespace) -> int:
    """Handler of ``fastmlops version``."""
    import fastmlops

    print(fastmlops.__version__)
    return 0


def add_cli(sub: SubParsers) -> None:
    """Register ``version`` on the ``fastmlops`` subparsers."""
    ver = sub.add_parser("version", help="print the version")
    ver.set_defaults(func=cmd_version)
