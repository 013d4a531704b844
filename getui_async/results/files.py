"""One run's results file, from lock to run record: opened, checked, resumed and finished in one place.

:class:`ResultsFile` is what the campaign knows of RESULTS and its sidecar: it takes the lock and the
disk reserve, loads the resume state, says what an earlier run read of a streamed input, opens the
writer, records the stream proof, compacts superseded lines and adds the run to the sidecar. Without a
path (a library run with no ``out``) every step is a no-op and the resume state is empty.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from .compaction import compact_results
from .lock import RunLock, Words
from .log import ResultsLog
from .resume import UNBOUNDED_RECORDS, ResumeState, load_resume_state
from .sidecar import (
    ResultsWriteError,
    RunMeta,
    read_meta,
    record_run,
    remove_results,
    stored_stream,
    stream_input,
    write_meta,
)
from .writer import ResultsWriter

__all__ = ["ResultsFile", "line_clock"]

log = logging.getLogger(__name__)

#: Disk set aside for the lines of requests in flight when the results disk fills (about a line each).
_LINE_BYTES: Final = 400
_MAX_RESERVE: Final = 8 << 20
_MIN_RESERVE: Final = 64 << 10


def line_clock() -> Callable[[], str]:
    """An ISO-8601 UTC clock with ms; formats once per millisecond (a batch reply settles 200 at once)."""
    sec_seen = ms_seen = -1
    sec_text = ms_text = ""

    def now() -> str:
        nonlocal sec_seen, sec_text, ms_seen, ms_text
        ms = time.time_ns() // 1_000_000
        if ms != ms_seen:
            sec = ms // 1000
            if sec != sec_seen:
                sec_seen, sec_text = sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
            ms_seen, ms_text = ms, f"{sec_text}.{ms % 1000:03d}Z"
        return ms_text

    return now


def _record_bound(fingerprint: Mapping[str, Any], name: str) -> int:
    """The most records (and lines) this input can hold: a resume refuses a file naming more."""
    size = fingerprint.get("size")
    if not isinstance(size, int) or name.endswith(".gz"):
        return UNBOUNDED_RECORDS  # a stream, or compressed (no cheap bound)
    return size + 1


def _is_empty(path: Path) -> bool:
    try:
        return path.stat().st_size == 0
    except OSError:
        return False


class ResultsFile:
    """The results file of one run. A failed write of the sidecar or a compaction goes to ``on_error``."""

    def __init__(
        self,
        path: Path | None,
        words: Words,
        *,
        resume: bool,
        retry_failed: bool,
        retry_unconfirmed: bool = False,
        on_error: Callable[[ResultsWriteError], None],
    ) -> None:
        self.path = path
        self._words = words
        self._resume = resume
        self._retry_failed = retry_failed
        self._retry_unconfirmed = retry_unconfirmed
        self._on_error = on_error
        self._lock: RunLock | None = None
        self._writer: ResultsWriter | None = None
        #: What earlier runs left (empty until :meth:`load_resume`, and without a resume).
        self.resumed = ResumeState()

    @property
    def opened(self) -> bool:
        """True once the writer was opened (lines of this run may be in the file)."""
        return self._writer is not None

    def lock(self, in_flight: int) -> int | None:
        """Take the run's lock and set disk aside for the lines of ``in_flight`` recipients.

        Returns how many recipients' lines the reserve holds when the disk is nearly full (send no more
        at once), else None.
        """
        if self.path is None:
            return None
        lock = self._lock = RunLock(self.path, self._words).acquire()
        wanted = min(_MAX_RESERVE, max(_MIN_RESERVE, in_flight * _LINE_BYTES))
        reserved = lock.reserve(wanted)
        if 0 < reserved < wanted:
            lines = reserved // _LINE_BYTES
            log.warning(
                "%s: little disk space left; at most %d recipients in flight so their lines fit",
                self.path,
                lines,
            )
            return lines
        return None

    def free_reserve(self) -> None:
        """A write failed: give the reserved disk to the lines of requests in flight."""
        if self._lock is not None and self._lock.free_reserve():
            log.info("freed the disk reserve so the lines of requests in flight can be written")

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()

    def load_resume(self, fingerprint: Mapping[str, Any], source_name: str) -> ResumeState:
        """The records earlier runs finished (checked against what this input can hold)."""
        if self.path is not None and self._resume:
            bound = _record_bound(fingerprint, source_name)
            self.resumed = load_resume_state(
                self.path,
                max_record=bound,
                retry_failed=self._retry_failed,
                retry_unconfirmed=self._retry_unconfirmed,
            )
        return self.resumed

    def stream_expectation(self) -> tuple[tuple[int, str] | None, bool]:
        """What an earlier run read of a streamed input: ((bytes, sha256) or None, whether it was whole)."""
        if self.path is None or not self._resume:
            return None, False
        proof = stored_stream(read_meta(self.path))
        if proof.sha256 is None:
            return None, False
        return (proof.total, proof.sha256), proof.complete

    def refusal(self, meta: RunMeta) -> str:
        """The stop detail when a resumed stream is not the input the earlier run read."""
        return (
            f"{meta.input.get('name')} is not the input the earlier run of {self.path} read (its content "
            f"differs); refusing to go on: use the same input, or another {self._words.out}"
        )

    def open(self, meta: RunMeta, results: ResultsLog) -> None:
        """Open the file for this run (``meta`` checked against a resumed one); attach it to ``results``."""
        if self.path is None:
            return
        writer = self._writer = ResultsWriter.open(self.path, meta, resume=self._resume, words=self._words)
        if writer.repaired:
            log.warning(
                "%s: cut a torn last line (%d bytes, left by a killed run); its record is sent again",
                self.path,
                writer.repaired,
            )
        resumed = self.resumed
        # Only a --retry-failed run's lines can supersede: without it every line skips the look-up.
        supersedes = resumed.supersedes if resumed.retry_failed else None
        results.attach(writer, prior=resumed.lines, supersedes=supersedes)

    def discard_unwritten(self) -> bool:
        """Forget a run that failed before its first line (a refused pre-flight): no run is recorded, and
        a file this run created goes with its sidecar, so the same command can simply be run again (an
        earlier run's file stays as it was). Returns False, doing nothing, once a line was written."""
        writer = self._writer
        if writer is None or self.path is None or writer.lines_written or writer.buffered:
            return False
        self._writer = None
        try:
            writer.close()
        except ResultsWriteError as exc:
            log.error("%s", exc)
        if writer.created and _is_empty(self.path):
            remove_results(self.path)
        return True

    def record_stream(self, meta: RunMeta, total: int, sha256: str, complete: bool) -> None:
        """Keep the proof of what this run read of a stream, unless an earlier run read more."""
        if self.path is None:
            return
        if total < stored_stream(read_meta(self.path)).total:
            return  # this run read less than the earlier one: keep the longer proof
        record = stream_input(meta, total=total, sha256=sha256, complete=complete)
        try:
            write_meta(self.path, replace(meta, input=record))
        except ResultsWriteError as exc:
            self._on_error(exc)

    def close_writer(self) -> None:
        """Close the writer (idempotent); a failure is logged: the stop reason was already decided."""
        if self._writer is not None:
            try:
                self._writer.close()
            except ResultsWriteError as exc:
                log.error("%s", exc)

    async def compact(self, superseded_now: bool) -> int:
        """One line per record again, when lines were superseded: returns the lines removed."""
        if self.path is None or not (self.resumed.superseded or superseded_now):
            return 0
        try:
            return await asyncio.to_thread(compact_results, self.path)
        except ResultsWriteError as exc:
            # The file is untouched and valid (the last line per record wins); a resume compacts it.
            self._on_error(exc)
            return 0

    def record_run(self, run: Mapping[str, Any], *, group_name: str | None) -> list[dict[str, Any]]:
        """Add ``run`` to the sidecar's runs; returns them all. Raises :class:`ResultsWriteError`."""
        if self.path is None:
            return [dict(run)]
        return record_run(self.path, run, group_name=group_name)
