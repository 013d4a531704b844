"""--exclude lists: text, CSV/JSONL and earlier results files; the file that excluded is named."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from getui_async import _json
from getui_async.errors import InputError
from getui_async.exclusions import ExclusionSet
from getui_async.results import meta_path

CID_A = "a" * 32
CID_B = "b" * 32
CID_C = "c" * 32


def result_line(record: int, cid: str, status: str, code: int | None, msg: str) -> dict[str, object]:
    return {"line": record + 1, "record": record, "cid": cid, "status": status, "code": code, "msg": msg}


def write_jsonl(path: Path, rows: list[dict[str, object]], tail: bytes = b"") -> Path:
    path.write_bytes(b"".join(_json.dumps_line(row) for row in rows) + tail)
    return path


def test_text_file_ids_match_a_cid_or_an_alias(tmp_path: Path) -> None:
    """A text list (BOM, blanks, # comments) excludes its ids as cids or aliases, naming the file."""
    listed = tmp_path / "optout.txt"
    listed.write_bytes(f"\ufeff{CID_A}\n\n# unsubscribed\n  user-7  \n".encode())
    with ExclusionSet.load([listed]) as excluded:
        assert excluded.contains("cid", CID_A) == str(listed)
        assert excluded.contains("alias", "user-7") == str(listed)
        assert excluded.contains("cid", CID_B) is None
        assert len(excluded) == 2
        assert excluded.message(str(listed)) == f"excluded by {listed}"


def test_bad_text_line_names_file_and_line(tmp_path: Path) -> None:
    """A line that is not one id makes the file unusable, naming file and line (exit 2 before sending)."""
    listed = tmp_path / "optout.txt"
    listed.write_text(f"{CID_A}\nnot one id\n")
    with pytest.raises(InputError, match=r"optout\.txt:2: expected one cid or alias a line"):
        ExclusionSet.load([listed])


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    """A missing --exclude file is reported by name."""
    with pytest.raises(InputError, match=r"nope\.txt: no such file"):
        ExclusionSet.load([tmp_path / "nope.txt"])


def test_csv_and_jsonl_keep_the_id_kind(tmp_path: Path) -> None:
    """A CSV's cid column excludes cids and a JSONL's alias key aliases, through the input reader."""
    table = tmp_path / "dead.csv"
    table.write_text(f"cid,name\n{CID_A},x\n{CID_B},y\n")
    aliases = tmp_path / "vip.jsonl.gz"
    aliases.write_bytes(gzip.compress(b'{"alias": "boss"}\n'))
    with ExclusionSet.load([table, aliases]) as excluded:
        assert excluded.contains("cid", CID_B) == str(table)
        assert excluded.contains("alias", CID_B) is None
        assert excluded.contains("alias", "boss") == str(aliases)
        assert excluded.contains("cid", "boss") is None


def test_bad_csv_record_names_the_line(tmp_path: Path) -> None:
    """A record the reader rejects makes the exclusion file unusable, naming its line."""
    table = tmp_path / "dead.csv"
    table.write_text(f"cid\n{CID_A}\n\n{'x' * 100}\n")
    with pytest.raises(InputError, match=r"dead\.csv:4"):
        ExclusionSet.load([table])


def test_results_file_gives_only_its_dead_cids(tmp_path: Path) -> None:
    """From an earlier results file only cids Getui called invalid are excluded; the torn tail is ignored."""
    results = write_jsonl(
        tmp_path / "march.jsonl",
        [
            result_line(1, CID_A, "failed", 20001, "target user is invalid"),
            result_line(2, CID_B, "failed", 20001, "request_id cannot be repeat"),
            result_line(3, CID_C, "failed", 20001, "invalid parameter: title"),
            result_line(4, "d" * 32, "successed_offline", 0, "success"),
            result_line(5, "e" * 32, "failed", 30009, "push count over the daily total"),
        ],
        tail=b'{"record": 6, "cid": "ffff", "status": "failed", "code": 20001, "msg": "target us',
    )
    meta_path(results).write_bytes(_json.dumps({"campaign_id": "march"}))
    with ExclusionSet.load([results]) as excluded:
        assert excluded.contains("cid", CID_A) == str(results)
        assert [excluded.contains("cid", c) for c in (CID_B, CID_C, "d" * 32, "e" * 32, "ffff")] == [None] * 5


def test_results_file_without_sidecar_is_known_by_its_lines(tmp_path: Path) -> None:
    """A copied results file (no sidecar) is still read as results, not as a table of every cid."""
    results = write_jsonl(
        tmp_path / "copy.jsonl",
        [
            result_line(1, CID_A, "successed_online", 0, "success"),
            result_line(2, CID_B, "failed", 20001, "target user is invalid"),
        ],
    )
    with ExclusionSet.load([results]) as excluded:
        assert excluded.contains("cid", CID_A) is None
        assert excluded.contains("cid", CID_B) == str(results)


def test_first_file_naming_an_id_is_reported(tmp_path: Path) -> None:
    """With an id in two lists, the msg names the first list given."""
    first, second = tmp_path / "one.txt", tmp_path / "two.txt"
    first.write_text(f"{CID_B}\n")
    second.write_text(f"{CID_A}\n{CID_B}\n")
    with ExclusionSet.load([second, first]) as excluded:
        assert excluded.contains("cid", CID_B) == str(second)
        assert excluded.contains_many("cid", [CID_A, CID_B, CID_C]) == {
            CID_A: str(second),
            CID_B: str(second),
        }
        assert excluded.counts == {str(second): 2, str(first): 1}


def test_large_lists_and_batches(tmp_path: Path) -> None:
    """Tens of thousands of ids load, and a 2,000-target lookup finds exactly the listed ones."""
    listed = tmp_path / "many.txt"
    listed.write_text("".join(f"{i:032x}\n" for i in range(0, 60_000, 2)))
    with ExclusionSet.load([listed]) as excluded:
        assert len(excluded) == 30_000
        found = excluded.contains_many("cid", [f"{i:032x}" for i in range(2_000)])
        assert sorted(found) == [f"{i:032x}" for i in range(0, 2_000, 2)]


def test_no_files_excludes_nothing() -> None:
    """An empty set answers None and an empty mapping."""
    with ExclusionSet.load([]) as excluded:
        assert excluded.contains("cid", CID_A) is None
        assert excluded.contains_many("cid", [CID_A]) == {}


def test_gzipped_results_file_gives_only_its_dead_cids(tmp_path: Path) -> None:
    """A gzipped copy of a results file (no sidecar) is still results: delivered cids are not excluded."""
    rows = [
        result_line(1, CID_A, "successed_online", 0, "success"),
        result_line(2, CID_B, "failed", 20001, "target user is invalid"),
    ]
    packed = tmp_path / "old.jsonl.gz"
    packed.write_bytes(gzip.compress(b"".join(_json.dumps_line(row) for row in rows)))
    with ExclusionSet.load([packed]) as excluded:
        assert excluded.contains("cid", CID_A) is None
        assert excluded.contains("cid", CID_B) == str(packed)


def test_corrupt_gzip_is_an_input_error(tmp_path: Path) -> None:
    """A .gz text list that is not gzip is reported by name."""
    broken = tmp_path / "ids.txt.gz"
    broken.write_bytes(b"not gzip at all\n")
    with pytest.raises(InputError, match=r"ids\.txt\.gz: not a readable gzip file"):
        ExclusionSet.load([broken])
