"""Creating files as their owner means them: never through a symbolic link we did not make, owner-only.

Anyone who can write to a results or output directory can plant a link at a name we are about to open
(``RESULTS.lock`` -> someone's file): opened plainly, the link's target is truncated or overwritten.
Every file the package writes is therefore opened here: :func:`open_private` adds ``O_NOFOLLOW``
(a planted link is refused as :class:`PlantedLink`, its target untouched), :func:`temp_beside` makes a
temporary with an unpredictable name, ``O_EXCL`` and ``O_NOFOLLOW``, and :func:`replace_atomically` writes
one and renames it into place (a rename replaces a link itself, never its target). Files are created
0600: they hold recipients.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Final

__all__ = [
    "PRIVATE_MODE",
    "PlantedLink",
    "create_private",
    "open_private",
    "refuse_links",
    "replace_atomically",
    "stale_temps",
    "temp_beside",
]

#: Files that hold recipients are readable and writable by their owner only.
PRIVATE_MODE: Final = 0o600

_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_TEMP_SUFFIX: Final = ".tmp"
#: ``tempfile``'s random part: 8 characters of ``[a-z0-9_]``.
_RANDOM: Final = r"[a-z0-9_]{8}"


class PlantedLink(OSError):
    """A symbolic link sits where we would create or write a file: refused, its target never touched."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(
            errno.ELOOP,
            "is a symbolic link this program did not make; refusing to write through it "
            "(remove the link, or choose another path)",
            os.fspath(path),
        )

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


def _is_link(path: Path) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        return False


def refuse_links(paths: Iterable[Path]) -> None:
    """Raise :class:`PlantedLink` for the first of ``paths`` that is a symbolic link."""
    for path in paths:
        if _is_link(path):
            raise PlantedLink(path)


def open_private(path: Path, flags: int) -> int:
    """``os.open(path, flags)`` without following a link at ``path`` (:class:`PlantedLink`); a file it
    creates is 0600 whatever the umask. Raises ``OSError`` otherwise."""
    try:
        fd = os.open(path, flags | _NOFOLLOW, PRIVATE_MODE)
    except OSError as exc:
        if exc.errno == errno.ELOOP and _is_link(path):
            raise PlantedLink(path) from None
        raise
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(mode):  # a FIFO or device planted at our name
        os.close(fd)
        raise OSError(errno.EINVAL, "is not a regular file; refusing to use it", os.fspath(path))
    return fd


def create_private(path: Path) -> None:
    """Create ``path`` empty and owner-only unless it exists (so a library that creates files with the
    umask's mode, such as SQLite, finds it private); a link at ``path`` is :class:`PlantedLink`."""
    with contextlib.suppress(FileExistsError):
        os.close(open_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
    refuse_links([path])


def temp_beside(path: Path) -> tuple[int, Path]:
    """A new owner-only temporary file in ``path``'s directory, named unpredictably (``O_EXCL``,
    ``O_NOFOLLOW``: a planted name is skipped, never opened); returns (fd, its path)."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_TEMP_SUFFIX)
    return fd, Path(name)


def stale_temps(path: Path) -> list[Path]:
    """Temporaries :func:`temp_beside` made for ``path`` that are still there (a killed run's), links
    excluded."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.{_RANDOM}{re.escape(_TEMP_SUFFIX)}")
    try:
        names = os.listdir(path.parent)
    except OSError:
        return []
    found = (path.with_name(name) for name in names if pattern.fullmatch(name))
    return [p for p in found if not _is_link(p)]


def replace_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a new temporary beside ``path`` (fsynced, 0600) and rename it over ``path``;
    on failure the temporary is removed and ``path`` untouched. Raises ``OSError``."""
    fd, tmp = temp_beside(path)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
