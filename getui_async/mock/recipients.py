"""Who a push reaches and what becomes of it: invalid users, aliases, and each cid's seeded fate.

A cid's fate (online, offline through a vendor, or ignored; displayed; clicked) comes from one keyed hash
of the cid and the seed, so a re-run with the same seed answers every cid the same way.
"""

from __future__ import annotations

import hashlib
from typing import Final

from .reports import VENDOR_CHANNELS, Figures
from .state import DeliveryStore, Live
from .validate import Invalid

__all__ = ["STATUSES", "Recipients"]

STATUSES: Final = ("successed_online", "successed_offline", "successed_ignore")


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
        """Deliver ``record`` to each cid: ``{cid: status}``, and the deliveries counted in ``reports``.

        One hash per cid decides everything: its top bits the status (``online_ratio``/``ignore_ratio``),
        other bits the vendor an offline delivery goes through and whether it is displayed and clicked.
        Online and ignored deliveries count under Getui's own channel, ``gt``.
        """
        cfg = self._live.config
        online, ignore_from = cfg.online_ratio, 1.0 - cfg.ignore_ratio
        display_cut, click_cut = int(cfg.display_ratio * 65_536), int(cfg.click_ratio * 65_536)
        rows: dict[str, list[int]] = {}
        out: dict[str, str] = {}
        for cid in cids:
            self._store.add(cid, record)
            h = self._hash(cid)
            share = h / 2**64
            if share < online:
                status, channel = STATUSES[0], "gt"
            elif share >= ignore_from:
                status, channel = STATUSES[2], "gt"
            else:
                status, channel = STATUSES[1], VENDOR_CHANNELS[((h >> 32) & 0xFF) % len(VENDOR_CHANNELS)]
            out[cid] = status
            if reports:
                row = rows.get(channel)
                if row is None:
                    row = rows[channel] = [0, 0, 0, 0, 0]
                received = status is not STATUSES[2]
                displayed = received and (h & 0xFFFF) < display_cut
                row[0] += 1
                row[1] += 1
                row[2] += received
                row[3] += displayed
                row[4] += displayed and ((h >> 16) & 0xFFFF) < click_cut
        for figures in reports:
            figures.merge(rows)
        return out

    def _hash(self, cid: str) -> int:
        """A seeded, uniform-looking 64-bit number fixed per cid."""
        digest = hashlib.blake2b(cid.encode(), digest_size=8, key=self._hash_key).digest()
        return int.from_bytes(digest, "big")


def _hash_key(seed: int) -> bytes:
    return str(seed).encode()[:64]
