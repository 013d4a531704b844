"""The sidecar: read once per change, its stream proof written and read back through one module."""

from __future__ import annotations

from pathlib import Path

import pytest

from getui_async.results import sidecar
from getui_async.results.sidecar import RunMeta, read_meta, stored_stream, stream_input, write_meta

META = RunMeta("camp", "tpl", {"name": "in.csv", "size": 10})


def test_a_sidecar_is_read_from_disk_once_until_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Repeated reads of an unchanged sidecar cost no read; a change on disk is seen at once."""
    out = tmp_path / "r.jsonl"
    write_meta(out, META)
    reads: list[Path] = []
    real = Path.read_bytes

    def counting(self: Path) -> bytes:
        reads.append(self)
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", counting)
    for _ in range(5):
        assert read_meta(out) == {**META.to_dict()}
    assert reads == []  # what write_meta wrote is known already
    sidecar.meta_path(out).write_bytes(b'{"campaign_id": "other one"}')
    assert read_meta(out) == {"campaign_id": "other one"}
    assert read_meta(out) == {"campaign_id": "other one"}
    assert len(reads) == 1
    sidecar.meta_path(out).unlink()
    assert read_meta(out) is None


def test_the_stream_proof_round_trips(tmp_path: Path) -> None:
    """What stream_input records, stored_stream reads back; no proof reads as nothing read."""
    out = tmp_path / "r.jsonl"
    assert stored_stream(None).total == 0
    write_meta(out, RunMeta("camp", "tpl", stream_input(META, total=42, sha256="ab", complete=True)))
    proof = stored_stream(read_meta(out))
    assert (proof.total, proof.sha256, proof.complete) == (42, "ab", True)
    assert (read_meta(out) or {})["input"]["sha256"] == "ab"
