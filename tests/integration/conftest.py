"""Helpers for engine runs against the bundled mock: inputs, settings, a fault script and the checks.

The checks read two independent witnesses, the results file and the mock's own delivery log, and
compare them; none of them looks at a timing. A :class:`FaultScript` is a transport that counts the
requests the client sends and changes the mock's faults at given request numbers, so a "burst" is an
exact, repeatable window of requests rather than a stretch of wall-clock time.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from getui_async import _json
from getui_async.config import CampaignSettings, Credentials, Mode, RetrySettings, Settings
from getui_async.engine import Summary, run_campaign
from getui_async.messages import MessageTemplate
from getui_async.mock import MockConfig, MockGetui
from getui_async.transport import AiohttpTransport, Response
from tests.results_file import read_results

#: Statuses that say the recipient got the message (``accepted``: Getui took it without detail).
DELIVERED: Final = frozenset({"successed_online", "successed_offline", "successed_ignore", "accepted"})
#: The one message of personalized runs (single and batch) and of identical-content runs (list).
PERSONAL: Final = MessageTemplate.simple(title="Hi {name}", body="Your offer, {name}")
SHARED: Final = MessageTemplate.simple(title="Hello", body="The sale starts today")
CAMPAIGN: Final = "reliability-0001"

Expect = Literal["delivered", "failed", "rejected", "duplicate"]


# --- inputs -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipients:
    """A JSONL file of recipients and what should become of each record (numbered from 1)."""

    path: Path
    expected: Mapping[int, Expect]
    cids: Mapping[int, str]

    @property
    def records(self) -> int:
        return len(self.expected)

    @property
    def deliverable(self) -> frozenset[str]:
        """The distinct cids that must be delivered exactly once."""
        return frozenset(self.cids[r] for r, e in self.expected.items() if e == "delivered")

    def exit_code(self) -> int:
        """The contract's status for a run that finished this input."""
        return 1 if {"failed", "rejected"} & set(self.expected.values()) else 0


def cid_of(i: int) -> str:
    return f"{i:032x}"


