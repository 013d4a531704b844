"""Per-recipient delivery history across campaigns, for frequency caps (``--ledger``, ``--max-per-day``).

Vendors cap marketing pushes per device per day (2 on Huawei, Honor, OPPO and vivo) and drop the excess
after Getui has already answered ``successed_offline``, so a third campaign on one day silently reaches
nobody. The ledger remembers who this tool delivered to (``successed_*`` or ``accepted``), by campaign and
day (in ``--tz``), so a later campaign can skip recipients that are already at the cap.

The results file stays the truth: a kill between a delivery and its ledger write is repaired on resume by
:func:`repair_from_results`, and recording is idempotent (one row per day, recipient and campaign), so
replaying is always safe. A campaign never counts against itself.

:class:`Ledger` is the interface the engine uses; :class:`SqliteLedger` is the local backend (stdlib
``sqlite3`` in WAL mode, one transaction per call, never per recipient). A shared backend for several
machines only has to implement the three methods.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from array import array
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Final, Protocol, TypeAlias
from zoneinfo import ZoneInfo

from .errors import GetuiError, ResultsFileError
from .outcome import DELIVERED_STATUSES, Kind
from .results.reader import ResultsReader, status_needles
from .results.record import F_ALIAS, F_CID, F_STATUS, F_TS
from .results.sidecar import stored_campaign
from .safe_open import create_private

__all__ = [
    "DELIVERED_STATUSES",
    "FrequencyCap",
    "Key",
    "Ledger",
    "LedgerError",
    "SqliteLedger",
    "repair_from_results",
]

#: One recipient: (``"cid"`` or ``"alias"``, its value).
Key: TypeAlias = tuple[Kind, str]

#: Prefilter for delivered lines: a bytes test before any JSON decoding skips most other lines.
_DELIVERED_NEEDLES: Final = status_needles(DELIVERED_STATUSES)

SCHEMA_VERSION: Final = 1
#: Pending rows that trigger a sorted merge into the index. Large on purpose: a merge rewrites most of
#: the day's index pages whatever its size, so during a run deliveries are only appended; the merge
#: happens on close, at a snapshot reload, or after this many rows (~50 MB of pending pages).
DEFAULT_MERGE_ROWS: Final = 1_000_000
#: A day's snapshot of other campaigns' deliveries is reloaded after this long.
DEFAULT_SNAPSHOT_TTL_S: Final = 300.0
_KIND_CODE: Final[dict[str, int]] = {"cid": 0, "alias": 1}
#: Put before an alias for its in-memory key, so an alias never shares a cid's key.
_ALIAS_MARK: Final = "\x00"
#: A snapshot's directory splits the 64-bit key space by its top 16 bits.
_BUCKET_SHIFT: Final = 48
_HALF_BUCKETS: Final = 1 << 15
#: Result lines replayed per transaction by :func:`repair_from_results`.
_REPAIR_BATCH: Final = 10_000
_BUSY_TIMEOUT_MS: Final = 30_000


class LedgerError(GetuiError):
    """The ledger file can't be opened or used (not a ledger, newer schema, unwritable)."""


class Ledger(Protocol):
    """What the engine needs from a delivery ledger. Each call is one transaction, for a whole batch."""

    def counts(self, day: date, keys: Sequence[Key], exclude_campaign: str) -> dict[Key, int]:
        """Deliveries on ``day`` per key, from every campaign but ``exclude_campaign`` (zeros left out)."""
        ...

    def record(self, campaign_id: str, day: date, keys: Iterable[Key]) -> None:
        """Remember that ``campaign_id`` delivered to ``keys`` on ``day``; repeating it changes nothing."""
        ...

    def close(self) -> None:
        """Release the backend; idempotent."""
        ...


def _day_number(day: date) -> int:
    """2026-12-01 as 20261201: compact, sortable and still readable in the sqlite3 shell."""
    return day.year * 10_000 + day.month * 100 + day.day


