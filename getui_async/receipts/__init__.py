"""Getui's receipt callbacks (回执): verify each line's sign, store it durably, then answer.

``protocol`` parses and verifies lines and maps actionIds to stages; ``tally`` counts them; ``store``
(the interface; ``store_sqlite`` and ``store_postgres`` implement it, ``opening`` opens one by
``--store``) keeps them, one row per (taskid, cid, actionId, msgid);
``server`` is the aiohttp endpoint; ``importer`` takes saved lines; ``command`` holds the ``receipts``
subcommands.
"""

from __future__ import annotations

from .opening import StoreSpec, open_store, parse_store
from .protocol import ACTIONS, FUNNEL, Action, Receipt, Refusal, Stage, Verifier, classify
from .store import ReceiptStore, RecipientReceipts, StoreError, fold_recipients, recipients, redact_url
from .tally import Tally

__all__ = [
    "ACTIONS",
    "FUNNEL",
    "Action",
    "Receipt",
    "ReceiptStore",
    "RecipientReceipts",
    "Refusal",
    "Stage",
    "StoreError",
    "StoreSpec",
    "Tally",
    "Verifier",
    "classify",
    "fold_recipients",
    "open_store",
    "parse_store",
    "recipients",
    "redact_url",
]
