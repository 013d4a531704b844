"""The campaign engine: every input record ends as exactly one result line.

::

    source ─► intake ─► bounded queue ─► dispatcher (N workers) ─► outcomes ─► results log ─► RESULTS

The engine is three parts, each owning its state: :mod:`~getui_async.intake` (reader thread, resume
filter, render, dedupe, planner), :mod:`~getui_async.dispatcher` (client, throttle, list task; a plan
becomes outcomes) and :mod:`~getui_async.campaign` (run, stop, drain, summary); the results log is
:mod:`~getui_async.results`. This module keeps the public names in one place.
"""

from __future__ import annotations

from .campaign import Campaign, Summary, run_campaign

__all__ = ["Campaign", "Summary", "run_campaign"]
