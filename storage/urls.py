"""A database URL checked and shown without SQLAlchemy.

The configuration is read by every command before it knows whether it will open the
database, and the crawl command forks its extraction worker and its database child right
after reading it: importing SQLAlchemy there (0.15-0.3 s, ~18 MB) delayed both children and
left the worker holding SQLAlchemy's pages, copied as the parent touched them.  So the
configuration's check is this module's, with the rules of SQLAlchemy's ``make_url`` that
matter to a user (a scheme, a known backend, a port that is a port), and the database layer
(:func:`storage.database.parse_url`) parses the same text again with SQLAlchemy when it
connects.  Written by hand because no URL library checks a database URL's parts without
importing its driver machinery.
"""

from __future__ import annotations

import re

from storage.errors import StorageError

BACKENDS = ("sqlite", "postgresql")
MAX_PORT = 65535

# scheme://[user[:password]@]host-and-port[/database][?query], as SQLAlchemy reads it: the
# user part ends at the first "@" after which no "@" is left in the authority, the password
# at that "@" (a "@" in a password is written %40)
_SCHEME = re.compile(r"([\w+]+)://")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def hide_password(url: str) -> str:
    """``url`` with its password, if it has one, replaced by ``***``."""
    match = _SCHEME.match(url)
    if match is None:
        return url
    start = match.end()
    at, _ = _authority(url, start)
    colon = url.find(":", start, at) if at >= 0 else -1
    if colon < 0:
        return url
    return f"{url[: colon + 1]}***{url[at:]}"


def check_url(url: str) -> str:
    """The backend (``sqlite`` or ``postgresql``) of database URL ``url``; raises
    :class:`StorageError` with one line saying what is wrong with it."""
    shown = hide_password(url)
    if _CONTROL.search(url):
        raise StorageError(f"not a database URL (a control character in it): {shown!r}")
    match = _SCHEME.match(url)
    if match is None:
        raise StorageError(f"not a database URL: {shown!r}")
    backend = match.group(1).partition("+")[0]
    if backend not in BACKENDS:
        raise StorageError(
            f"unsupported database {backend!r} in {shown}: use sqlite:/// or postgresql+psycopg://"
        )
    if backend == "postgresql":
        _check_port(url, match.end(), shown)
    return backend


def _authority(url: str, start: int) -> tuple[int, int]:
    """In the authority that begins at ``start``: the ``@`` that ends its user part (-1 when
    it has none), and where the authority ends (the first ``/`` or ``?``, or the end)."""
    ends = [i for i in (url.find("/", start), url.find("?", start)) if i >= 0]
    end = min(ends, default=len(url))
    return url.rfind("@", start, end), end


def _check_port(url: str, start: int, shown: str) -> None:
    at, end = _authority(url, start)
    host = url[max(at + 1, start) : end]
    if host.startswith("["):  # [IPv6 address]:port
        close = host.find("]")
        port_part = host[close + 1 :] if close >= 0 else ""
        if not port_part:
            return
        if not port_part.startswith(":"):
            raise StorageError(f"not a database URL (after the IPv6 address): {shown!r}")
        port = port_part[1:]
    elif ":" in host:
        port = host.partition(":")[2]
    else:
        return
    if not (port.isascii() and port.isdigit()) or len(port) > 5 or not 0 < int(port) <= MAX_PORT:
        raise StorageError(f"port {port[:20]!r} in {shown} is not a port (1-{MAX_PORT})")
