"""The pre-flight ``getui-push check``: what a campaign would reach and cost, before anything is sent.

It reads the input exactly as ``send`` does (:func:`~getui_async.sources.open_source`, same errors),
counts records, distinct recipients, duplicates and bad records, asks ``user/detail`` (≤1000 cids a
call, rate-limited, one call in flight) which cids Getui calls invalid, reads the remaining daily
quota from ``report/push/count``, and lists the vendor warnings of the message. Memory stays flat:
duplicates go through the engine's :class:`~getui_async.dedupe.DuplicateFilter`, and dead cids are
streamed to the ``dead_cids`` file, with only a few kept as examples.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Final, TypeVar

from .client import MAX_USER_QUERY, GetuiClient
from .config import Settings
from .dedupe import DuplicateFilter
from .errors import MessageError
from .feed import off_loop
from .ledger import Ledger, Settlement, open_ledger
from .messages import MessageTemplate, check_placeholders, recipient_ids
from .messages.vendors import VendorClass, VendorWarning, vendor_warnings
from .outputs import write_aside
from .retry import call_with_retry
from .sources import BadRecord, Format, Record, SourceOptions, open_source
from .throttle import Throttle
from .variants import Experiment, describe_variants, variants_text

__all__ = ["DEFAULT_CHECK_RATE_PER_S", "CheckReport", "check_input"]

#: ``user/detail`` calls per second unless the caller says otherwise (Getui publishes no limit for it).
DEFAULT_CHECK_RATE_PER_S: Final = 5.0
_CHUNK: Final = 1000  # records read per thread hop
_EXAMPLES: Final = 5
_FINGERPRINT_CAMPAIGN: Final = "getui-check"
#: What Excel makes of an id it took for a number or a formula: ``1.23457E+31``, ``=A2``, ``#VALUE!``.
_MANGLED: Final = re.compile(r"[+-]?\d+(?:\.\d+)?e[+-]?\d+|=.*|#(?:N/A|NAME\?|VALUE!|REF!|NUM!|DIV/0!)", re.I)
MANGLED_CODE: Final = "excel_mangled_ids"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What ``check`` found. ``remaining`` is None when the quota was not read, -1 when unlimited."""

    input: str
    records: int
    recipients: int
    cids: int
    aliases: int
    duplicates: int
    bad_records: int
    dead_cids: int
    cost: int
    quota_key: str
    remaining: int | None
    checked_with_getui: bool
    mangled_ids: int = 0
    bad_examples: tuple[str, ...] = ()
    dead_examples: tuple[str, ...] = ()
    warnings: tuple[VendorWarning, ...] = ()
    quota: Mapping[str, Any] = field(default_factory=dict)
    #: ``--variant``: each variant's share and its message rendered for the first record.
    variants: tuple[Mapping[str, Any], ...] = ()

    @property
    def over_quota(self) -> bool:
        return self.remaining is not None and self.remaining >= 0 and self.cost > self.remaining

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (``check --json``)."""
        data = asdict(self)
        data["warnings"] = [dict(w) for w in self.warnings]
        data["over_quota"] = self.over_quota
        return data

    def to_text(self) -> str:
        """The report for people, one fact a line."""
        lines = [
            f"input: {self.input}",
            f"records: {self.records} ({self.bad_records} bad, {self.duplicates} duplicates)",
            f"audience: {self.recipients} distinct recipients ({self.cids} cids, {self.aliases} aliases)",
        ]
        lines += [f"  bad: {example}" for example in self.bad_examples]
        if self.checked_with_getui:
            lines.append(f"dead cids (Getui calls them invalid): {self.dead_cids}")
            lines += [f"  dead: {cid}" for cid in self.dead_examples]
            if self.remaining is None:
                left = "unknown"
            elif self.remaining < 0:
                left = "unlimited"
            else:
                left = str(self.remaining)
            verdict = (
                " (OVER QUOTA: the run would stop, resumable, when it runs out)" if self.over_quota else ""
            )
            lines.append(
                f"cost: {self.cost} pushes against {self.quota_key}, remaining today: {left}{verdict}"
            )
        else:
            lines.append(f"cost: {self.cost} pushes (not checked with Getui: no credentials)")
        lines += [f"warning [{w['code']}]: {w['message']}" for w in self.warnings]
        if not self.warnings:
            lines.append("warnings: none")
        lines += variants_text(self.variants)
        return "\n".join(lines)


class _Tally:
    """Counts as records stream by, and the cids that still need a ``user/detail`` look-up."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.records = self.bad = self.duplicates = self.cids = self.aliases = 0
        self.mangled = 0
        self.bad_examples: list[str] = []
        self.mangled_examples: list[str] = []
        self.pending: list[str] = []
        #: The first good record's fields, to show each variant's message rendered.
        self.sample: Record | None = None

    def bad_record(self, item: BadRecord) -> None:
        self.records += 1
        self.bad += 1
        if len(self.bad_examples) < _EXAMPLES:
            self.bad_examples.append(item.describe(self.path))

    def looks_mangled(self, record: Record) -> None:
        """Count an id such as ``1.23457E+31``: Getui may even accept it, for nobody's device."""
        if _MANGLED.fullmatch(record.target.strip()):
            self.mangled += 1
            if len(self.mangled_examples) < _EXAMPLES:
                self.mangled_examples.append(f"{self.path}:{record.line}: {record.kind} {record.target!r}")

    def mangled_warning(self) -> VendorWarning | None:
        if not self.mangled:
            return None
        examples = "; ".join(self.mangled_examples)
        return VendorWarning(
            code=MANGLED_CODE,
            message=f"{self.mangled} id(s) look mangled by Excel (a number in scientific notation, a "
            f"formula or an error value): {examples}; export the id column as text",
        )

    def decided(self, record: Record, duplicate: bool) -> None:
        if duplicate:
            self.duplicates += 1
        elif record.kind == "cid":
            self.cids += 1
            self.pending.append(record.target)
        else:
            self.aliases += 1


