"""Database URLs as they may be shown: never with their password (messages, logs, files we write)."""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["redact_url", "scrub"]


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (safe for messages, logs and exceptions)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")
    userinfo = netloc[0].partition(":")[0] + ":***"
    return parts._replace(netloc=f"{userinfo}@{netloc[2]}").geturl()


def scrub(text: str, url: str) -> str:
    """``text`` (say, a driver's error message) with every copy of ``url``'s password masked."""
    password = urlsplit(url).password
    return text.replace(password, "***") if password else text
