"""The campaign engine: every input record ends as exactly one result line.

::

    source ─► intake ─► bounded queue ─► dispatcher (N workers) ─► outcomes ─► results log ─► RESULTS

The engine is three parts, each owning its state: :mod:`~getui_async.intake` (resume filter, render,
dedupe, planner, screen; fed by :mod:`~getui_async.feed`'s reader thread), :mod:`~getui_async.dispatcher`
(client, throttle, list task; a plan becomes outcomes) and :mod:`~getui_async.campaign` (run, drain,
summary). Beside them: :mod:`~getui_async.stopping` (why a run stops, and the drain),
:mod:`~getui_async.results.files` (the results file's life in a run), :mod:`~getui_async.pacing` (time rules
and window gate, with :mod:`~getui_async.screening` and :mod:`~getui_async.ledger_recording`) and
:mod:`~getui_async.summary`. This module keeps the public names in one place.
"""

from __future__ import annotations

from .campaign import Campaign, Summary, run_campaign

__all__ = ["Campaign", "Summary", "run_campaign"]