def _memory_key(kind: str, target: str) -> int:
    """A recipient's key in a snapshot: the process's own ``hash()``, which CPython caches on the string.

    Not stable across processes, and never stored: only the snapshot of this process uses it. Two
    recipients share one with probability about n**2 / 2**65; the cost is one push too few, never one
    too many.
    """
    return hash(target) if kind == "cid" else hash(_ALIAS_MARK + target)


class SqliteLedger:
    """The ledger in one SQLite file (WAL: readers never block the writer; several runs may share it).

    Why it is fast enough for the batch path (~10 µs per recipient in all): a delivery is first appended
    to ``pending`` (a plain rowid table: sequential pages), and merged into the indexed ``deliveries``
    table sorted, at most every ``merge_rows`` rows and on :meth:`close`, so each index page is written
    once per merge instead of once per recipient. :meth:`counts` answers from a snapshot of the day's
    other-campaign recipients (their ``hash()`` values in a sorted ``array('q')``, 8 bytes a row, loaded
    with one indexed range scan and reloaded after ``snapshot_ttl_s``), so a check is a cached string
    hash and a C-level bisect, not a B-tree seek per key.
    Deliveries by campaigns running at the same time show up at the next reload.

    Safe to call from several threads (a lock serialises calls), so the engine may use
    ``asyncio.to_thread``.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        merge_rows: int = DEFAULT_MERGE_ROWS,
        snapshot_ttl_s: float = DEFAULT_SNAPSHOT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self._merge_rows = merge_rows
        self._snapshot_ttl_s = snapshot_ttl_s
        self._clock = clock
        try:
            create_private(self.path)  # it names recipients: 0600, and never through a planted link
            conn = sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
        except (sqlite3.Error, OSError) as exc:
            raise LedgerError(f"--ledger {self.path}: cannot open: {exc}") from None
        self._conn: sqlite3.Connection | None = conn
        self._lock = threading.Lock()
        self._campaigns: dict[str, int] = {}
        self._pending = 0  # rows this object appended to ``pending`` since its last merge
        self._snapshot: _DaySnapshot | None = None
        try:
            self._setup(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            self._conn = None
            raise LedgerError(f"--ledger {self.path}: not a usable ledger database: {exc}") from None

    @staticmethod
    def _setup(conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoints, never corrupt
        conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        with _transaction(conn, immediate=True):
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS campaigns (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)"
            )
            # The primary key is the index: a day's recipients are one range scan, and
            # INSERT OR IGNORE on the full key makes re-recording idempotent.
            conn.execute(
                "CREATE TABLE IF NOT EXISTS deliveries (day INTEGER NOT NULL, kind INTEGER NOT NULL,"
                " target TEXT NOT NULL, campaign INTEGER NOT NULL,"
                " PRIMARY KEY (day, kind, target, campaign)) WITHOUT ROWID"
            )
            conn.execute(
                "CREATE TABLE IF NOT EXISTS pending (day INTEGER NOT NULL, kind INTEGER NOT NULL,"
                " target TEXT NOT NULL, campaign INTEGER NOT NULL)"
            )
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif row[0] != str(SCHEMA_VERSION):
                raise sqlite3.DatabaseError(f"schema version {row[0]}, this tool reads {SCHEMA_VERSION}")

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise LedgerError(f"--ledger {self.path}: the ledger is closed")
        return self._conn

    def _campaign(self, conn: sqlite3.Connection, name: str, *, create: bool) -> int | None:
        number = self._campaigns.get(name)
        if number is None:
            if create:
                conn.execute("INSERT OR IGNORE INTO campaigns (name) VALUES (?)", (name,))
            row = conn.execute("SELECT id FROM campaigns WHERE name = ?", (name,)).fetchone()
            if row is None:
                return None
            number = self._campaigns[name] = int(row[0])
        return number

    def counts(self, day: date, keys: Sequence[Key], exclude_campaign: str) -> dict[Key, int]:
        """See :meth:`Ledger.counts`: answered from the day's snapshot (loaded by the first call)."""
        with self._lock:
            snapshot = self._day_snapshot(_day_number(day), exclude_campaign)
        return snapshot.counts(keys)

    def record(self, campaign_id: str, day: date, keys: Iterable[Key]) -> None:
        """See :meth:`Ledger.record`: one write transaction (an append) for the whole batch."""
        day_no = _day_number(day)
        codes = _KIND_CODE
        with self._lock:
            conn = self._db()
            try:
                with _transaction(conn, immediate=True):
                    number = self._campaign(conn, campaign_id, create=True)
                    cursor = conn.executemany(
                        "INSERT INTO pending VALUES (?, ?, ?, ?)",
                        [(day_no, codes[kind], target, number) for kind, target in keys],
                    )
            except BaseException:
                self._campaigns.pop(campaign_id, None)  # its row may have been rolled back too
                raise
            self._pending += max(0, cursor.rowcount)
            if self._snapshot is not None and self._snapshot.excluded != campaign_id:
                self._snapshot = None  # another campaign's deliveries: the next check must see them
            if self._pending >= self._merge_rows:
                self._merge(conn)

    def rows(self) -> int:
        """Distinct (day, recipient, campaign) rows held, after a merge (for tests and the benchmark)."""
        with self._lock:
            conn = self._db()
            self._merge(conn)
            return int(conn.execute("SELECT count(*) FROM deliveries").fetchone()[0])

    def close(self) -> None:
        """Merge what is pending and close the database; idempotent."""
        with self._lock:
            if self._conn is None:
                return
            try:
                self._merge(self._conn)
            finally:
                self._conn.close()
                self._conn = None
                self._snapshot = None

    def __enter__(self) -> SqliteLedger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _merge(self, conn: sqlite3.Connection) -> None:
        """Move every pending row (any process's) into ``deliveries``, sorted, in one transaction."""
        with _transaction(conn, immediate=True):
            conn.execute(
                "INSERT OR IGNORE INTO deliveries SELECT day, kind, target, campaign FROM pending"
                " ORDER BY day, kind, target, campaign"
            )
            conn.execute("DELETE FROM pending")
        self._pending = 0

    def _day_snapshot(self, day_no: int, exclude_campaign: str) -> _DaySnapshot:
        """Who other campaigns reached on ``day_no``: the cached snapshot, or a fresh one."""
        conn = self._db()
        now = self._clock()
        snap = self._snapshot
        if (
            snap is not None
            and (snap.day_no, snap.excluded) == (day_no, exclude_campaign)
            and now - snap.loaded < self._snapshot_ttl_s
        ):
            return snap
        self._merge(conn)
        own = self._campaign(conn, exclude_campaign, create=False)
        own_no = -1 if own is None else own
        with _transaction(conn):
            rows = conn.execute(
                "SELECT kind, target FROM deliveries WHERE day = ? AND campaign != ?", (day_no, own_no)
            )
            kinds = ("cid", "alias")
            held = array("q", sorted(_memory_key(kinds[kind], target) for kind, target in rows))
        snap = self._snapshot = _DaySnapshot(day_no, exclude_campaign, now, held)
        return snap