def write_recipients(
    path: Path, count: int, *, invalid_every: int = 0, bad_every: int = 0, repeat_every: int = 0
) -> Recipients:
    """``count`` JSONL records; every n-th one is a cid Getui refuses, a bad record, or a repeat.

    Bad records alternate between a malformed cid (the reader rejects it) and a record's own title
    that is too long (the renderer rejects it), so both rejection paths are covered in every mode.
    """
    expected: dict[int, Expect] = {}
    cids: dict[int, str] = {}
    rows = []
    for record in range(1, count + 1):
        row = {"cid": cid_of(record), "name": f"user{record}"}
        expect: Expect = "delivered"
        if invalid_every and record % invalid_every == 0:
            row["cid"], expect = f"invalid{record:08d}", "failed"
        elif bad_every and record % bad_every == 0:
            expect = "rejected"
            if (record // bad_every) % 2:
                row["cid"] = f"bad cid {record}"
            else:
                row["title"] = "x" * 60
        elif repeat_every and record % repeat_every == 0 and expected.get(record - 1) == "delivered":
            row["cid"], expect = cids[record - 1], "duplicate"
        expected[record] = expect
        cids[record] = row["cid"]
        rows.append(_json.dumps(row).decode())
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return Recipients(path, expected, cids)


# --- settings and runs ----------------------------------------------------------------------------------


def settings_for(
    mock: MockGetui, *, timeout_s: float = 0.5, window_s: float = 60.0, attempts: int = 8, **retry: Any
) -> Settings:
    """Client settings for ``mock``: short timeouts, zero retry waits unless a backoff is given."""
    policy = RetrySettings(max_attempts=attempts, **(retry or {"zero_waits": True}))
    return Settings(
        credentials=Credentials(app_id=mock.app_id, app_key=mock.app_key, master_secret=mock.master_secret),
        base_url=mock.base_url,
        request_timeout_s=timeout_s,
        connect_timeout_s=timeout_s,
        throttle_window_s=window_s,
        connector_limit=64,
        retry=policy,
    )


def options_for(mode: Mode, **changes: Any) -> CampaignSettings:
    """Small requests so a few hundred records make many of them: faults then hit mid-run."""
    base: dict[str, Any] = {
        "mode": mode,
        "concurrency": 8,
        "batch_size": 20,
        "list_chunk": 20,
        "campaign_id": CAMPAIGN,
        "drain_timeout_s": 10.0,
    }
    base.update(changes)
    return CampaignSettings(**base)


def template_for(mode: Mode) -> MessageTemplate:
    return SHARED if mode is Mode.LIST else PERSONAL


async def send(
    recipients: Recipients,
    settings: Settings,
    out: Path,
    mode: Mode,
    *,
    resume: bool = False,
    transport: FaultScript | None = None,
    **options: Any,
) -> Summary:
    """One engine run of ``recipients`` into ``out``."""
    return await run_campaign(
        recipients.path,
        template_for(mode),
        settings,
        options_for(mode, **options),
        out=out,
        resume=resume,
        transport=transport,
    )


# --- the fault script -----------------------------------------------------------------------------------

Action = Callable[[], None]


class FaultScript:
    """A transport that runs ``actions[n]`` just before the client's n-th request (1-based) goes out.

    ``hold_s[n]`` keeps the n-th reply that long after it arrived (Getui has delivered, the answer is
    slow on its way back): the one place these tests wait on the wall clock, because a reply in flight
    on a real socket cannot be paused any other way. The script also keeps what a test counts: the
    Getui code of every reply, requests sent after a given reply, and requests in flight at close.
    """

    def __init__(
        self,
        settings: Settings,
        actions: Mapping[int, Iterable[Action]] | None = None,
        *,
        hold_s: Mapping[int, float] | None = None,
    ) -> None:
        self._inner = AiohttpTransport(settings)
        self._actions = {n: list(a) for n, a in (actions or {}).items()}
        self._hold_s = dict(hold_s or {})
        self.sent = 0
        self.codes: list[int | None] = []
        self.sent_at_reply: list[int] = []
        self.in_flight = 0
        #: Requests still waiting for their reply when the client closed the transport.
        self.in_flight_at_close: int | None = None

    async def request(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None = None
    ) -> Response:
        self.sent += 1
        number = self.sent
        for action in self._actions.get(number, ()):
            action()
        self.in_flight += 1
        try:
            response = await self._inner.request(method, url, headers=headers, body=body)
            if number in self._hold_s:
                await asyncio.sleep(self._hold_s[number])
        finally:
            self.in_flight -= 1
        self.codes.append(_code(response.body))
        self.sent_at_reply.append(self.sent)
        return response

    async def aclose(self) -> None:
        self.in_flight_at_close = self.in_flight
        await self._inner.aclose()

    def sent_after_first(self, *codes: int) -> int | None:
        """Requests sent after the first reply with one of ``codes`` arrived (None: no such reply)."""
        for code, sent in zip(self.codes, self.sent_at_reply, strict=True):
            if code in codes:
                return self.sent - sent
        return None


def _code(body: bytes) -> int | None:
    try:
        envelope = _json.loads(body)
    except _json.JSONDecodeError:
        return None
    code = envelope.get("code") if isinstance(envelope, dict) else None
    return code if isinstance(code, int) else None


def bursts(mock: MockGetui, starts: Iterable[int], length: int, **faults: Any) -> dict[int, list[Action]]:
    """Actions turning ``faults`` on at each start and back to the mock's defaults ``length`` later."""
    defaults = MockConfig()
    off = {name: getattr(defaults, name) for name in faults}
    actions: dict[int, list[Action]] = {}
    for start in starts:
        actions.setdefault(start, []).append(lambda: mock.configure(**faults))
        actions.setdefault(start + length, []).append(lambda: mock.configure(**off))
    return actions


# --- the checks -----------------------------------------------------------------------------------------


def check_one_line_per_record(lines: list[dict[str, Any]], records: int) -> None:
    """Each record 1..records has exactly one line, and no line names another record."""
    counts = Counter(line["record"] for line in lines)
    twice = sorted(r for r, n in counts.items() if n > 1)
    missing = sorted(set(range(1, records + 1)) - counts.keys())
    extra = sorted(counts.keys() - set(range(1, records + 1)))
    assert not twice, f"records with more than one line: {twice[:20]}"
    assert not missing, f"{len(missing)} records without a line: {missing[:20]}"
    assert not extra, f"lines for records not in the input: {extra[:20]}"


def check_outcomes(recipients: Recipients, lines: list[dict[str, Any]]) -> None:
    """Each line's status is what its record calls for; rejected and failed lines say why."""
    wrong = []
    for line in lines:
        want = recipients.expected[line["record"]]
        status = line["status"]
        got: str = "delivered" if status in DELIVERED else status
        if got != want:
            wrong.append((line["record"], want, status, line.get("msg")))
        if status in ("rejected", "failed"):
            assert line["msg"], f"record {line['record']} is {status} without a reason"
        if status == "failed":
            assert line["code"] == 20001, line
    assert not wrong, f"{len(wrong)} records with the wrong outcome, e.g. {wrong[:5]}"


def check_delivered_once(mock: MockGetui, lines: list[dict[str, Any]]) -> None:
    """The mock delivered exactly the cids the results call delivered, each of them once."""
    deliveries = mock.deliveries
    twice = {cid: n for cid, n in deliveries.items() if n > 1}
    assert not twice, f"{len(twice)} cids delivered more than once, e.g. {list(twice.items())[:5]}"
    claimed = {line["cid"] for line in lines if line["status"] in DELIVERED}
    assert set(deliveries) == claimed, (
        f"delivered but not reported: {sorted(set(deliveries) - claimed)[:5]}; "
        f"reported but not delivered: {sorted(claimed - set(deliveries))[:5]}"
    )


def check_attempts(lines: list[dict[str, Any]], max_attempts: int, *, uncounted: int = 0) -> None:
    """No record took more attempts than the policy allows; every sent record took at least one.

    ``uncounted`` is the number of rate-limited replies, which the policy does not count as attempts.
    """
    sent = [line for line in lines if line["status"] not in ("rejected", "duplicate")]
    assert all(line["attempts"] >= 1 for line in sent)
    over = [line for line in sent if line["attempts"] > max_attempts + uncounted]
    assert not over, f"{len(over)} records over {max_attempts} attempts, e.g. {over[:3]}"


def check_finished(mock: MockGetui, recipients: Recipients, out: Path) -> list[dict[str, Any]]:
    """A finished campaign: one line per record, the right outcomes, each deliverable cid once."""
    lines = read_results(out)
    check_one_line_per_record(lines, recipients.records)
    check_outcomes(recipients, lines)
    check_delivered_once(mock, lines)
    assert set(mock.deliveries) == recipients.deliverable
    return lines
