"""The results file ``RESULTS``, its sidecar ``RESULTS.meta.json`` and its lock ``RESULTS.lock``: this
package is the only code that opens them. One job per module:

* :mod:`.record`: the line schema and :class:`ResultLine` (``to_bytes``/``parse``), what a failed line means;
* :mod:`.reader`: the one reader (forwards, backwards, prefilters, the torn-tail rule, the record bitmap);
* :mod:`.sidecar`: the sidecar's keys, :class:`RunMeta`, the record of runs, the paths around ``RESULTS``;
* :mod:`.lock`: :class:`RunLock` (one run per file) and the disk reserve;
* :mod:`.writer`: :class:`ResultsWriter`, the only writer;
* :mod:`.compaction`: one line per record again after ``--retry-failed``;
* :mod:`.resume`: :class:`ResumeState` and :func:`load_resume_state`;
* :mod:`.log`: :class:`ResultsLog`, where the engine's outcomes go.
"""

from __future__ import annotations

from getui_async.outcome import FINAL_STATUSES, RETRYABLE_ACTIONS, FailedKind, Status

from .compaction import compact_results
from .lock import CLI_WORDS, LIBRARY_WORDS, ResultsLocked, RunLock, Words
from .log import ResultsLog
from .reader import RecordBitmap, ResultsReader
from .record import ResultLine, failed_kind, is_retryable, is_unconfirmed
from .resume import UNBOUNDED_RECORDS, ResumeState, load_resume_state
from .sidecar import (
    ResultsWriteError,
    RunMeta,
    lock_path,
    meta_path,
    read_meta,
    recall_path,
    record_run,
    stored_campaign,
    stored_encoding,
    stored_replace_ids,
    write_meta,
)
from .writer import ResultsWriter

__all__ = [
    "CLI_WORDS",
    "FINAL_STATUSES",
    "LIBRARY_WORDS",
    "RETRYABLE_ACTIONS",
    "UNBOUNDED_RECORDS",
    "FailedKind",
    "RecordBitmap",
    "ResultLine",
    "ResultsLocked",
    "ResultsLog",
    "ResultsReader",
    "ResultsWriteError",
    "ResultsWriter",
    "ResumeState",
    "RunLock",
    "RunMeta",
    "Status",
    "Words",
    "compact_results",
    "failed_kind",
    "is_retryable",
    "is_unconfirmed",
    "load_resume_state",
    "lock_path",
    "meta_path",
    "read_meta",
    "recall_path",
    "record_run",
    "stored_campaign",
    "stored_encoding",
    "stored_replace_ids",
    "write_meta",
]
