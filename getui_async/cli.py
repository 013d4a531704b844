"""The ``getui-push`` command (placeholder until the engine lands)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ._version import __version__


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["--version"], ["version"]):
        print(f"getui-push {__version__}")
        return 0
    print("getui-push: the send/demo/mock-server commands are under construction", file=sys.stderr)
    return 2
