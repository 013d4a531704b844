"""``getui-push report``: a results file read into final outcomes, shown as text, JSON or an HTML page.

:func:`read_outcomes` reads; :mod:`.render` and :mod:`.html` show; :mod:`.fetch` adds Getui's own
delivery figures; :mod:`.resend` writes the input records worth sending again.
"""

from __future__ import annotations

from .groups import EXPLAIN, GROUP_ORDER, Group, classify
from .outcomes import Outcomes, read_outcomes

__all__ = ["EXPLAIN", "GROUP_ORDER", "Group", "Outcomes", "classify", "read_outcomes"]
