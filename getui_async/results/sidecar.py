"""``RESULTS.meta.json``, the sidecar that says which run a results file belongs to, and the paths of the
files around ``RESULTS`` (sidecar, lock, temporaries): their names and keys are spelled here only.

The sidecar records the campaign id, the message template's fingerprint and the input's fingerprint
(its whole-content sha256; for a streamed input, the bytes read and their digest); a resume against
another input or message is refused. It also keeps the record of runs (``runs``, ``requests``,
``retries``, ``group_name``) that ``report`` and the summary read. It is replaced atomically.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final

from getui_async import _json
from getui_async._version import __version__
from getui_async.errors import ResultsFileError
from getui_async.safe_open import replace_atomically

__all__ = [
    "K_CAMPAIGN_ID",
    "K_CANARY",
    "K_GROUP_NAME",
    "K_INPUT",
    "K_LEDGER_LINEAGE",
    "K_LEDGER_SHARD",
    "K_READ_OPTIONS",
    "K_REPLACE_IDS",
    "K_REQUESTS",
    "K_RETRIES",
    "K_RUNS",
    "K_SHARD",
    "ResultsWriteError",
    "RunMeta",
    "StoredStream",
    "chosen_options",
    "has_meta",
    "lock_path",
    "meta_path",
    "read_meta",
    "read_meta_strict",
    "recall_path",
    "record_run",
    "remove_results",
    "sidecar_name",
    "stored_campaign",
    "stored_encoding",
    "stored_lineage",
    "stored_read_options",
    "stored_replace_ids",
    "stored_stream",
    "stream_input",
    "write_atomically",
    "write_meta",
    "written_paths",
]


# The sidecar's keys.
K_TOOL: Final = "tool"
K_TOOL_VERSION: Final = "tool_version"
K_CAMPAIGN_ID: Final = "campaign_id"
K_TEMPLATE: Final = "template_fingerprint"
K_INPUT: Final = "input"
K_TEST: Final = "test"
K_RUNS: Final = "runs"
K_REQUESTS: Final = "requests"
K_RETRIES: Final = "retries"
K_GROUP_NAME: Final = "group_name"
#: The replace ids the send's message carried per channel (``messages.ReplaceIds.to_dict``): what a
#: recall's override reuses.
K_REPLACE_IDS: Final = "replace_ids"
#: ``"I/N"`` when the run sent one shard of a campaign (``--shard``); absent for a whole campaign.
K_SHARD: Final = "shard"
#: A run record's key: the run was a canary of this many recipients (``--canary N``), else absent.
K_CANARY: Final = "canary"
#: The run lineage whose claims a ledger holds for this file: made by the first run, kept by resumes.
K_LEDGER_LINEAGE: Final = "ledger_lineage"
#: The shard of the input the lineage claims for (None: the whole input).
K_LEDGER_SHARD: Final = "ledger_shard"
# Keys of its ``input`` object.
K_ENCODING: Final = "encoding"
K_STREAM_BYTES: Final = "stream_bytes"
K_STREAM_SHA256: Final = "stream_sha256"
K_STREAM_COMPLETE: Final = "stream_complete"
K_SHA256: Final = "sha256"
#: The reading choices the run was given (``cid_column``, ``delimiter``, ``sheet``...), so ``report``
#: reads the input again the same way.
K_READ_OPTIONS: Final = "read_options"
#: Input keys that must agree for a resume (when both runs know them).
_SAME_INPUT: Final = ("format", "size", "head_sha256", K_SHA256)
#: Keys about the runs so far, which rewriting the run's identity keeps.
_RUN_KEYS: Final = (K_RUNS, K_REQUESTS, K_RETRIES, K_GROUP_NAME, K_LEDGER_LINEAGE, K_LEDGER_SHARD)


def meta_path(results: Path) -> Path:
    """The sidecar that identifies the run a results file belongs to."""
    return results.with_name(results.name + ".meta.json")


def lock_path(results: Path) -> Path:
    """The lock file that allows one run per results file."""
    return results.with_name(results.name + ".lock")


def written_paths(results: Path) -> list[Path]:
    """Every name a run writes beside ``results`` or ever wrote (``RESULTS.tmp`` and the sidecar's
    ``.tmp``: fixed temporary names of earlier versions): a link planted at one is refused."""
    sidecar = meta_path(results)
    old_temps = [p.with_name(p.name + ".tmp") for p in (results, sidecar)]
    return [results, sidecar, lock_path(results), *old_temps]


def recall_path(results: Path) -> Path:
    """Where ``getui-push recall`` writes its own results for the send of ``results`` by default."""
    return results.with_name(results.name + ".recall.jsonl")


def companion_files(results: Path) -> dict[str, Path]:
    """The files beside ``results`` that a run uses, named as the user knows them (for messages)."""
    return {"RESULTS.meta.json (the sidecar)": meta_path(results), "RESULTS.lock": lock_path(results)}


def companion_suffixes() -> tuple[str, ...]:
    """What the names of the files beside a results file add to its name (``.meta.json``, ``.lock``,
    ``.recall.jsonl``): a glob over results files must skip them."""
    return tuple(name(Path("R")).name[1:] for name in (meta_path, lock_path, recall_path))


def sidecar_name(results: Path) -> str:
    """The sidecar's path as a message names it."""
    return str(meta_path(results))


