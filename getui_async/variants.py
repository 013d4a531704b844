"""An experiment: 2-10 message variants, their weights, a holdout group, and who gets which (pure).

Each recipient's *bucket* is a stable hash of (salt, recipient key) mod :data:`BUCKETS`, mapped onto the
cumulative weights with the holdout first. Nothing random and nothing remembered: a resume, a shard, a
re-run, or a later campaign with the same salt (``--experiment``) puts each recipient in the same variant,
and a duplicate row lands where its first row did. The salt defaults to the campaign id.

Each variant is its own Getui report group (``<campaign>-<variant>``), so Getui's funnel is per variant;
request_ids and replace ids include the variant (:func:`~getui_async.messages.recipient_ids`).
"""

from __future__ import annotations

import bisect
import hashlib
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Final

from . import _json
from .errors import MessageError
from .messages import MessageTemplate, describe_rendered, with_replace_ids
from .messages.vendors import fit_group_name
from .sources import Record

__all__ = [
    "BUCKETS",
    "HOLDOUT",
    "MAX_HOLDOUT_PCT",
    "MAX_VARIANTS",
    "MIN_VARIANTS",
    "Experiment",
    "Variant",
    "bucket",
    "describe_shares",
    "describe_variants",
    "group_name",
    "parse_weights",
    "variant_of",
    "variants_text",
]

#: Buckets a recipient key is hashed into (a weight's resolution: 0.01 percentage points).
BUCKETS: Final = 10_000
#: The name of the control group that gets nothing (a result line's ``variant``, a report's key).
HOLDOUT: Final = "holdout"
MIN_VARIANTS: Final = 2
MAX_VARIANTS: Final = 10
MAX_HOLDOUT_PCT: Final = 50
#: A variant name goes into group names and ids: short, plain ASCII.
_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,32}")
_PERSON: Final = b"getui_async.var"


def bucket(salt: str, kind: str, target: str) -> int:
    """The recipient's bucket in ``0..BUCKETS-1``: the first 8 bytes of a blake2b of salt and key."""
    return _bucket_of(_salted(salt), kind, target)


def _salted(salt: str) -> Any:
    return hashlib.blake2b(f"{len(salt)}:{salt}".encode(), digest_size=8, person=_PERSON)


def _bucket_of(salted: Any, kind: str, target: str) -> int:
    hasher = salted.copy()
    hasher.update(f"{len(kind)}:{kind}{len(target)}:{target}".encode())
    return int.from_bytes(hasher.digest(), "big") % BUCKETS


def parse_weights(text: str, count: int) -> tuple[float, ...]:
    """``"50,30,20"`` as weights for ``count`` variants; ``ValueError`` says what is wrong."""
    parts = [p.strip() for p in text.split(",")]
    try:
        weights = tuple(float(p) for p in parts)
    except ValueError:
        raise ValueError(f"{text!r}: expected numbers separated by commas, like 50,30,20") from None
    if len(weights) != count:
        raise ValueError(f"{text!r}: {len(weights)} weights for {count} variants; give one per variant")
    if any(not 0 < w < math.inf for w in weights):  # NaN fails every comparison
        raise ValueError(f"{text!r}: every weight must be a positive number")
    return weights


@dataclass(frozen=True, slots=True)
class Variant:
    """One arm of the experiment: its name, its message, its weight (relative to the others)."""

    name: str
    template: MessageTemplate
    weight: float = 1.0