class _DaySnapshot:
    """The sorted memory keys of one day's recipients (a key once per campaign), with a bucket directory.

    ``directory[b]`` is where keys whose top 16 bits are bucket ``b`` start, so a lookup bisects ~n/65536
    keys (a few probes) instead of all of them: ~4 array reads per key instead of ~40 at a million rows.
    """

    __slots__ = ("day_no", "directory", "excluded", "keys", "loaded")

    def __init__(self, day_no: int, excluded: str, loaded: float, keys: array[int]) -> None:
        self.day_no = day_no
        self.excluded = excluded
        self.loaded = loaded
        self.keys = keys
        edges = ((b - _HALF_BUCKETS) << _BUCKET_SHIFT for b in range(2 * _HALF_BUCKETS))
        self.directory = array("q", (bisect_left(keys, edge) for edge in edges))
        self.directory.append(len(keys))

    def counts(self, keys: Sequence[Key]) -> dict[Key, int]:
        found: dict[Key, int] = {}
        held, directory = self.keys, self.directory
        if not held:
            return found
        left, right, mark, shift, half = bisect_left, bisect_right, _ALIAS_MARK, _BUCKET_SHIFT, _HALF_BUCKETS
        for key in keys:
            kind, target = key
            h = hash(target) if kind == "cid" else hash(mark + target)  # inlined _memory_key
            bucket = (h >> shift) + half
            lo, hi = directory[bucket], directory[bucket + 1]
            if lo == hi:
                continue
            start = left(held, h, lo, hi)
            if start < hi and held[start] == h:
                found[key] = right(held, h, start, hi) - start
        return found


