"""DuplicateFilter: exact verdicts, hold and scan order, filter growth, spill lifecycle, memory."""

from __future__ import annotations

import os
import random
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from getui_async import dedupe
from getui_async.dedupe import DuplicateFilter

MakeFilter = Callable[..., DuplicateFilter[str]]


def twin(fp: int) -> int:
    """A different fingerprint the filter cannot tell from ``fp``: same word (low bits), same pattern (top
    12 bits), differing only in bit 40, which neither uses while the filter is under 2**40 words."""
    return fp ^ (1 << 40)


def spill_fds(spill_dir: Path) -> list[str]:
    """Targets of this process's open file descriptors that lie in ``spill_dir`` (Linux /proc)."""
    fd_dir = Path("/proc/self/fd")
    targets = []
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # the fd of the iteration itself, closed meanwhile
            continue
        if target.startswith(str(spill_dir)):
            targets.append(target)
    return targets


@pytest.fixture
def make_filter(tmp_path: Path) -> Iterator[MakeFilter]:
    """A factory for filters spilling into tmp_path; closes every filter it made."""
    made: list[DuplicateFilter[str]] = []

    def factory(**kwargs: int) -> DuplicateFilter[str]:
        flt: DuplicateFilter[str] = DuplicateFilter(spill_dir=tmp_path, **kwargs)
        made.append(flt)
        return flt

    yield factory
    for flt in made:
        flt.close()


def test_first_occurrence_is_new_at_once_and_repeat_is_held(make_filter: MakeFilter) -> None:
    """A first occurrence comes back at once as new; a repeat is held, then reported duplicate at flush."""
    flt = make_filter()
    assert flt.add(7, "a") == [("a", False)]
    assert flt.add(7, "b") == []
    assert flt.held == 1
    assert flt.flush() == [("b", True)]
    assert flt.held == 0
    assert flt.flush() == []


def test_registered_key_makes_a_later_add_a_duplicate(make_filter: MakeFilter) -> None:
    """A key registered from an earlier run counts as an earlier occurrence but yields no item."""
    flt = make_filter()
    flt.register(42)
    assert flt.add(42, "again") == []
    assert flt.flush() == [("again", True)]
    assert flt.stats.keys == 2


def test_filter_false_positive_is_resolved_as_new(make_filter: MakeFilter) -> None:
    """A distinct key the filter confuses with an earlier one is held, then found new by the scan."""
    flt = make_filter()
    fp = 0x0123_4567_89AB_CDEF
    assert flt.add(fp, "first") == [("first", False)]
    assert flt.add(twin(fp), "lookalike") == []
    assert flt.flush() == [("lookalike", False)]
    assert flt.stats.suspects == 1
    assert flt.stats.duplicates == 0


def test_full_hold_returns_every_held_item_in_position_order(make_filter: MakeFilter) -> None:
    """When the hold fills, the add that filled it returns all held items, oldest first, with verdicts."""
    flt = make_filter(hold_limit=4)
    a, b = 0xAAAA_0000_0000_0001, 0xBBBB_0000_0000_0002
    assert flt.add(a, "a1") == [("a1", False)]
    assert flt.add(b, "b1") == [("b1", False)]
    assert flt.add(b, "b2") == []
    assert flt.add(twin(a), "a-twin") == []
    assert flt.add(a, "a2") == []
    assert flt.held == 3
    assert flt.add(twin(a), "a-twin-2") == [("b2", True), ("a-twin", False), ("a2", True), ("a-twin-2", True)]
    assert flt.held == 0
    assert flt.stats.scans == 1


def test_filter_grows_from_the_spill_and_stays_exact(make_filter: MakeFilter) -> None:
    """Past its capacity the filter doubles (rebuilt from the spill) and still knows every earlier key."""
    flt = make_filter(expected=0)
    rng = random.Random(1)
    keys = [rng.getrandbits(64) for _ in range(3 * dedupe.SPILL_CHUNK)]
    first_size = flt.stats.filter_bytes
    verdicts: dict[str, bool] = {}
    for i, fp in enumerate(keys):
        verdicts.update(flt.add(fp, f"new-{i}"))
    assert flt.stats.rebuilds >= 5
    assert flt.stats.filter_bytes > first_size
    for i, fp in enumerate(keys[::997]):
        verdicts.update(flt.add(fp, f"repeat-{i}"))
    verdicts.update(flt.flush())
    assert len(verdicts) == flt.stats.keys == len(keys) + len(keys[::997])
    assert {item for item, is_duplicate in verdicts.items() if is_duplicate} == {
        f"repeat-{i}" for i in range(len(keys[::997]))
    }