@dataclass(frozen=True)
class Experiment:
    """The variants, the holdout percentage (0-50) and the salt (None: the campaign id).

    Validation raises ``ValueError`` with a sentence the CLI shows as a usage error.
    """

    variants: tuple[Variant, ...]
    holdout_pct: float = 0.0
    salt: str | None = None
    _bounds: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [v.name for v in self.variants]
        if not MIN_VARIANTS <= len(names) <= MAX_VARIANTS:
            raise ValueError(f"{len(names)} variants: give {MIN_VARIANTS} to {MAX_VARIANTS}")
        for name in names:
            if not _NAME.fullmatch(name) or name == HOLDOUT:
                raise ValueError(
                    f"variant name {name!r}: use 1-32 letters, digits, '-' or '_' (and not {HOLDOUT!r})"
                )
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must differ: {', '.join(names)}")
        if any(not v.weight > 0 for v in self.variants):
            raise ValueError("every variant weight must be a positive number")
        if not 0 <= self.holdout_pct <= MAX_HOLDOUT_PCT:
            raise ValueError(f"holdout {self.holdout_pct:g}%: give a percentage from 0 to {MAX_HOLDOUT_PCT}")
        if self.salt is not None and not self.salt.strip():
            raise ValueError("the experiment salt must not be empty")
        object.__setattr__(self, "_bounds", self._cumulative())

    def _cumulative(self) -> tuple[int, ...]:
        """Upper bucket bounds: the holdout's first, then each variant's (the last is :data:`BUCKETS`)."""
        held = round(self.holdout_pct * BUCKETS / 100)
        rest, total = BUCKETS - held, sum(v.weight for v in self.variants)
        bounds, running = [held], 0.0
        for variant in self.variants:
            running += variant.weight
            bounds.append(held + round(rest * running / total))
        bounds[-1] = BUCKETS
        return tuple(bounds)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variants)

    @property
    def templates(self) -> dict[str, MessageTemplate]:
        return {v.name: v.template for v in self.variants}

    def __iter__(self) -> Iterator[Variant]:
        return iter(self.variants)

    @property
    def fingerprint(self) -> str:
        """Hex sha256 of every variant (name, message, weight), the holdout and the salt.

        A resume against another experiment is refused, as one against another message is.
        """
        tree = {
            "variants": [[v.name, v.template.fingerprint, v.weight] for v in self.variants],
            "holdout_pct": self.holdout_pct,
            "salt": self.salt,
        }
        return hashlib.sha256(_json.dumps(tree)).hexdigest()

    def campaign_id(self) -> str:
        """16 hex characters of :attr:`fingerprint`: the same experiment gets the same campaign."""
        return self.fingerprint[:16]

    def shares(self) -> dict[str, float]:
        """Each variant's share of the recipients in percent, the holdout first (when there is one)."""
        bounds = self._bounds
        out = {HOLDOUT: bounds[0] * 100 / BUCKETS} if bounds[0] else {}
        for i, name in enumerate(self.names):
            out[name] = (bounds[i + 1] - bounds[i]) * 100 / BUCKETS
        return out

    def assigner(self, campaign_id: str) -> Callable[[str, str], str]:
        """``assign(kind, target)``: the recipient's variant name, or :data:`HOLDOUT`."""
        salted = _salted(self.salt or campaign_id)
        bounds, names = self._bounds, (HOLDOUT, *self.names)
        right, of = bisect.bisect_right, _bucket_of

        def assign(kind: str, target: str) -> str:
            return names[right(bounds, of(salted, kind, target))]

        return assign

    def map_templates(self, change: Callable[[str, MessageTemplate], MessageTemplate]) -> Experiment:
        """The same experiment with ``change(name, template)`` applied to each variant's message."""
        variants = tuple(Variant(v.name, change(v.name, v.template), v.weight) for v in self.variants)
        return Experiment(variants, self.holdout_pct, self.salt)

    def for_campaign(self, campaign_id: str) -> Experiment:
        """Each variant's message with its own ids for ``campaign_id``: repeats replace within a variant.

        The notify_id and apns-collapse-id are the campaign's, derived with the variant's name.
        """

        def own_ids(name: str, template: MessageTemplate) -> MessageTemplate:
            return with_replace_ids(template, campaign_id, name)

        return self.map_templates(own_ids)


def group_name(campaign_id: str, variant: str) -> str:
    """The variant's Getui report group: ``<campaign>-<variant>`` fitted to Getui's rule."""
    return fit_group_name(f"{campaign_id}-{variant}")


def describe_shares(experiment: Experiment) -> list[str]:
    """One line per variant (and the holdout): its share and its message's title, for people."""
    lines = []
    templates = experiment.templates
    for name, pct in experiment.shares().items():
        if name == HOLDOUT:
            lines.append(f"  {name:<12} {pct:6.2f}%  gets nothing (the control group)")
        else:
            lines.append(f"  {name:<12} {pct:6.2f}%  {_title(templates[name].to_dict())}")
    return lines


def describe_variants(experiment: Experiment, sample: Record | None) -> list[dict[str, Any]]:
    """Each group's share and message as ``check`` shows it: rendered for ``sample`` (the first record)."""
    out: list[dict[str, Any]] = []
    templates = experiment.templates
    for name, pct in experiment.shares().items():
        message = "gets nothing (the control group)"
        if name != HOLDOUT:
            try:
                if sample is None:
                    message = describe_rendered(templates[name].shared())
                else:
                    rendered = templates[name].render(sample.variables, sample.overrides or None)
                    message = describe_rendered(rendered)
            except MessageError as exc:
                message = f"cannot render the first record: field '{exc.field}': {exc.reason}"
        out.append({"name": name, "share_pct": pct, "message": message})
    return out


def variants_text(variants: Sequence[Mapping[str, Any]]) -> list[str]:
    """:func:`describe_variants`' rows as text lines."""
    lines = []
    for row in variants:
        lines.append(f"variant {row['name']}: {row['share_pct']:.2f}% of recipients")
        lines += [f"  {text}" for text in str(row["message"]).splitlines()]
    return lines


def _title(tree: Mapping[str, Any]) -> str:
    message = tree.get("push_message")
    note = message.get("notification") if isinstance(message, Mapping) else None
    if isinstance(note, Mapping) and isinstance(note.get("title"), str):
        return f"title {note['title']!r}"
    return "(a message without a notification title)"


def variant_of(
    experiment: Experiment | None, campaign_id: str, template: MessageTemplate, out: IO[str]
) -> Callable[[str, str], tuple[str | None, MessageTemplate]]:
    """For showing records (``--dry-run --show``): ``pick(kind, target)`` = (variant, its message).

    With an experiment, its shares are printed to ``out`` first; without one, every record gets
    ``(None, template)``.
    """
    if experiment is None:
        return lambda kind, target: (None, template)
    print("variants (share of recipients):", *describe_shares(experiment), sep="\n", file=out)
    assign, templates = experiment.assigner(campaign_id), experiment.templates
    first = experiment.variants[0].template

    def pick(kind: str, target: str) -> tuple[str | None, MessageTemplate]:
        name = assign(kind, target)
        return name, templates.get(name, first)

    return pick