#: The lineage a check's writes to the ledger are made under (it only remembers dead cids, never claims).
_CHECK_LINEAGE: Final = "check"


class _DeadCids:
    """Asks Getui about cids ≤1000 at a time, within the rate; writes the dead ones as they come.

    The file is written aside and renamed into place only when the check ends without an error, so a
    refused input or a failed look-up leaves nothing (or the previous file) behind.
    """

    def __init__(
        self, client: GetuiClient | None, rate_per_s: float, path: str | None, ledger: Ledger | None = None
    ) -> None:
        self.client = client
        #: Where dead cids are remembered for later campaigns (``--ledger``), one transaction per look-up.
        self.ledger = ledger
        # send's gate: one call in flight, any rate send accepts (0.5/s is one call every 2 s).
        self.throttle = Throttle(concurrency=1, rate_per_s=rate_per_s)
        self.path = path
        self.out: BinaryIO | None = None
        self.count = 0
        self.asked = 0
        self.examples: list[str] = []
        #: Called after each look-up and each chunk read (the CLI's progress line on a terminal).
        self.tick: Callable[[], None] = lambda: None
        self._files = contextlib.ExitStack()

    def __enter__(self) -> _DeadCids:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._files.__exit__(*exc)

    def open(self) -> None:
        if self.path is not None and self.out is None:
            # A local file, a short line per dead cid: blocking writes cost less than a thread hop.
            self.out = self._files.enter_context(write_aside(Path(self.path)))

    async def call(self, request: Callable[..., Awaitable[T]], *args: Any) -> T:
        """``request(client, *args)`` through the throttle, retried by send's policy (5xx, busy, limits)."""
        client = self.client
        assert client is not None

        async def attempt() -> T:
            async with self.throttle:
                return await request(client, *args)

        policy = client.settings
        return await call_with_retry(attempt, policy.retry, window_s=policy.throttle_window_s)

    async def ask(self, cids: list[str]) -> None:
        if self.client is None or not cids:
            return
        self.open()
        for start in range(0, len(cids), MAX_USER_QUERY):
            chunk = cids[start : start + MAX_USER_QUERY]
            answer = await self.call(GetuiClient.user_detail, chunk)
            self.asked += len(chunk)
            self.tick()
            asked = set(chunk)
            # Only cids we asked about: anything else in the reply is the server's, never a recipient.
            found = [cid for cid in answer.invalid if cid in asked]
            if self.ledger is not None and found:
                since = datetime.now(self.ledger.zone).date().isoformat()
                await self.ledger.settle(_CHECK_LINEAGE, Settlement(dead=[("cid", c, since) for c in found]))
            for cid in found:
                self.count += 1
                if len(self.examples) < _EXAMPLES:
                    self.examples.append(cid)
                if self.out is not None:
                    self.out.write(cid.encode() + b"\n")


def _remaining(counts: Mapping[str, Any], key: str) -> int | None:
    """``remain_num`` at dotted ``key`` of a ``report/push/count`` answer (-1: unlimited)."""
    node: Any = counts
    for part in key.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    if not isinstance(node, Mapping):
        return None
    if node.get("limit") is False:
        return -1
    remain = node.get("remain_num")
    return remain if isinstance(remain, int) and not isinstance(remain, bool) else None