def has_meta(results: Path | str) -> bool:
    """True when ``results`` has a sidecar (it was written by a run of ours)."""
    return meta_path(Path(results)).exists()


def remove_results(results: Path) -> None:
    """Remove a results file and its sidecar (a run that always starts over, such as the demo)."""
    for path in (results, meta_path(results)):
        path.unlink(missing_ok=True)


class ResultsWriteError(ResultsFileError):
    """Writing the results file (or its sidecar) failed; ``strerror`` is the OS's reason."""

    def __init__(self, path: Path, exc: OSError) -> None:
        self.path = path
        self.strerror = exc.strerror or str(exc)
        self.errno = exc.errno
        super().__init__(f"could not write {path}: {self.strerror}")


@dataclass(frozen=True)
class RunMeta:
    """What a results file was written for: campaign, message and input."""

    campaign_id: str
    template_fingerprint: str
    input: Mapping[str, Any]
    tool_version: str = __version__
    #: A send to test devices (``--test``), so a results file says which kind of run wrote it.
    test: bool = False
    #: The replace ids the message carried, per channel (None: not recorded).
    replace_ids: Mapping[str, Any] | None = None
    #: The ledger's run lineage (with a ledger), so a resume claims as the same run.
    lineage: str | None = None
    #: The shard this file holds (``"I/N"``), or None for a whole campaign (the lineage claims for it).
    shard: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {
            K_TOOL: "getui-async",
            K_TOOL_VERSION: self.tool_version,
            K_CAMPAIGN_ID: self.campaign_id,
            K_TEMPLATE: self.template_fingerprint,
            K_INPUT: dict(self.input),
            K_TEST: self.test,
            **({K_LEDGER_LINEAGE: self.lineage, K_LEDGER_SHARD: self.shard} if self.lineage else {}),
        }
        if self.replace_ids is not None:
            data[K_REPLACE_IDS] = dict(self.replace_ids)
        if self.shard is not None:
            data[K_SHARD] = self.shard
        return data

    def mismatch(self, other: Mapping[str, Any]) -> str | None:
        """Why a stored meta (``other``) belongs to a different run, or None if it is this run."""
        if other.get(K_CAMPAIGN_ID) != self.campaign_id:
            return f"it belongs to campaign {other.get(K_CAMPAIGN_ID)!r}, not {self.campaign_id!r}"
        if other.get(K_TEMPLATE) != self.template_fingerprint:
            return "it was written for a different message"
        if other.get(K_SHARD) != self.shard:
            return _other_shard(other.get(K_SHARD), self.shard)
        theirs = _input_of(other)
        mine, stored = self.input.get(K_ENCODING), theirs.get(K_ENCODING)
        if mine is not None and stored is not None and mine != stored:
            return f"the earlier run read the input as {stored}, this one as {mine}"
        for key in _SAME_INPUT:
            mine, stored = self.input.get(key), theirs.get(key)
            if mine is not None and stored is not None and mine != stored:
                what = "content" if key.endswith("sha256") else key
                return f"it was written for a different input ({what} differs)"
        return None


