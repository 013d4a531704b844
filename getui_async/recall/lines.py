"""The recall's own results file (``RESULTS.recall.jsonl`` by default): one line per recipient acted on
and one per list task stopped, written through the results package's lock and writer, and read back on
``--resume`` into its resume state, so a resumed recall never acts on a recipient or a task twice.

Line schema: a recipient's line has the send's ``line``, ``record``, ``cid``/``alias`` and ``taskid``
(the task revoked), the recall's ``status`` (:class:`~getui_async.outcome.RecallStatus`), ``channel``,
``request_id`` (the revoke's), ``code``, ``msg``, ``ts``; a list task's line has ``action: "stop"``, its
``taskid``, ``status``, ``code``, ``msg``, ``ts`` and no ``record``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from getui_async.errors import ResultsFileError
from getui_async.outcome import RecallStatus
from getui_async.results import (
    CLI_WORDS,
    ResultsReader,
    ResultsWriter,
    ResumeState,
    RunLock,
    RunMeta,
    record_run,
)
from getui_async.results.files import line_clock
from getui_async.results.record import (
    F_CODE,
    F_LINE,
    F_MSG,
    F_RECORD,
    F_REQUEST_ID,
    F_STATUS,
    F_TASKID,
    F_TS,
)

from .source import Delivered

__all__ = ["F_ACTION", "F_CHANNEL", "STOP", "RecallFile"]

F_ACTION: Final = "action"  # a list task's line: what was done to the task
F_CHANNEL: Final = "channel"  # a recipient's line: the channel the send's status names
STOP: Final = "stop"


class RecallFile:
    """The recall's results file: locked for the run, resumable, written only by a ``ResultsWriter``."""

    def __init__(self, path: Path, meta: RunMeta, *, resume: bool) -> None:
        self.path = path
        self._meta = meta
        self._resume = resume
        self._lock: RunLock | None = None
        self._writer: ResultsWriter | None = None
        self._clock = line_clock()
        #: Records a recall line already exists for (empty without ``--resume``).
        self.done = ResumeState()
        #: List tasks an earlier run stopped.
        self.stopped: set[str] = set()

    def open(self) -> None:
        """Lock, read what earlier runs did (``--resume``), and open the writer (checked against them)."""
        self._lock = RunLock(self.path, CLI_WORDS).acquire()
        try:
            self.load()
            self._writer = ResultsWriter.open(self.path, self._meta, resume=self._resume, words=CLI_WORDS)
        except BaseException:
            self.close()
            raise

    def load(self) -> None:
        """Read what earlier runs did into :attr:`done` and :attr:`stopped` (only with ``--resume``)."""
        if not self._resume:
            return
        reader = ResultsReader(self.path)
        try:
            for number, obj in reader.decoded():
                if obj is None:
                    raise ResultsFileError(f"{self.path}:{number}: not a recall line; refusing to resume")
                record = obj.get(F_RECORD)
                if type(record) is int and record > 0:
                    self.done.add(record)
                elif obj.get(F_ACTION) == STOP and obj.get(F_STATUS) == RecallStatus.STOPPED.value:
                    self.stopped.add(str(obj.get(F_TASKID)))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise ResultsFileError(f"cannot read {self.path}: {exc.strerror or exc}") from None

    def _write(self, line: Mapping[str, Any]) -> None:
        assert self._writer is not None, "open() first"
        self._writer.write(line)

    def add_stop(self, taskid: str, status: RecallStatus, code: int | None, msg: str) -> None:
        """A list task's line, handed to the OS at once (a resume must not stop it again)."""
        self._write(
            {
                F_ACTION: STOP,
                F_TASKID: taskid,
                F_STATUS: status.value,
                F_CODE: code,
                F_MSG: msg,
                F_TS: self._clock(),
            }
        )
        self.flush()

    def add(
        self, who: Delivered, status: RecallStatus, *, request_id: str | None, code: int | None, msg: str
    ) -> None:
        """One recipient's line (written at the next :meth:`flush`)."""
        self._write(
            {
                F_LINE: who.line,
                F_RECORD: who.record,
                who.kind: who.target,
                F_TASKID: who.taskid,
                F_STATUS: status.value,
                F_CHANNEL: who.channel.value,
                F_REQUEST_ID: request_id,
                F_CODE: code,
                F_MSG: msg,
                F_TS: self._clock(),
            }
        )

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def record_run(self, run: Mapping[str, Any]) -> None:
        """Add this run's counts to the recall file's sidecar (its record of runs)."""
        record_run(self.path, run, group_name=None)

    def close(self) -> None:
        """Flush, fsync and close the writer, then drop the lock (idempotent)."""
        try:
            if self._writer is not None:
                writer, self._writer = self._writer, None
                writer.close()
        finally:
            if self._lock is not None:
                lock, self._lock = self._lock, None
                lock.release()