@contextmanager
def _transaction(conn: sqlite3.Connection, *, immediate: bool = False) -> Iterator[None]:
    """One explicit transaction (the connection is in autocommit mode): commit, or roll back on error."""
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@dataclass(frozen=True, slots=True)
class FrequencyCap:
    """``--max-per-day``: which recipients already got ``max_per_day`` pushes today from other campaigns."""

    ledger: Ledger
    campaign_id: str
    max_per_day: int

    def __post_init__(self) -> None:
        if self.max_per_day < 1:
            raise ValueError(f"--max-per-day must be at least 1, got {self.max_per_day}")

    def over(self, day: date, keys: Sequence[Key]) -> dict[Key, int]:
        """The keys at or over the cap on ``day``, each with its count from other campaigns."""
        limit = self.max_per_day
        return {key: n for key, n in self.ledger.counts(day, keys, self.campaign_id).items() if n >= limit}

    def message(self, count: int, day: date) -> str:
        """The ``msg`` of a ``capped`` result line."""
        return (
            f"over --max-per-day {self.max_per_day}: {count} push{'es' if count != 1 else ''} "
            f"on {day.isoformat()} from other campaigns"
        )


def repair_from_results(
    ledger: Ledger, results_path: str | Path, *, tz: ZoneInfo, campaign_id: str | None = None
) -> int:
    """Replay this campaign's deliveries from its results file into the ledger; returns lines replayed.

    For ``--resume``: a kill between a result line and its ledger write leaves the ledger short, never
    long, and replaying is idempotent. The day of each delivery comes from the line's ``ts`` (UTC) in
    ``tz``. ``campaign_id`` defaults to the one in the results file's sidecar. A torn last line is skipped.
    """
    path = Path(results_path)
    if campaign_id is None:
        try:
            campaign_id = stored_campaign(path)
        except ResultsFileError as exc:
            raise LedgerError(str(exc)) from None
    replayed = 0
    pending: defaultdict[date, list[Key]] = defaultdict(list)
    held = 0
    days: dict[str, date] = {}  # ts prefix (to the minute) -> day
    try:
        for number, line in ResultsReader(path).decoded(having=_DELIVERED_NEEDLES):
            if line is None or F_STATUS not in line or F_TS not in line:
                raise LedgerError(f"{path}:{number}: not a getui-push result line")
            status, ts = line[F_STATUS], line[F_TS]
            if status not in DELIVERED_STATUSES:
                continue
            key = _key_of(line)
            if key is None or not isinstance(ts, str):
                continue
            minute = ts[:16]  # zone offsets are whole minutes (India +05:30, Nepal +05:45)
            day = days.get(minute)
            if day is None:
                day = days[minute] = _utc(ts).astimezone(tz).date()
            pending[day].append(key)
            held += 1
            if held >= _REPAIR_BATCH:
                replayed += _flush(ledger, campaign_id, pending)
                held = 0
    except FileNotFoundError:
        return 0
    return replayed + _flush(ledger, campaign_id, pending)


def _key_of(line: dict[str, object]) -> Key | None:
    cid, alias = line.get(F_CID), line.get(F_ALIAS)
    if isinstance(cid, str) and cid:
        return (F_CID, cid)
    if isinstance(alias, str) and alias:
        return (F_ALIAS, alias)
    return None


def _utc(ts: str) -> datetime:
    return datetime.fromisoformat(ts[:-1] + "+00:00" if ts.endswith("Z") else ts)


def _flush(ledger: Ledger, campaign_id: str, pending: defaultdict[date, list[Key]]) -> int:
    total = 0
    for day, keys in pending.items():
        ledger.record(campaign_id, day, keys)
        total += len(keys)
    pending.clear()
    return total
