"""``getui-push recall``: take back a campaign that went wrong.

Modules by job: :mod:`.source` reads the send's results (through :mod:`getui_async.results` only),
:mod:`.pushes` builds the revoke and override pushes and their request_ids, :mod:`.lines` is the recall's
own resumable results file, :mod:`.engine` stops list tasks and sends the batches, :mod:`.summary`
counts by channel, :mod:`.command` is the CLI's flags and run.
"""

from __future__ import annotations

from .command import add_recall_parser, run
from .engine import Recall, RecallStopped
from .lines import RecallFile
from .pushes import override_message, revoke_message
from .source import Delivered, SendResults, is_list_task
from .summary import RecallSummary

__all__ = [
    "Delivered",
    "Recall",
    "RecallFile",
    "RecallStopped",
    "RecallSummary",
    "SendResults",
    "add_recall_parser",
    "is_list_task",
    "override_message",
    "revoke_message",
    "run",
]