async def check_input(
    path: str | os.PathLike[str],
    *,
    settings: Settings | None,
    template: MessageTemplate | None = None,
    vendor_class: VendorClass | str = VendorClass.MARKETING,
    xm_channel_id: str | None = None,
    format: Format | None = None,
    rate_per_s: float = DEFAULT_CHECK_RATE_PER_S,
    dead_cids: str | os.PathLike[str] | None = None,
    client: GetuiClient | None = None,
    stdin: BinaryIO | None = None,
    source_options: SourceOptions | None = None,
    check_fields: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    variants: Experiment | None = None,
    ledger: Ledger | str | None = None,
) -> CheckReport:
    """Check one campaign input; with ``settings`` (or ``client``) also ask Getui about cids and quota.

    ``source_options`` reads the input as ``send``'s flags do (encoding, delimiter, id columns, sheet).
    ``on_progress(records_read, cids_asked)`` is called as the check goes (a slow server stays visible).
    Raises :class:`~getui_async.sources.InputError` for an input ``send`` would refuse (and
    :class:`~getui_async.errors.MessageError` for a placeholder that is no column of its header, unless
    ``check_fields`` is false: the template was not given, only defaulted), and
    :class:`~getui_async.ledger.LedgerError` when ``ledger`` (which remembers the dead cids) fails, and
    :class:`~getui_async.errors.GetuiError` when Getui cannot be asked.
    """
    if (client is None and settings is not None) or isinstance(ledger, str):
        async with contextlib.AsyncExitStack() as owned:  # what this call opens, it closes
            if client is None and settings is not None:
                client = await owned.enter_async_context(GetuiClient(settings))
            if isinstance(ledger, str):  # a file or URL: opened for this check
                ledger = await open_ledger(ledger)
                owned.push_async_callback(ledger.close)
            return await check_input(
                path,
                settings=settings,
                template=template,
                vendor_class=vendor_class,
                xm_channel_id=xm_channel_id,
                format=format,
                rate_per_s=rate_per_s,
                dead_cids=dead_cids,
                client=client,
                stdin=stdin,
                source_options=source_options,
                check_fields=check_fields,
                on_progress=on_progress,
                variants=variants,
                ledger=ledger,
            )
    dead_path = os.fspath(dead_cids) if dead_cids is not None else None
    with _DeadCids(client, rate_per_s, dead_path, ledger) as dead:
        with open_source(path, format=format, stdin=stdin, options=source_options) as source:
            columns = source.columns
            if template is not None and check_fields and columns is not None:
                check_placeholders(template, columns)  # the same refusal as send's
            for variant in variants or ():
                if columns is not None:
                    check_placeholders(variant.template, columns)
            tally = _Tally(source.name)
            if on_progress is not None:
                dead.tick = lambda: on_progress(tally.records, dead.asked)
            render = template.render if template is not None and check_fields else None
            await _read(source, tally, dead, render)
        counts: dict[str, Any] = {}
        if client is not None:
            dead.open()
            counts = await dead.call(GetuiClient.report_push_count)
    shared = template is not None and not template.is_personalized
    quota_key = "gt.list" if shared else "gt.app"
    warnings = tuple(vendor_warnings(template, vendor_class, xm_channel_id=xm_channel_id)) if template else ()
    mangled = tally.mangled_warning()
    warnings += (mangled,) if mangled is not None else ()
    recipients = tally.cids + tally.aliases
    return CheckReport(
        input=tally.path,
        records=tally.records,
        recipients=recipients,
        cids=tally.cids,
        aliases=tally.aliases,
        duplicates=tally.duplicates,
        bad_records=tally.bad,
        dead_cids=dead.count,
        mangled_ids=tally.mangled,
        cost=recipients - dead.count,
        quota_key=quota_key,
        remaining=_remaining(counts, quota_key) if client is not None else None,
        checked_with_getui=client is not None,
        bad_examples=tuple(tally.bad_examples),
        dead_examples=tuple(dead.examples),
        warnings=warnings,
        quota=counts,
        variants=tuple(describe_variants(variants, tally.sample)) if variants is not None else (),
    )


async def _read(source: Any, tally: _Tally, dead: _DeadCids, render: Callable[..., object] | None) -> None:
    """Stream the input in chunks off the loop; look cids up as each thousand is decided.

    ``render`` is the template's own: a record it refuses (an empty placeholder cell) is bad here as in
    send, which renders each record before the duplicate filter sees it. Reads run in a daemon thread
    (``off_loop``), not the default executor: that one is joined at exit, so a read stalled on an open pipe
    would keep a stopped check from ever exiting.
    """
    with DuplicateFilter[Record]() as dedupe:
        while chunk := await off_loop(lambda: source.read_chunk(_CHUNK)):
            for item in chunk:
                if isinstance(item, BadRecord):
                    tally.bad_record(item)
                    continue
                if render is not None:
                    try:
                        render(item.variables, item.overrides or None)
                    except MessageError as exc:
                        tally.bad_record(BadRecord(item.line, exc.field, exc.reason, item.kind, item.target))
                        continue
                tally.looks_mangled(item)
                tally.sample = tally.sample or item
                tally.records += 1
                fingerprint = recipient_ids(_FINGERPRINT_CAMPAIGN, item.kind, item.target)[1]
                for record, duplicate in dedupe.add(fingerprint, item):
                    tally.decided(record, duplicate)
            dead.tick()
            if len(tally.pending) >= MAX_USER_QUERY:
                await dead.ask(tally.pending)
                tally.pending = []
        for record, duplicate in dedupe.flush():
            tally.decided(record, duplicate)
    await dead.ask(tally.pending)
    tally.pending = []