def _other_shard(stored: Any, mine: str | None) -> str:
    """Why a file of one shard (or of a whole campaign) cannot take another shard's lines."""
    theirs = f"shard {stored}" if stored is not None else "the whole campaign (no shard)"
    return f"it holds {theirs}, and this run sends {f'shard {mine}' if mine else 'the whole campaign'}"


#: Sidecar bytes by path, with the file's identity when read. A resumed run asks for its sidecar up to
#: six times (encoding, stream proof, the resume check, the ledger's campaign, the record of runs); it
#: is read from disk once, and again only after it changed (every write replaces the file).
_READ: dict[Path, tuple[tuple[int, int, int, int], bytes]] = {}
_READ_MAX: Final = 32


def _identity(path: Path) -> tuple[int, int, int, int]:
    st = os.stat(path)
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _sidecar_bytes(sidecar: Path) -> bytes:
    """The sidecar's bytes (raises ``OSError``), from the last read while the file is unchanged."""
    identity = _identity(sidecar)
    held = _READ.get(sidecar)
    if held is not None and held[0] == identity:
        return held[1]
    data = sidecar.read_bytes()
    _remember(sidecar, identity, data)
    return data


def _remember(sidecar: Path, identity: tuple[int, int, int, int], data: bytes) -> None:
    if len(_READ) >= _READ_MAX:
        _READ.clear()
    _READ[sidecar] = (identity, data)


def read_meta(results: Path) -> dict[str, Any] | None:
    """The sidecar of ``results`` as a dict, or None when missing or unreadable."""
    try:
        stored = _json.loads(_sidecar_bytes(meta_path(results)))
    except (OSError, _json.JSONDecodeError):
        return None
    return stored if isinstance(stored, dict) else None


def read_meta_strict(results: Path) -> dict[str, Any]:
    """The sidecar as a dict: empty when missing, :class:`ResultsFileError` when unreadable (report)."""
    sidecar = meta_path(results)
    try:
        data = _json.loads(_sidecar_bytes(sidecar))
    except FileNotFoundError:
        return {}
    except (OSError, _json.JSONDecodeError) as exc:
        raise ResultsFileError(f"{sidecar}: unreadable sidecar: {exc}") from None
    return data if isinstance(data, dict) else {}


def _input_of(stored: Mapping[str, Any] | None) -> Mapping[str, Any]:
    found = stored.get(K_INPUT) if stored else None
    return found if isinstance(found, Mapping) else {}


def stored_campaign(results: Path) -> str:
    """The campaign id the sidecar of ``results`` names; :class:`ResultsFileError` naming the sidecar
    when it is missing, unreadable or names none."""
    stored = read_meta(results)
    found = stored.get(K_CAMPAIGN_ID) if stored else None
    if found is None:
        raise ResultsFileError(f"{meta_path(results)}: missing or unreadable; cannot tell the campaign")
    return str(found)


def stored_lineage(results: Path) -> str | None:
    """The ledger lineage an earlier run of ``results`` claimed as (None: none recorded)."""
    stored = read_meta(results)
    found = stored.get(K_LEDGER_LINEAGE) if stored else None
    return found if isinstance(found, str) and found else None


def stored_encoding(results: Path, stored: Mapping[str, Any] | None = None) -> str | None:
    """The text encoding the run that wrote ``results`` read its input with (None: unknown or none);
    ``stored`` is the sidecar when the caller has read it already."""
    encoding = _input_of(stored if stored is not None else read_meta(results)).get(K_ENCODING)
    return encoding if isinstance(encoding, str) else None


def stored_replace_ids(results: Path) -> Mapping[str, Any] | None:
    """The replace ids the send of ``results`` recorded (None: a sidecar from before they were kept)."""
    stored = read_meta(results)
    found = stored.get(K_REPLACE_IDS) if stored else None
    return found if isinstance(found, Mapping) else None


