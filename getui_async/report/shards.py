"""Several results files of one sharded campaign (``send --shard I/N``) read as the whole campaign.

Each shard's file holds exactly the records its shard owns, numbered as in the whole input, so the
campaign's outcome is the sum of the shards' outcomes: counts add, record bitmaps unite, timelines merge.
Files are checked before a line is read: all of one campaign (same id, message and input), each a shard
of the same N, no shard twice. A shard not given is named ("shard 2/4 missing"): the figures then cover
the given shards only. RESULTS may be a glob (``results-*.jsonl``) or name ``{shard}``.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

from getui_async.errors import ConfigError
from getui_async.results.sidecar import (
    K_CAMPAIGN_ID,
    K_INPUT,
    K_REQUESTS,
    K_RETRIES,
    K_RUNS,
    K_SHA256,
    K_SHARD,
    K_TEMPLATE,
    companion_suffixes,
    sidecar_name,
)
from getui_async.results.sidecar import read_meta_strict as read_meta
from getui_async.shard import SHARD_FIELD, Shard, ShardError

from .outcomes import MAX_LIST_TASKS, MAX_REASONS, Outcomes, count_reason, count_variant, read_outcomes

__all__ = ["ShardSet", "expand_results", "read_campaign"]

#: Files beside a results file that a glob such as ``results-*`` also matches (never results themselves;
#: temporaries start with a dot, which a glob never matches).
_COMPANIONS: Final = companion_suffixes()


@dataclass(frozen=True)
class ShardSet:
    """Which shards of an N-shard campaign the report was given (index -> file)."""

    count: int
    files: Mapping[int, Path]

    @property
    def missing(self) -> list[str]:
        """The shards not given, as ``I/N``."""
        return [str(Shard(i, self.count)) for i in range(self.count) if i not in self.files]

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "files": {str(Shard(i, self.count)): str(p) for i, p in sorted(self.files.items())},
            "missing": self.missing,
        }


def expand_results(texts: Sequence[str]) -> list[Path]:
    """RESULTS arguments as paths: a glob or a ``{shard}`` pattern expanded (in shard order), a plain
    path as given; a pattern that matches no results file is :class:`ConfigError`."""
    paths: list[Path] = []
    for text in texts:
        if SHARD_FIELD in text:
            head, _, tail = text.partition(SHARD_FIELD)
            digits = re.compile(re.escape(head) + r"([0-9]+)" + re.escape(tail))
            found = [
                (m, p)
                for p in glob.glob(glob.escape(head) + "*" + glob.escape(tail))
                if (m := digits.fullmatch(p))
            ]
            matches = [p for m, p in sorted(found, key=lambda mp: int(mp[0].group(1)))]
        elif glob.has_magic(text) and not Path(text).exists():
            matches = sorted(p for p in glob.glob(text) if not p.endswith(_COMPANIONS))
        else:
            paths.append(Path(text))
            continue
        if not matches:
            raise ConfigError(f"{text}: no results file matches")
        paths += [Path(p) for p in matches]
    return paths


def read_campaign(
    paths: Sequence[Path], *, dead_cids: BinaryIO | None = None
) -> tuple[Outcomes, ShardSet | None]:
    """The outcomes of one results file, or of several shards of one campaign summed; and which shards
    they are (None for a file of a whole campaign). Dead cids of every file go to ``dead_cids``."""
    metas = [read_meta(path) for path in paths]
    shards = _check(paths, metas)
    merged = read_outcomes(paths[0], dead_cids=dead_cids)
    for path in paths[1:]:
        _add(merged, read_outcomes(path, dead_cids=dead_cids))
    if len(paths) > 1:
        merged.meta = _merged_meta(metas)
    return merged, shards


def _check(paths: Sequence[Path], metas: Sequence[Mapping[str, Any]]) -> ShardSet | None:
    """Refuse files that are not shards of one campaign, before any line is read."""
    first, meta0 = paths[0], metas[0]
    for path, meta in zip(paths[1:], metas[1:], strict=True):
        for key, what in ((K_CAMPAIGN_ID, "campaign"), (K_TEMPLATE, "message"), (K_SHA256, "input")):
            mine, theirs = _key(meta0, key), _key(meta, key)
            if mine != theirs and not (key == K_SHA256 and None in (mine, theirs)):
                shown = f": {mine!r} and {theirs!r}" if key == K_CAMPAIGN_ID else ""
                raise ConfigError(
                    f"{first} and {path} belong to different campaigns (their {what} differs{shown})"
                )
    files: dict[int, Path] = {}
    count: int | None = None
    for path, meta in zip(paths, metas, strict=True):
        spec = meta.get(K_SHARD)
        if spec is None:
            if len(paths) == 1:
                return None
            raise ConfigError(
                f"{path}: not a shard (sent without --shard); report takes several files only for the "
                "shards of one campaign"
            )
        try:
            shard = Shard.parse(str(spec))
        except ShardError as exc:
            raise ConfigError(f"{sidecar_name(path)}: shard {spec!r}: {exc}") from None
        if count is not None and shard.count != count:
            raise ConfigError(f"{path} is shard {shard}, but {paths[0]} is one of {count} shards")
        count = shard.count
        if shard.index in files:
            raise ConfigError(f"shard {shard} given twice: {files[shard.index]} and {path}")
        files[shard.index] = path
    assert count is not None
    return ShardSet(count, files)


def _key(meta: Mapping[str, Any], key: str) -> Any:
    """A sidecar key, looked up in its ``input`` object for the input's digest."""
    if key == K_SHA256:
        found = meta.get(K_INPUT)
        return found.get(K_SHA256) if isinstance(found, Mapping) else None
    return meta.get(key)


