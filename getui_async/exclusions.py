"""``--exclude FILE``: recipients never to send to, from lists of any size, in constant memory.

Three kinds of file, told apart by what they are, not by a flag:

* an earlier **results file** (it has a ``RESULTS.meta.json`` sidecar, or its first line is a result
  line): only its dead cids are taken, the lines ``failed`` with ``20001`` that Getui's message marks as
  an invalid target (the same classification :mod:`getui_async.errors` uses);
* a **CSV or JSONL** file (``.csv``, ``.jsonl``, ``.ndjson``, optionally ``.gz``) with a ``cid`` or
  ``alias`` column, read by :func:`getui_async.sources.open_source`;
* anything else is a **text file**: one cid or alias a line; blank lines and ``#`` comments are skipped.
  Such an id matches a cid or an alias spelled the same (a 32-hex cid never looks like an alias).

The ids go into a private temporary SQLite database (``sqlite3.connect("")``: on disk, deleted on close),
loaded unsorted and then indexed with one sorted insert, so memory stays at SQLite's page cache whatever
the list size. In front of it sits a blocked Bloom filter (the duplicate filter's layout: 3 bits in one
32-bit word, 16 bits per id, ~1 % false positives, 2 bytes per id) keyed by the process's own ``hash()``
of the id, which CPython caches on the string: a recipient on no list, the common case, costs one array
lookup; only the ~1 % maybes and the listed ones reach the indexed query, one per batch. The first file
that names an id is the one reported. A bad line makes the whole file unusable
(:class:`~getui_async.errors.InputError`: exit 2 before anything is sent): silently skipping it could
send to someone who must not get the push.
"""

from __future__ import annotations

import gzip
import os
import re
import sqlite3
import tempfile
import zlib
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Final, Literal

from .errors import InputError, InvalidTargetError, error_for_reply
from .outcome import Kind, Status
from .results.reader import OverlongLine, ResultsReader, status_needles
from .results.record import F_CID, F_CODE, F_MSG, F_STATUS, decode_line, is_result_line
from .results.sidecar import has_meta
from .sources import BadRecord, open_source

__all__ = ["ExclusionSet"]

#: ids inserted per ``executemany`` while loading.
_LOAD_BATCH: Final = 10_000
#: ids per ``IN (...)`` lookup: under SQLite's oldest limit of 999 variables.
_QUERY_IDS: Final = 900
#: SQLite's page cache for the set, in KiB (negative ``cache_size``): the memory bound.
_CACHE_KIB: Final = 16 * 1024
_MAX_ID_CHARS: Final = 64
#: The longest line read from a text or results list (a results line holds its record: 64 KiB at most).
MAX_LINE_BYTES: Final = 1 << 20
_ONE_ID: Final = re.compile(rf"\S{{1,{_MAX_ID_CHARS}}}")
_ANY: Final = 0
_KIND_CODE: Final[dict[str, int]] = {"cid": 1, "alias": 2}
_TABULAR: Final = (".csv", ".jsonl", ".ndjson")
_DEAD_CODE: Final = 20001
#: Prefilter for ``failed`` lines of a results file (the only ones that can name a dead cid).
_FAILED_NEEDLES: Final = status_needles((Status.FAILED,))

FileKind = Literal["results", "table", "text"]

_BLOOM_BITS_PER_ID: Final = 16
_BLOOM_MIN_WORDS: Final = 1 << 10
_HASH_MASK: Final = (1 << 64) - 1