def chosen_options(options: Any) -> dict[str, str]:
    """The reading choices of a dataclass of options that differ from "work it out" (None, ``auto``)."""
    found = ((f.name, getattr(options, f.name)) for f in fields(options))
    return {name: value for name, value in found if isinstance(value, str) and value != "auto"}


def stored_read_options(stored: Mapping[str, Any] | None) -> dict[str, str]:
    """The reading choices a sidecar recorded, with the encoding the run read the input in."""
    recorded = _input_of(stored)
    found = recorded.get(K_READ_OPTIONS)
    chosen = {k: v for k, v in found.items() if isinstance(v, str)} if isinstance(found, Mapping) else {}
    encoding = recorded.get(K_ENCODING)
    if isinstance(encoding, str):
        chosen[K_ENCODING] = encoding
    return chosen


@dataclass(frozen=True, slots=True)
class StoredStream:
    """What an earlier run read of a streamed input: bytes, their sha256, and whether it reached the end."""

    total: int
    sha256: str | None
    complete: bool


def stored_stream(stored: Mapping[str, Any] | None) -> StoredStream:
    """The stream proof in a sidecar (``total`` 0 and no digest when there is none)."""
    found = _input_of(stored)
    size, sha = found.get(K_STREAM_BYTES), found.get(K_STREAM_SHA256)
    if type(size) is not int:
        return StoredStream(0, None, complete=False)
    return StoredStream(size, sha if isinstance(sha, str) else None, found.get(K_STREAM_COMPLETE) is True)


def stream_input(meta: RunMeta, *, total: int, sha256: str, complete: bool) -> dict[str, Any]:
    """``meta``'s input with the proof of what this run read of a stream (its whole digest if complete)."""
    record = dict(meta.input)
    record.update({K_STREAM_BYTES: total, K_STREAM_SHA256: sha256, K_STREAM_COMPLETE: complete})
    if complete:
        record[K_SHA256] = sha256
    return record


def write_meta(results: Path, meta: RunMeta, *, keep_runs: bool = True) -> None:
    """Replace the sidecar atomically, keeping its record of runs unless ``keep_runs`` is False (a new
    campaign); raises :class:`ResultsWriteError`."""
    sidecar = meta_path(results)
    data = meta.to_dict()
    stored = read_meta(results) if keep_runs else None
    if stored:
        data.update({key: stored[key] for key in _RUN_KEYS if key in stored})
    try:
        write_atomically(sidecar, _json.dumps(data))
    except OSError as exc:
        raise ResultsWriteError(sidecar, exc) from None


def record_run(results: Path, run: Mapping[str, Any], *, group_name: str | None) -> list[dict[str, Any]]:
    """Append one run (start, end, exit, counts, requests, retries) to the sidecar's ``runs``, update
    the campaign's ``requests``/``retries`` totals and ``group_name``; returns every run so far.

    ``getui-push report`` reads these to say how many runs (resumes) a campaign took. Raises
    :class:`ResultsWriteError`.
    """
    stored = read_meta(results) or {}
    runs = stored.get(K_RUNS)
    runs = [r for r in runs if isinstance(r, dict)] if isinstance(runs, list) else []
    runs.append(dict(run))
    stored[K_RUNS] = runs
    stored[K_REQUESTS] = sum(_count(r.get(K_REQUESTS)) for r in runs)
    stored[K_RETRIES] = sum(_count(r.get(K_RETRIES)) for r in runs)
    if group_name:
        stored[K_GROUP_NAME] = group_name
    sidecar = meta_path(results)
    try:
        write_atomically(sidecar, _json.dumps(stored))
    except OSError as exc:
        raise ResultsWriteError(sidecar, exc) from None
    return runs


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` through an unpredictable owner-only temporary (fsynced, renamed)."""
    replace_atomically(path, data)
    _READ.pop(path, None)
    with contextlib.suppress(OSError):
        _remember(path, _identity(path), data)  # the next read of what was just written is free
