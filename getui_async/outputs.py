"""Output files a command writes beside what it reads (``--html``, ``--dead-cids``, ``--retryable``,
``--summary-json``): never one of the files it reads, and never seen half-written.

:func:`refuse_reads` is called by each command before it writes anything: an output that is (the same
file as, through links too) the input, the results file, its sidecar or lock, the ledger or an exclusion
list is a usage error naming both. :func:`write_aside` writes to a new temporary file in the target's
directory (unpredictable name, ``O_EXCL``, owner-only: these files hold recipients) and renames it into
place only when the block succeeds.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from .config import UsageError
from .results.sidecar import companion_files
from .safe_open import temp_beside

__all__ = ["refuse_reads", "results_reads", "write_aside"]


def results_reads(results: Path) -> dict[str, Path]:
    """The files a command that reads or writes ``results`` uses, named as the user knows them."""
    return {"RESULTS": results, **companion_files(results)}


def _same_file(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` name one file: by inode when both exist, else by resolved path."""
    with contextlib.suppress(OSError):
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def refuse_reads(outputs: Mapping[str, str | os.PathLike[str] | None], reads: Mapping[str, Path]) -> None:
    """Raise :class:`UsageError` when an output flag names a file the command reads.

    ``outputs`` maps a flag to its path (None or ``-``: not given or stdout); ``reads`` maps how the user
    knows a read file (``INPUT``, ``--ledger``, ...) to its path.
    """
    for flag, value in outputs.items():
        if value is None or os.fspath(value) == "-":
            continue
        out = Path(value)
        for name, read in reads.items():
            if _same_file(out, read):
                raise UsageError(
                    f"{flag} {out}: is {name} ({read}), which this command reads; "
                    "give another path (nothing was written)"
                )


@contextlib.contextmanager
def write_aside(path: Path) -> Iterator[BinaryIO]:
    """A new owner-only file beside ``path``, renamed onto it when the block succeeds, else removed.

    The rename replaces a link at ``path`` itself: its target is never written.
    """
    fd, tmp = temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