def test_spill_appends_stay_intact_after_a_scan_that_stopped_early(
    make_filter: MakeFilter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scan that ends in the first chunk (all firsts found) leaves later spill writes appending, not
    overwriting: keys from every chunk are still known afterwards."""
    monkeypatch.setattr(dedupe, "SPILL_CHUNK", 4)
    flt = make_filter(hold_limit=1)
    for fp in range(12):
        flt.register(fp)
    assert flt.add(0, "early") == [("early", True)]
    for fp in range(100, 108):
        flt.register(fp)
    later = [verdict for fp in range(12) for _, verdict in flt.add(fp, str(fp))]
    assert later == [True] * 12


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inspects /proc/self/fd")
def test_spill_is_an_anonymous_temp_file_removed_on_close(tmp_path: Path) -> None:
    """The spill lives in spill_dir with no name (gone even on a crash) and its descriptor closes on close."""
    with DuplicateFilter[str](spill_dir=tmp_path) as flt:
        assert spill_fds(tmp_path) == []  # small inputs never touch disk
        for fp in range(dedupe.SPILL_CHUNK):
            flt.register(fp)
        targets = spill_fds(tmp_path)
        assert len(targets) == 1
        assert targets[0].endswith("(deleted)")
        assert list(tmp_path.iterdir()) == []
    assert spill_fds(tmp_path) == []


def test_closed_filter_refuses_work(make_filter: MakeFilter) -> None:
    """After close, add, register and flush raise instead of silently forgetting keys; close is idempotent."""
    flt = make_filter()
    flt.close()
    flt.close()
    for call in (lambda: flt.add(1, "x"), lambda: flt.register(1), flt.flush):
        with pytest.raises(ValueError, match="closed"):
            call()


@pytest.mark.parametrize("fp", [-1, 2**64])
def test_fingerprint_outside_uint64_is_refused_without_effect(make_filter: MakeFilter, fp: int) -> None:
    """A fingerprint outside 0..2**64-1 raises ValueError and takes no position."""
    flt = make_filter()
    with pytest.raises(ValueError, match="unsigned 64-bit"):
        flt.add(fp, "bad")
    assert flt.stats.keys == 0
    assert flt.add(2**64 - 1, "max") == [("max", False)]


@pytest.mark.parametrize(
    ("kwargs", "match"), [({"hold_limit": 0}, "hold_limit"), ({"expected": -1}, "expected")]
)
def test_nonsense_settings_are_refused(kwargs: dict[str, Any], match: str) -> None:
    """hold_limit below 1 or a negative expected count is a ValueError naming the setting."""
    with pytest.raises(ValueError, match=match):
        DuplicateFilter(**kwargs)


# --- property test against a set-based reference ------------------------------------------------------

fingerprints = st.one_of(
    st.builds(lambda hi, lo: hi << 52 | lo, st.integers(0, 3), st.integers(0, 7)),  # many collisions
    st.integers(0, 2**64 - 1),
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), fingerprints),
        st.tuples(st.just("register"), fingerprints),
        st.tuples(st.just("flush"), st.just(0)),
    ),
    max_size=120,
)


@settings(max_examples=300, deadline=None)
@given(ops=operations, hold_limit=st.integers(1, 6), expected=st.integers(0, 8))
def test_verdicts_match_a_set_reference(ops: list[tuple[str, int]], hold_limit: int, expected: int) -> None:
    """Any add/register/flush sequence: each item returned once, duplicate iff its key occurred earlier."""
    reference: dict[int, bool] = {}
    seen: set[int] = set()
    returned: list[tuple[int, bool]] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dedupe, "SPILL_CHUNK", 4)  # spill to disk and scan the file in tiny chunks
        mp.setattr(dedupe, "_MIN_WORDS", 1)  # start from one word: constant suspects and rebuilds
        with DuplicateFilter[int](expected=expected, hold_limit=hold_limit) as flt:
            for n, (op, fp) in enumerate(ops):
                if op == "add":
                    reference[n] = fp in seen
                    returned += flt.add(fp, n)
                elif op == "register":
                    flt.register(fp)
                else:
                    returned += flt.flush()
                if op != "flush":
                    seen.add(fp)
                assert flt.held == len(reference) - len(returned) < hold_limit
            returned += flt.flush()
            assert flt.stats.duplicates == sum(reference.values())
            assert flt.stats.keys == len(ops) - sum(op == "flush" for op, _ in ops)
    assert sorted(returned) == sorted(reference.items())
    assert len(returned) == len(reference)


# --- memory ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_million_distinct_keys_cost_about_two_bytes_each(tmp_path: Path) -> None:
    """1,000,000 distinct keys from an expected 100,000 stay under 6 MB of traced memory (a set needs ~70)."""
    n = 1_000_000
    rng = random.Random(5)
    keys = [rng.getrandbits(64) for _ in range(n)]
    tracemalloc.start()
    try:
        with DuplicateFilter[None](expected=100_000, spill_dir=tmp_path) as flt:
            decided = sum(len(flt.add(fp, None)) for fp in keys) + len(flt.flush())
            current, peak = tracemalloc.get_traced_memory()
            stats = flt.stats
    finally:
        tracemalloc.stop()
    print(f"\n{n} keys: {current / n:.2f} B/key retained, {peak / n:.2f} B/key peak; {stats}")
    assert decided == n
    assert stats.duplicates == 0
    assert peak < 6 * 2**20
