"""``send``'s canary and breaker flags: ``--canary N``, ``--halt-after N``, ``--halt-dead-ratio R``.

Parsed here and turned into :class:`~getui_async.config.ProbeSettings`; what they do is
:mod:`getui_async.probe`'s.
"""

from __future__ import annotations

import argparse
import math

from getui_async.config import ProbeSettings
from getui_async.config.settings import DEFAULT_HALT_AFTER, DEFAULT_HALT_DEAD_RATIO

__all__ = ["add_probe_arguments", "resolve_probe"]


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}")
    return value


def add_probe_arguments(parser: argparse.ArgumentParser) -> None:
    """The group of flags that pause a send to look at what went (see :func:`resolve_probe`)."""
    group = parser.add_argument_group("canary and breaker (the wrong message, app or environment)")
    group.add_argument(
        "--canary",
        type=_count,
        metavar="N",
        help="send the first N recipients (rejected and duplicate rows not counted), then stop (exit 3) "
        "to look at the seed devices; --resume sends the rest",
    )
    group.add_argument(
        "--halt-after",
        type=_count,
        metavar="N",
        help="the breaker's probe: the first N recipients are sent and their outcomes known before any "
        f"later record goes, about one round trip of delay (default {DEFAULT_HALT_AFTER})",
    )
    group.add_argument(
        "--halt-dead-ratio",
        type=_ratio,
        metavar="R",
        help="halt (exit 3) when at least R of the probe's recipients are dead cids (another app's, or "
        f"development cids in production) or Getui refuses the app (default {DEFAULT_HALT_DEAD_RATIO:g}; "
        "0 turns the breaker off, also on a --resume)",
    )


def resolve_probe(args: argparse.Namespace) -> ProbeSettings:
    """The flags as settings (each default where not given)."""
    ratio = getattr(args, "halt_dead_ratio", None)
    return ProbeSettings(
        canary=getattr(args, "canary", None),
        halt_after=getattr(args, "halt_after", None) or DEFAULT_HALT_AFTER,
        halt_dead_ratio=DEFAULT_HALT_DEAD_RATIO if ratio is None else ratio,
    )