def _merged_meta(metas: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The first sidecar with every shard's runs, requests and retries summed (unknown if one lacks it)."""
    merged = dict(metas[0])
    merged.pop(K_SHARD, None)
    merged.pop("requests_sent", None)
    runs = [m.get(K_RUNS) for m in metas]
    if all(isinstance(r, list) for r in runs):
        merged[K_RUNS] = [run for r in runs for run in r]  # type: ignore[union-attr]
    else:
        merged.pop(K_RUNS, None)
    for key in (K_REQUESTS, K_RETRIES):
        values = [m.get(key) for m in metas]
        if all(type(v) is int for v in values):
            merged[key] = sum(values)
        else:
            merged.pop(key, None)
    return merged


def _add(into: Outcomes, other: Outcomes) -> None:
    """Add ``other`` (another shard of the same campaign) to ``into``."""
    for name in (
        "lines",
        "records",
        "superseded",
        "supersedes_lines",
        "already_taken",
        "attempts",
        "retried_records",
        "single_push_records",
        "list_push_records",
        "seen_bytes",
    ):
        setattr(into, name, getattr(into, name) + getattr(other, name))
    into.torn_tail = into.torn_tail or other.torn_tail
    into.by_status.update(other.by_status)
    into.by_group.update(other.by_group)
    for table in ("failed_by_reason", "retryable_by_reason", "rejected_by_field"):
        for key, n in getattr(other, table).items():
            count_reason(getattr(into, table), key, n)
    firsts = [ts for ts in (into.first_ts, other.first_ts) if ts]
    into.first_ts = min(firsts) if firsts else None
    into.last_ts = max(into.last_ts or "", other.last_ts or "") or None
    _fill(into.list_taskids, other.list_taskids, MAX_LIST_TASKS)
    _fill(into.runs_in_lines, other.runs_in_lines, MAX_REASONS)
    into.timeline.merge(other.timeline)
    into.retryable_records.update(other.retryable_records)
    for variant, row in other.by_variant.items():
        for group, n in enumerate(row):
            if n:
                count_variant(into.by_variant, variant, group, n)


def _fill(into: set[Any], other: set[Any], limit: int) -> None:
    """Add ``other``'s members to ``into`` while it holds fewer than ``limit`` (as one file's read does)."""
    for item in other:
        if len(into) >= limit:
            return
        into.add(item)
