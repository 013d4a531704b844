"""One campaign spread over several machines: ``--shard I/N`` owns the recipients whose key hashes to I.

The partition is a pure function of the recipient (its kind and id), never of the host, the run or the
record's position: every shard reads the whole input and keeps the records it owns, so a recipient that
appears twice lands on one shard (its duplicate stays a ``duplicate`` line there) and no two hosts ever
send to one recipient. The hash is the first 8 bytes of a personalised blake2b digest, which is the same
on every platform and Python version (``hash()`` is salted per process, so it never decides this).

A record without a usable recipient id (a bad record, rejected without a request) belongs to shard 0,
so its ``rejected`` line is written exactly once across the shards.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from .errors import ConfigError

__all__ = [
    "ENV_JOB_INDEX",
    "ENV_SHARD",
    "MAX_SHARDS",
    "SHARD_FIELD",
    "Shard",
    "ShardError",
    "parse_shard",
    "shard_of",
]

#: The environment variable that gives ``--shard`` when the flag is absent.
ENV_SHARD: Final = "GETUI_SHARD"
#: What Kubernetes sets in each pod of an Indexed Job (``completionMode: Indexed``): 0 .. completions-1.
ENV_JOB_INDEX: Final = "JOB_COMPLETION_INDEX"
#: The placeholder in ``--out`` that becomes the shard's index.
SHARD_FIELD: Final = "{shard}"
#: More shards than this would be a typo, not a plan (Kubernetes caps an Indexed Job at 100,000).
MAX_SHARDS: Final = 100_000
_PERSON: Final = b"getui-shard"
_SPEC: Final = re.compile(r"\s*([0-9]+|auto)\s*/\s*([0-9]+)\s*")


class ShardError(ConfigError):
    """A bad shard spec or a missing job index (exit 2); the message names the flag or variable."""


def shard_of(kind: str, key: str, count: int) -> int:
    """The shard (0 .. ``count``-1) that owns the recipient ``key`` of ``kind`` (``cid``/``alias``).

    Each part is length-prefixed, so a cid and an alias spelled alike are different recipients.
    """
    framed = f"{len(kind)}:{kind}{len(key)}:{key}".encode()
    digest = hashlib.blake2b(framed, digest_size=8, person=_PERSON).digest()
    return int.from_bytes(digest, "big") % count


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` of ``count``: said ``I/N`` in flags, the sidecar and the report."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_SHARDS:
            raise ShardError(f"shard count must be 1..{MAX_SHARDS}, got {self.count}")
        if not 0 <= self.index < self.count:
            last = self.count - 1
            raise ShardError(f"shard index must be 0..{last} for {self.count} shards, got {self.index}")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, kind: str, key: str) -> bool:
        """True when this shard sends to the recipient ``key`` of ``kind``."""
        return shard_of(kind, key, self.count) == self.index

    @property
    def owns_unkeyed(self) -> bool:
        """True for the shard that writes the lines of records with no usable recipient id (shard 0)."""
        return self.index == 0

    def out_path(self, template: str) -> str:
        """A results path with ``{shard}`` replaced by this shard's index."""
        return template.replace(SHARD_FIELD, str(self.index))

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``I/N`` as a Shard; :class:`ShardError` otherwise (``auto/N`` is :func:`parse_shard`'s)."""
        found = _SPEC.fullmatch(text)
        if found is None or found.group(1) == "auto":
            raise ShardError("expected I/N, such as 0/4 (shard I of N, counted from 0)")
        return cls(int(found.group(1)), int(found.group(2)))


def parse_shard(spec: str, *, origin: str, environ: Mapping[str, str]) -> Shard:
    """``spec`` (``I/N`` or ``auto/N``) as a Shard; errors name ``origin`` (a ``--flag`` or a variable).

    ``auto/N`` takes I from Kubernetes' ``JOB_COMPLETION_INDEX``, so one Job spec serves every pod.
    """
    given = f"{origin} {spec}" if origin.startswith("-") else f"{origin}={spec}"
    found = _SPEC.fullmatch(spec)
    if found is not None and found.group(1) == "auto":
        index = environ.get(ENV_JOB_INDEX, "").strip()
        if not index:
            example = given.replace(found.group(1), "0", 1)
            raise ShardError(
                f"{given}: {ENV_JOB_INDEX} is not set (Kubernetes sets it in an Indexed Job); "
                f"give the index yourself, such as {example}"
            )
        if not index.isascii() or not index.isdigit():
            raise ShardError(f"{given}: {ENV_JOB_INDEX} is {index!r}, not a shard index")
        spec = f"{index}/{found.group(2)}"
        given = f"{given} ({ENV_JOB_INDEX}={index})"
    try:
        return Shard.parse(spec)
    except ShardError as exc:
        raise ShardError(f"{given}: {exc}") from None