class _Prefilter:
    """Says "certainly not listed" for ~99 % of unlisted ids; process-local (built on ``hash()``)."""

    __slots__ = ("_mask", "_words")

    def __init__(self, ids: int) -> None:
        wanted = max(_BLOOM_MIN_WORDS, -(-ids * _BLOOM_BITS_PER_ID // 32))
        words = 1 << (wanted - 1).bit_length()
        self._words = array("I", [0]) * words
        self._mask = words - 1

    @staticmethod
    def _pattern(h: int) -> int:
        return (1 << ((h >> 40) & 31)) | (1 << ((h >> 45) & 31)) | (1 << ((h >> 50) & 31))

    def add_all(self, targets: Iterable[str]) -> None:
        words, mask, pattern = self._words, self._mask, self._pattern
        for target in targets:
            h = hash(target) & _HASH_MASK
            words[h & mask] |= pattern(h)

    def maybe(self, targets: Sequence[str]) -> list[str]:
        """The targets that may be listed, in order."""
        words, mask, pattern = self._words, self._mask, self._pattern
        kept = []
        for target in targets:
            h = hash(target) & _HASH_MASK
            p = pattern(h)
            if words[h & mask] & p == p:
                kept.append(target)
        return kept

    @property
    def nbytes(self) -> int:
        return self._words.itemsize * len(self._words)


class ExclusionSet:
    """The union of every ``--exclude`` file; :meth:`contains` names the file that excluded a recipient."""

    def __init__(self) -> None:
        conn = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
        conn.execute("PRAGMA temp_store=FILE")
        conn.execute("PRAGMA journal_mode=OFF")  # a scratch copy: nothing to recover after a crash
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute(
            "CREATE TABLE raw (target TEXT NOT NULL, kind INTEGER NOT NULL, source INTEGER NOT NULL)"
        )
        conn.execute(
            "CREATE TABLE ids (target TEXT NOT NULL, kind INTEGER NOT NULL, source INTEGER NOT NULL,"
            " PRIMARY KEY (target, kind)) WITHOUT ROWID"
        )
        self._conn: sqlite3.Connection | None = conn
        self._sources: list[str] = []
        self._prefilter = _Prefilter(0)
        self.counts: dict[str, int] = {}  # ids read per file (before removing repeats)

    @classmethod
    def load(cls, paths: Iterable[str | os.PathLike[str]]) -> ExclusionSet:
        """Read every file into one set; raises :class:`InputError` naming the file (and line) at fault."""
        try:
            self = cls()
        except sqlite3.Error as exc:
            raise _scratch_error(exc) from None
        try:
            for path in paths:
                self._add_file(os.fspath(path))
            self._index()
        except sqlite3.Error as exc:
            self.close()
            raise _scratch_error(exc) from None
        except BaseException:
            self.close()
            raise
        return self

    def __len__(self) -> int:
        """Distinct ids held."""
        return int(self._db().execute("SELECT count(*) FROM ids").fetchone()[0])

    @property
    def prefilter_bytes(self) -> int:
        """Memory of the in-process prefilter (2 bytes per id held, rounded up to a power of two)."""
        return self._prefilter.nbytes

    @property
    def sources(self) -> tuple[str, ...]:
        """The files loaded, in order."""
        return tuple(self._sources)

    def contains(self, kind: Kind, target: str) -> str | None:
        """The file that excludes this recipient, or ``None``."""
        return self.contains_many(kind, [target]).get(target)

    def contains_many(self, kind: Kind, targets: Sequence[str]) -> dict[str, str]:
        """For a batch: each excluded target mapped to the file that excludes it (one query per 900)."""
        found: dict[str, str] = {}
        if not targets or not self._sources:
            return found
        targets = self._prefilter.maybe(targets)
        conn = self._db()
        code = _KIND_CODE[kind]
        for start in range(0, len(targets), _QUERY_IDS):
            chunk = targets[start : start + _QUERY_IDS]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT target, min(source) FROM ids WHERE target IN ({marks})"  # noqa: S608 -- marks only
                " AND kind IN (?, ?) GROUP BY target",
                (*chunk, _ANY, code),
            )
            for target, source in rows:
                found[target] = self._sources[source]
        return found

    def message(self, source: str) -> str:
        """The ``msg`` of an ``excluded`` result line."""
        return f"excluded by {source}"

    def close(self) -> None:
        """Delete the temporary database; idempotent."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> ExclusionSet:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- loading ---------------------------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("ExclusionSet is closed")
        return self._conn

    def _add_file(self, path: str) -> None:
        kind = _file_kind(path)
        source = len(self._sources)
        self._sources.append(path)
        reader = {"results": _dead_cids, "table": _table_ids, "text": _text_ids}[kind]
        conn = self._db()
        count = 0
        batch: list[tuple[str, int, int]] = []
        conn.execute("BEGIN")
        for target, kind_code in reader(path):
            batch.append((target, kind_code, source))
            if len(batch) >= _LOAD_BATCH:
                conn.executemany("INSERT INTO raw VALUES (?, ?, ?)", batch)
                count += len(batch)
                batch.clear()
        conn.executemany("INSERT INTO raw VALUES (?, ?, ?)", batch)
        conn.execute("COMMIT")
        self.counts[path] = count + len(batch)

    def _index(self) -> None:
        """Build the lookup table with one sorted pass (each index page written once), then drop ``raw``."""
        conn = self._db()
        conn.execute("BEGIN")
        conn.execute(
            "INSERT OR IGNORE INTO ids SELECT target, kind, source FROM raw ORDER BY target, kind, source"
        )
        conn.execute("DROP TABLE raw")
        conn.execute("COMMIT")
        held = int(conn.execute("SELECT count(*) FROM ids").fetchone()[0])
        self._prefilter = _Prefilter(held)
        self._prefilter.add_all(row[0] for row in conn.execute("SELECT target FROM ids"))


def _scratch_error(exc: sqlite3.Error) -> InputError:
    """The index could not be built in the temporary directory (full, or not writable)."""
    where = os.environ.get("SQLITE_TMPDIR") or tempfile.gettempdir()
    return InputError(
        where,
        f"no room to index the --exclude lists in this temporary directory ({exc}); free space there "
        "or point TMPDIR at a larger disk; nothing was sent",
    )


def _file_kind(path: str) -> FileKind:
    """Results, table or text: by the sidecar, then the name, then the shape of the first line."""
    if has_meta(path):
        return "results"
    lower = path.lower()
    stem = lower[: -len(".gz")] if lower.endswith(".gz") else lower
    if not stem.endswith(_TABULAR):
        return "text"
    if stem.endswith(".csv"):
        return "table"
    return "results" if _looks_like_results(path) else "table"


def _looks_like_results(path: str) -> bool:
    """True when the first line of a JSONL file (gzipped or not) is a getui-push result line."""
    try:
        first = next((raw for _, raw in _open_lines(path)), b"")
    except InputError:
        return False  # open_source reports the problem with its own words
    obj = decode_line(first)
    return obj is not None and is_result_line(obj)


def _open_lines(path: str) -> Iterator[tuple[int, bytes]]:
    try:
        handle = open(path, "rb")  # noqa: SIM115 -- closed by the with below
    except FileNotFoundError:
        raise InputError(path, "no such file (--exclude)") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, not a file (--exclude)") from None
    except OSError as exc:
        raise InputError(path, f"cannot open (--exclude): {exc.strerror or exc}") from None
    with handle:
        if path.lower().endswith(".gz"):
            try:
                with gzip.open(handle) as unzipped:
                    yield from _bounded_lines(path, unzipped.readline)
            except (OSError, EOFError, zlib.error) as exc:
                raise InputError(path, f"not a readable gzip file (--exclude): {exc}") from None
        else:
            yield from _bounded_lines(path, handle.readline)


def _bounded_lines(path: str, readline: Callable[[int], bytes]) -> Iterator[tuple[int, bytes]]:
    """(number, line) from 1; a line past :data:`MAX_LINE_BYTES` is an error as soon as it is passed."""
    number = 0
    while line := readline(MAX_LINE_BYTES + 1):  # bounded by the file: each pass consumes bytes
        number += 1
        if len(line) > MAX_LINE_BYTES:
            raise InputError(
                path, f"a line longer than {MAX_LINE_BYTES // (1 << 20)} MiB (--exclude)", line=number
            )
        yield number, line


def _text_ids(path: str) -> Iterator[tuple[str, int]]:
    for number, raw in _open_lines(path):
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8").strip()
        except UnicodeDecodeError:
            raise InputError(path, "not UTF-8 text (--exclude)", line=number) from None
        if not text or text.startswith("#"):
            continue
        if _ONE_ID.fullmatch(text) is None:
            raise InputError(
                path, f"expected one cid or alias a line (at most {_MAX_ID_CHARS} characters)", line=number
            )
        yield text, _ANY


def _table_ids(path: str) -> Iterator[tuple[str, int]]:
    with open_source(path) as source:
        for item in source:
            if isinstance(item, BadRecord):
                raise InputError(path, f"{item.describe(path)} (--exclude)", line=item.line)
            yield item.target, _KIND_CODE[item.kind]


def _dead_cids(path: str) -> Iterator[tuple[str, int]]:
    """The cids of an earlier results file that Getui called invalid (``failed``, 20001, invalid target)."""
    verdicts: defaultdict[str, bool] = defaultdict(bool)  # msg -> dead? (a handful of distinct texts)
    lines = ResultsReader(path).decoded(having=_FAILED_NEEDLES)  # the torn tail of a killed run is left out
    try:
        for number, line in lines:
            if line is None or F_STATUS not in line:
                raise InputError(path, "not a getui-push result line (--exclude)", line=number)
            status, code, cid = line[F_STATUS], line.get(F_CODE), line.get(F_CID)
            if status != Status.FAILED or code != _DEAD_CODE or not isinstance(cid, str) or not cid:
                continue
            msg = line.get(F_MSG)
            text = msg if isinstance(msg, str) else ""
            if text not in verdicts:
                verdicts[text] = isinstance(error_for_reply(_DEAD_CODE, text), InvalidTargetError)
            if verdicts[text]:
                yield cid, _KIND_CODE[F_CID]
    except FileNotFoundError:
        raise InputError(path, "no such file (--exclude)") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, not a file (--exclude)") from None
    except OverlongLine as exc:
        message = f"a line longer than {MAX_LINE_BYTES // (1 << 20)} MiB (--exclude)"
        raise InputError(path, message, line=exc.number) from None
    except (EOFError, zlib.error) as exc:
        raise InputError(path, f"not a readable gzip file (--exclude): {exc}") from None
    except OSError as exc:
        raise InputError(path, f"cannot read (--exclude): {exc.strerror or exc}") from None
