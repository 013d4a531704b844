"""``--retryable FILE``: the input records whose final outcome is retryable, as ``send`` reads them back.

The input is the one the sidecar names (its basename, looked for next to the results file, or given
with ``--input``), checked against the recorded size and head hash. It is read again with
:mod:`getui_async.sources` and the reading choices the send recorded (``--cid-column``, delimiter,
sheet, encoding), so records are numbered exactly as the send numbered them. A text input's wanted
records are copied byte for byte (a CSV record may span several physical lines), after its header
(CSV and TSV); an ``.xlsx`` input becomes a UTF-8 CSV with its header row, the cells as the send read
them.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Final, cast

from getui_async.errors import ResultsFileError
from getui_async.results.sidecar import K_INPUT, sidecar_name, stored_read_options
from getui_async.sources import FORMATS, Format, Record, RecordSource, SourceOptions, open_source

from .outcomes import Bitmap

__all__ = ["find_input", "input_format", "read_options", "recorded_format", "write_records"]

_GZIP_MAGIC = b"\x1f\x8b"
#: Inputs whose first line is a header that the copied records need.
_HEADED: Final = ("csv", "tsv")


def find_input(
    results: Path, meta: Mapping[str, Any], given: str | None, *, flag: str = "--retryable"
) -> Path:
    """The input file the results were written for; refused (naming why, and ``flag``, the output that
    needs it) if it is not that file."""
    recorded = meta.get(K_INPUT)
    recorded = recorded if isinstance(recorded, Mapping) else {}
    name = recorded.get("name")
    if given is not None:
        path = Path(given)
    elif isinstance(name, str) and name and not name.startswith("<"):  # "<stdin>" cannot be re-read
        candidates = [results.parent / name, Path(name)]
        found = [p for p in candidates if p.is_file()]
        if not found:
            raise ResultsFileError(
                f"{flag}: the input {name!r} named in {sidecar_name(results)} is not next to {results} "
                "or in the current directory; give it with --input PATH"
            )
        path = found[0]
    else:
        raise ResultsFileError(
            f"{flag}: {sidecar_name(results)} names no input file; give it with --input PATH"
        )
    with open_source(path, options=read_options(meta)) as source:
        fingerprint = source.fingerprint()
    for key in ("size", "head_sha256"):
        want = recorded.get(key)
        if want is not None and fingerprint.get(key) != want and fingerprint.get(key) is not None:
            raise ResultsFileError(f"{flag}: {path} is not the input of {results} ({key} differs)")
    return path


def input_format(value: Any) -> Format | None:
    """``value`` as a format :func:`open_source` knows, else None (then the file name decides)."""
    return cast(Format, value) if value in FORMATS else None


def recorded_format(meta: Mapping[str, Any]) -> Format | None:
    """The input format the sidecar recorded, if any."""
    recorded = meta.get(K_INPUT)
    return input_format(recorded.get("format")) if isinstance(recorded, Mapping) else None


def read_options(meta: Mapping[str, Any]) -> SourceOptions:
    """How the send read its input (its recorded choices and format); a choice this version does not
    know is left to the input."""
    chosen: dict[str, Any] = {k: v for k, v in stored_read_options(meta).items() if k in _OPTION_NAMES}
    chosen["format"] = recorded_format(meta)
    try:
        return SourceOptions(**chosen)
    except ValueError:  # an encoding or delimiter name this version does not know: work it out again
        chosen.pop("encoding", None)
        chosen.pop("delimiter", None)
        return SourceOptions(**chosen)


_OPTION_NAMES: Final = frozenset(SourceOptions.__dataclass_fields__)


def write_records(path: Path, meta: Mapping[str, Any], wanted: Bitmap, out: BinaryIO) -> int:
    """Write the records numbered in ``wanted`` from ``path`` to ``out``; return how many were written."""
    with open_source(path, options=read_options(meta)) as source:
        if source.format == "xlsx":
            return _write_rows(source, wanted, out)
        copied = 0
        raw = _physical_lines(path)
        cursor = 1  # the next physical line not yet consumed from ``raw``
        keep = source.format in _HEADED  # lines before the first record: the header
        for record, item in enumerate(source, start=1):
            cursor = _copy_until(raw, cursor, item.line, out if keep else None)
            keep = record in wanted
            copied += keep
        _copy_until(raw, cursor, None, out if keep else None)
    return copied


def _write_rows(source: RecordSource, wanted: Bitmap, out: BinaryIO) -> int:
    """A workbook's wanted rows as a UTF-8 CSV with its header row: each named column's text as the send
    read it (the identifier column holds the recipient)."""
    columns = source.columns or ()
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(columns)
    copied = 0
    for record, item in enumerate(source, start=1):
        if record not in wanted or not isinstance(item, Record):
            continue  # a rejected record has no row to give back (it was never retryable)
        writer.writerow([item.variables.get(name, item.target) for name in columns])
        copied += 1
    text.detach()  # ``out`` stays open: its owner closes it
    return copied


def _physical_lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        head = handle.read(2)
        handle.seek(0)
        if head == _GZIP_MAGIC:
            with gzip.GzipFile(fileobj=handle, mode="rb") as unzipped:
                yield from unzipped
        else:
            yield from handle


def _copy_until(raw: Iterator[bytes], cursor: int, stop: int | None, out: BinaryIO | None) -> int:
    """Consume physical lines ``cursor`` .. ``stop - 1`` (to the end if None), writing non-blank ones."""
    while stop is None or cursor < stop:
        line = next(raw, None)
        if line is None:
            break
        cursor += 1
        if out is not None and line.strip():
            out.write(line if line.endswith(b"\n") else line + b"\n")
    return cursor
