"""``--variant``, ``--weights``, ``--holdout``, ``--experiment``: an experiment's flags (send, check).

Each ``--variant NAME=FILE.json`` is a ``--message``-style template (``NAME=TITLE|BODY`` is the short form
for a notification with a title and a body only); the variants are the message, so ``--title``, ``--body``
and ``--message`` are refused beside them. Every problem is a :class:`UsageError` naming the flag.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from getui_async import _json
from getui_async.config import CampaignSettings, UsageError
from getui_async.messages import MessageTemplate
from getui_async.messages.vendors import (
    VendorClass,
    VendorWarning,
    apply_vendor_class,
    as_test_send,
    derive_test_campaign_id,
    vendor_warnings,
    with_group_name,
)
from getui_async.variants import MAX_HOLDOUT_PCT, MAX_VARIANTS, Experiment, Variant, group_name, parse_weights

__all__ = ["add_arguments", "prepare_experiment", "resolve_experiment"]

_MESSAGE_FLAGS = ("title", "body", "message")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The experiment's flags (send and check read them the same way)."""
    group = parser.add_argument_group("experiment (message variants and a holdout group)")
    group.add_argument(
        "--variant",
        action="append",
        metavar="NAME=FILE.json",
        help=f"a variant's message (2-{MAX_VARIANTS}); NAME=TITLE|BODY for a plain notification",
    )
    group.add_argument("--weights", metavar="W,W,...", help="each variant's share, in order (default equal)")
    group.add_argument(
        "--holdout",
        type=float,
        metavar="PCT",
        help=f"percent of recipients (0-{MAX_HOLDOUT_PCT}) in a control group that gets nothing",
    )
    group.add_argument(
        "--experiment", metavar="SALT", help="assignment salt: same salt, same variant (default: campaign id)"
    )


def resolve_experiment(
    args: argparse.Namespace,
    given: Callable[[str], Any],
    allow_empty: Callable[[MessageTemplate], MessageTemplate] = lambda t: t,
) -> Experiment | None:
    """The experiment the flags describe (None without ``--variant``); ``given(key)`` reads a flag."""
    specs: list[str] | None = getattr(args, "variant", None)
    if not specs:
        for flag in ("weights", "holdout", "experiment"):
            if getattr(args, flag, None) is not None:
                raise UsageError(f"--{flag} needs --variant NAME=FILE.json (at least two)")
        return None
    clash = sorted(f"--{k}" for k in _MESSAGE_FLAGS if given(k) is not None)
    if clash:
        raise UsageError(
            f"--variant: the variants are the message; do not combine them with {', '.join(clash)}"
        )
    variants = [_variant(spec, allow_empty) for spec in specs]
    weights: tuple[float, ...] = (1.0,) * len(variants)
    if args.weights is not None:
        try:
            weights = parse_weights(args.weights, len(variants))
        except ValueError as exc:
            raise UsageError(f"--weights {exc}") from None
    holdout = 0.0 if args.holdout is None else float(args.holdout)
    if not 0 <= holdout <= MAX_HOLDOUT_PCT:
        raise UsageError(f"--holdout {args.holdout:g}: give a percentage from 0 to {MAX_HOLDOUT_PCT}")
    try:
        return Experiment(
            tuple(replace(v, weight=w) for v, w in zip(variants, weights, strict=True)),
            holdout_pct=holdout,
            salt=args.experiment,
        )
    except ValueError as exc:
        raise UsageError(f"--variant: {exc}") from None


def _variant(spec: str, allow_empty: Callable[[MessageTemplate], MessageTemplate]) -> Variant:
    name, sep, value = spec.partition("=")
    if not sep or not name.strip() or not value:
        raise UsageError(f"--variant {spec!r}: expected NAME=FILE.json or NAME=TITLE|BODY")
    name = name.strip()
    path = Path(value)
    if path.is_file() or "|" not in value:
        try:
            data = _json.loads(path.read_bytes())
        except OSError as exc:
            raise UsageError(
                f"--variant {name}: {value}: cannot read the message file: {exc.strerror}"
            ) from None
        except _json.JSONDecodeError as exc:
            raise UsageError(f"--variant {name}: {value}: not valid JSON: {exc}") from None
        template = MessageTemplate.from_dict(data, source=value)
    else:
        title, _, body = value.partition("|")
        if not title.strip() or not body.strip():
            raise UsageError(f"--variant {name}: the short form needs both a title and a body: TITLE|BODY")
        template = MessageTemplate.simple(title=title, body=body)
    return Variant(name, allow_empty(template))


def prepare_experiment(
    experiment: Experiment,
    options: CampaignSettings,
    *,
    vendor: tuple[VendorClass | str, str | None, str | None],
    test: bool,
) -> tuple[Experiment, CampaignSettings, list[VendorWarning]]:
    """What ``send`` does to each variant before the engine, as :func:`prepare_campaign` does to a message.

    The vendor class's keys; the campaign id (given, or derived from every variant); ``--test``'s flags and
    id; then each variant's ``group_name`` = ``<campaign>-<variant>`` unless its file sets one.
    """
    vendor_class, category, xm_channel_id = vendor
    classed = experiment.map_templates(
        lambda _, t: apply_vendor_class(t, vendor_class, category, xm_channel_id)
    )
    campaign = options.campaign_id or classed.campaign_id()
    if test:
        classed = classed.map_templates(lambda _, t: as_test_send(t))
        campaign = derive_test_campaign_id(campaign)
    grouped = classed.map_templates(lambda name, t: with_group_name(t, group_name(campaign, name)))
    warnings: dict[str, VendorWarning] = {}
    for variant in grouped:
        for warning in vendor_warnings(variant.template, vendor_class, xm_channel_id=xm_channel_id):
            warnings.setdefault(warning["code"], warning)
    return grouped, replace(options, campaign_id=campaign), list(warnings.values())
