"""Splitting a request Getui refused as a whole (``20001``), so the good items still go.

For an unknown cid, one ``user/detail`` call usually names it (about 16 fewer requests than bisecting
200 items); otherwise, or if that call does not help, the request is bisected until the bad item stands
alone. The same look-up tells a dead list recipient from one a list reply merely left out.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Final

from .client import GetuiClient
from .errors import ApiError, DuplicateRequestError, InvalidTargetError
from .intake import Job
from .outcome import Kind
from .sender import Abandoned, Call, Sender, together
from .settle import Settler

__all__ = ["LOOKUP_MIN_ATTEMPTS", "Again", "Splitter"]

log = logging.getLogger(__name__)

#: Sends part of a refused request again: ``(kind, jobs, attempts so far)``.
Again = Callable[[Kind, Sequence[Job], int], Awaitable[None]]

#: ``user/detail`` takes this many cids a call, at most.
_DETAIL_LIMIT: Final = 1000
#: Attempts for a ``user/detail`` look-up at least, whatever ``--max-attempts`` says: a look-up
#: delivers nothing, and without it a dead list recipient could only be written ``accepted``.
LOOKUP_MIN_ATTEMPTS: Final = 3


class Splitter:
    """Finds the bad items of a refused request (``user/detail``, else bisection)."""

    def __init__(self, client: GetuiClient, sender: Sender, settler: Settler) -> None:
        self._client = client
        self._sender = sender
        self._settler = settler

    async def split(
        self, kind: Kind, jobs: Sequence[Job], exc: ApiError, attempts: int, again: Again
    ) -> None:
        """Fail the bad items of a request refused as a whole; send the rest ``again``."""
        settler = self._settler
        if isinstance(exc, InvalidTargetError) and kind == "cid" and len(jobs) > 1:
            invalid = await self.invalid_cids(jobs)
            if invalid:
                good = [job for job in jobs if job.target not in invalid]
                for job in jobs:
                    if job.target in invalid:
                        settler.failed(job, exc, attempts)
                settler.commit()
                if good:
                    await again(kind, good, attempts)
                return
        if len(jobs) == 1:
            if isinstance(exc, DuplicateRequestError):
                settler.taken(jobs[0], exc.code, attempts)
            else:
                settler.failed(jobs[0], exc, attempts)
            return
        half = len(jobs) // 2
        await together(again(kind, jobs[:half], attempts), again(kind, jobs[half:], attempts))

    async def invalid_cids(self, jobs: Sequence[Job], *, settling: bool = False) -> frozenset[str] | None:
        """The cids of ``jobs`` Getui calls invalid (``user/detail``, ≤1000 a call); None if unknown.

        ``settling``: the recipients were pushed already and need a line, so ask even while stopping.
        """
        cids = [job.target for job in jobs]
        invalid: set[str] = set()
        for start in range(0, len(cids), _DETAIL_LIMIT):
            part = cids[start : start + _DETAIL_LIMIT]
            lookup = Call(
                "user_detail",
                0,
                partial(self._client.user_detail, part),
                unsure=settling,
                min_attempts=LOOKUP_MIN_ATTEMPTS,
            )
            try:
                check = await self._sender.call(lookup)
            except Abandoned:
                return None
            except ApiError as exc:
                log.debug("user/detail could not tell the invalid cids: %s", exc)
                return None
            invalid.update(check.invalid)
        return frozenset(invalid) & frozenset(cids)
