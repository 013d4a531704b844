"""The vendor-key table in code and its sourced copy in docs/getui-api.md §12 agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from getui_async.messages.vendors import CLASS_KEYS, TEST_KEYS, VendorKey

DOC = Path(__file__).resolve().parent.parent / "docs" / "getui-api.md"
_ALL: list[tuple[str, VendorKey]] = [
    *((cls.value, key) for cls, keys in CLASS_KEYS.items() for key in keys),
    *(("test", key) for key in TEST_KEYS),
]


def _doc_rows() -> set[tuple[str, str, str]]:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## 12. Vendor message classes") :]
    rows = set()
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[2].startswith("`/"):
            rows.add((cells[0], cells[1], cells[2].strip("`")))
    return rows


@pytest.mark.parametrize(("cls", "key"), _ALL, ids=lambda v: getattr(v, "path", v))
def test_every_vendor_key_is_documented_with_a_source(cls: str, key: VendorKey) -> None:
    """Each key the code adds has a row (class, vendor, path) in the docs' sourced table."""
    assert (cls, key.vendor, key.path) in _doc_rows()


def test_the_docs_list_no_key_the_code_does_not_add() -> None:
    """No stale row: every documented key is one the code adds."""
    code = {(cls, key.vendor, key.path) for cls, key in _ALL}
    assert _doc_rows() <= code
