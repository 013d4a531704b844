"""``python -m getui_async.receipts serve|import …``: the receipt commands without the full CLI.

Credentials come from ``GETUI_APP_ID`` and ``GETUI_MASTER_SECRET`` only (no app key is needed; the
``getui-push receipts`` command also reads the config file).
"""

from __future__ import annotations

import argparse
import logging
import sys

from getui_async.config import SignCredentials
from getui_async.runner import PROG

from .command import add_receipts_parser, run


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` as ``receipts …`` and run it; the exit status."""
    parser = argparse.ArgumentParser(prog=f"{PROG}")
    add_receipts_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["receipts", *(sys.argv[1:] if argv is None else argv)])
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format=f"{PROG}: %(message)s")
    return run(args, SignCredentials.from_env)


if __name__ == "__main__":
    raise SystemExit(main())
