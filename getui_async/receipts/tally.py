"""Counts of receipt lines taken: the server's one-line log and an import's summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

from .protocol import Receipt, Refusal, Verifier

__all__ = ["DEFAULT_MAX_REQUEST_BYTES", "LOG_INTERVAL_S", "Tally"]

#: A request larger than this is answered 413 (and Getui drops it): far above a few thousand lines.
DEFAULT_MAX_REQUEST_BYTES: Final = 16 * 1024 * 1024
#: The count line is logged this often.
LOG_INTERVAL_S: Final = 60.0


@dataclass
class Tally:
    """Counts of lines taken: the one-line log of the server and the summary of an import."""

    received: int = 0
    stored: int = 0
    duplicate: int = 0
    skipped: int = 0  # not a JSON object at all (an import's log noise): neither refused nor stored
    refused: Counter[Refusal] = field(default_factory=Counter)
    store_failures: int = 0

    @property
    def refused_total(self) -> int:
        return sum(self.refused.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "stored": self.stored,
            "duplicate": self.duplicate,
            "skipped": self.skipped,
            "refused": self.refused_total,
            "refused_by_reason": {str(k): v for k, v in sorted(self.refused.items())},
            "store_failures": self.store_failures,
        }

    def line(self) -> str:
        """``received=… stored=… duplicate=… refused=… (bad_sign=…)``: one log line."""
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.refused.items()))
        text = (
            f"received={self.received} stored={self.stored} duplicate={self.duplicate} "
            f"refused={self.refused_total}" + (f" ({reasons})" if reasons else "")
        )
        if self.skipped:
            text += f" skipped={self.skipped}"
        if self.store_failures:
            text += f" store_failures={self.store_failures}"
        return text

    def check(self, verifier: Verifier, lines: list[bytes]) -> list[Receipt]:
        """The good receipts among ``lines`` (blank ones ignored); the rest are counted here by reason."""
        good: list[Receipt] = []
        for raw in lines:
            line = raw.strip()
            if not line:
                continue
            self.received += 1
            result = verifier.check(line)
            if isinstance(result, Refusal):
                self.refused[result] += 1
            else:
                good.append(result)
        return good
