"""Who a push reaches and what becomes of it: invalid users, aliases, and each cid's seeded fate.

A cid's fate (online, offline through a vendor, or ignored; displayed; clicked) comes from one keyed hash
of the cid and the seed, so a re-run with the same seed answers every cid the same way.
"""

from __future__ import annotations

import hashlib
import logging
import marshal
from typing import Final

from .reports import VENDOR_CHANNELS, Figures
from .state import DeliveryEvent, DeliveryStore, Live
from .validate import Invalid

__all__ = ["STATUSES", "Recipients"]

STATUSES: Final = ("successed_online", "successed_offline", "successed_ignore")

_log = logging.getLogger(__name__)


class Recipients:
    """Resolves targets to cids, and delivers to them into the store and the report figures."""

    __slots__ = ("_hash_key", "_live", "_store")

    def __init__(self, live: Live, store: DeliveryStore) -> None:
        self._live = live
        self._store = store
        self._hash_key = _hash_key(live.config.seed)

    def reseed(self, seed: int) -> None:
        self._hash_key = _hash_key(seed)

    def is_invalid(self, target: str) -> bool:
        cfg = self._live.config
        return target in cfg.invalid_cids or target.startswith(cfg.invalid_cid_prefix)

    def resolve(self, target: str, target_key: str) -> list[str]:
        """The cids behind a cid or alias; an unknown alias is the synthetic cid ``alias:{alias}``."""
        if self.is_invalid(target):
            raise Invalid("target user is invalid")
        if target_key == "cid":
            return [target]
        aliases = self._live.config.aliases
        cids = [cid for cid in aliases.get(target, ("alias:" + target,)) if not self.is_invalid(cid)]
        if not cids:
            raise Invalid("target user is invalid")
        return cids

    def resolve_listed(self, target: str, target_key: str) -> list[str]:
        """Like :meth:`resolve`, but an invalid target of a list push is dropped (``[]``) by default."""
        try:
            return self.resolve(target, target_key)
        except Invalid:
            if self._live.config.list_invalid_cid == "fail":
                raise
            return []

    def share(self, cid: str) -> float:
        """A seeded, uniform-looking number in [0, 1) fixed per cid."""
        return self._hash(cid) / 2**64

    def deliver(self, cids: list[str], record: bytes, reports: list[Figures]) -> dict[str, str]:
        """Deliver ``record`` to each cid: ``{cid: status}``, the deliveries counted in ``reports`` and
        announced to every ``on_delivery`` observer.

        One hash per cid decides everything: its top bits the status (``online_ratio``/``ignore_ratio``),
        other bits the vendor an offline delivery goes through and whether it is displayed and clicked.
        Online and ignored deliveries count under Getui's own channel, ``gt``.
        """
        cfg = self._live.config
        hooks = self._live.on_delivery
        taskid = marshal.loads(record)[0] if hooks else ""  # noqa: S302 (a record we packed ourselves)
        now = self._live.clock() if hooks else 0.0
        display_cut, click_cut = int(cfg.display_ratio * 65_536), int(cfg.click_ratio * 65_536)
        rows: dict[str, list[int]] = {}
        out: dict[str, str] = {}
        for cid in cids:
            self._store.add(cid, record)
            h = self._hash(cid)
            status, channel = self._fate(h)
            out[cid] = status
            if not reports and not hooks:
                continue
            received = status is not STATUSES[2]
            displayed = received and (h & 0xFFFF) < display_cut
            clicked = displayed and ((h >> 16) & 0xFFFF) < click_cut
            if reports:
                row = rows.get(channel)
                if row is None:
                    row = rows[channel] = [0, 0, 0, 0, 0]
                row[0] += 1
                row[1] += 1
                row[2] += received
                row[3] += displayed
                row[4] += clicked
            if hooks:
                msgid = hashlib.blake2b(f"{taskid}|{cid}".encode(), digest_size=12).hexdigest()
                self._announce(
                    DeliveryEvent(cfg.app_id, cid, taskid, msgid, status, channel, displayed, clicked, now)
                )
        for figures in reports:
            figures.merge(rows)
        return out

    def channel(self, cid: str) -> str:
        """The channel deliveries to ``cid`` go through: ``gt`` or a vendor (the same every time)."""
        return self._fate(self._hash(cid))[1]

    def statuses(self, cids: list[str]) -> dict[str, str]:
        """``{cid: status}`` as :meth:`deliver` would answer, without delivering (revoke messages)."""
        return {cid: self._fate(self._hash(cid))[0] for cid in cids}

    def _fate(self, h: int) -> tuple[str, str]:
        """The status and channel a cid's hash decides."""
        cfg = self._live.config
        share = h / 2**64
        if share < cfg.online_ratio:
            return STATUSES[0], "gt"
        if share >= 1.0 - cfg.ignore_ratio:
            return STATUSES[2], "gt"
        return STATUSES[1], VENDOR_CHANNELS[((h >> 32) & 0xFF) % len(VENDOR_CHANNELS)]

    def _announce(self, event: DeliveryEvent) -> None:
        """Call every observer; one that raises is logged and counted, never fails the push."""
        for hook in self._live.on_delivery:
            try:
                hook(event)
            except Exception:
                self._live.counters.hook_errors += 1
                _log.exception("an on_delivery observer failed")

    def _hash(self, cid: str) -> int:
        """A seeded, uniform-looking 64-bit number fixed per cid."""
        digest = hashlib.blake2b(cid.encode(), digest_size=8, key=self._hash_key).digest()
        return int.from_bytes(digest, "big")


def _hash_key(seed: int) -> bytes:
    return str(seed).encode()[:64]
