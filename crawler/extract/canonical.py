"""Canonical URLs: one page, one string, so one page is one row — and two pages never one.

Lower-cases scheme and host, drops default ports, fragments and tracking parameters
(``utm_*``, ``spm`` and friends), sorts the remaining query, treats ``…/index.html`` (and
``index.htm``, ``index.shtml``, ``default.htm``…) as ``…/``, and folds ``http`` into ``https``
so that the two schemes of one host give the same key (but for plain HTTP on port 443, kept
``http://h:443/`` so that every key is its own key).  IPv6 hosts keep their brackets.

Percent-escapes are kept byte for byte: only their hex digits are upper-cased, and only the
escapes of unreserved characters (``A-Z a-z 0-9 - . _ ~``, RFC 3986 §6.2.2.2) are decoded.
So ``%2F`` stays apart from ``/``, and a GBK-escaped file name (``%B8%BD%BC%FE.doc``) stays
apart from every other one instead of being decoded as (broken) UTF-8.  Raw non-ASCII
characters are percent-encoded as UTF-8, as browsers do for paths.  The query is compared as
a form (``application/x-www-form-urlencoded``, as servers read it): its pairs are decoded to
bytes, sorted and encoded again, so ``a=%20`` and ``a=+`` are one key, but the bytes of a GBK
value are kept.

For URLs without percent-escapes, and with escapes of UTF-8 text or of unreserved
characters, the keys are those of the earlier version of this module, so stored canonical
URLs stay valid.  The keys that change are those of paths with escapes of reserved
characters (``%2F``, ``%3A``, ``%21`` …), of ``%25``, or of non-UTF-8 bytes, and of queries
with non-UTF-8 escapes: exactly the URLs whose old key could merge two resources.

Hand-written rather than ``w3lib.url.canonicalize_url``: w3lib decodes the escapes of
reserved sub-delimiters in paths (``%21`` → ``!``) and IDNA-encodes hosts (which would change
the stored keys of Chinese domain names); its query rule is the one used here.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote_from_bytes, quote_plus, unquote_to_bytes, urlsplit, urlunsplit

_TRACKING = re.compile(
    r"^(utm_[a-z_]+|spm|scm|from|fromsource|share_?token|share_?from|wfr|isappinstalled|"
    r"timestamp|_t|t_|ref|referer|source_?from|gclid|fbclid|yclid|mc_[a-z]+)$",
    re.IGNORECASE,
)
_INDEX_PAGE = re.compile(r"/(index|default)\.(s?html?|php|jsp|aspx?)$", re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters kept as they are in a path (the earlier version's set): unreserved, sub-delims,
# ":", "@" and "/".  Everything else is percent-encoded (non-ASCII as UTF-8).
_SAFE_PATH = "/:@!$&'()*+,;=-._~"
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE_RE = re.compile(r"%([0-9A-Fa-f]{2})")


def _escape(match: re.Match[str]) -> str:
    byte = int(match.group(1), 16)
    return chr(byte) if byte in _UNRESERVED else f"%{byte:02X}"


def normalise_path(path: str) -> str:
    """``path`` with escapes kept byte-exact (hex upper-cased, unreserved ones decoded).

    A ``%`` that does not start an escape becomes ``%25``; characters outside the safe set
    (spaces, quotes, non-ASCII …) are percent-encoded, non-ASCII as UTF-8.
    """
    out: list[str] = []
    pos = 0
    for match in _ESCAPE_RE.finditer(path):
        out.append(_quote_raw(path[pos : match.start()]))
        out.append(_escape(match))
        pos = match.end()
    out.append(_quote_raw(path[pos:]))
    return "".join(out)


def _quote_raw(text: str) -> str:
    """Percent-encode a stretch of a path that holds no valid escape."""
    if not text:
        return text
    return quote_from_bytes(text.encode("utf-8", "surrogatepass"), safe=_SAFE_PATH)


def _form_bytes(text: str) -> bytes:
    """A query key or value as the bytes a form decoder sees (``+`` is a space)."""
    return unquote_to_bytes(text.replace("+", " "))


def normalise_query(query: str) -> str:
    """The query's pairs without tracking parameters, sorted, as a byte-exact form."""
    pairs: list[tuple[bytes, bytes]] = []
    for field in query.split("&"):
        if not field:
            continue
        key, _, value = field.partition("=")
        raw_key = _form_bytes(key)
        if _TRACKING.match(raw_key.decode("utf-8", "replace")):
            continue
        pairs.append((raw_key, _form_bytes(value)))
    pairs.sort()
    return "&".join(f"{quote_plus(k, safe='')}={quote_plus(v, safe='')}" for k, v in pairs)


@lru_cache(maxsize=4096)  # pure; a site's chrome links come back on every page
def canonicalize(url: str) -> str:
    """The canonical form of an absolute http(s) URL; other URLs are returned stripped."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            return url
        port = parts.port
    except ValueError:  # a bad port or bracketed host: not a URL this key can describe
        return url
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:  # an IPv6 literal keeps its brackets: [::1]:8080 is not [::1:8080]
        host = f"[{host}]"
    port = None if port == _DEFAULT_PORTS[scheme] else port
    # http folds into https, except plain HTTP on port 443: its key "https://h:443/" would be
    # read again as https's default port, the key of another resource (not a fixed point)
    key_scheme = "http" if scheme == "http" and port == _DEFAULT_PORTS["https"] else "https"
    netloc = host if port is None else f"{host}:{port}"
    path = _INDEX_PAGE.sub("/", normalise_path(parts.path or "/"))
    return urlunsplit((key_scheme, netloc, path, normalise_query(parts.query), ""))
