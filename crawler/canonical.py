"""Canonical URLs: one page, one string, so one page is one row.

Lower-cases scheme and host, drops default ports, fragments and tracking parameters
(``utm_*``, ``spm`` and friends), sorts the remaining query, treats ``…/index.html`` (and
``index.htm``, ``index.shtml``, ``default.htm``…) as ``…/``, and folds ``http`` into ``https``
so that the two schemes of one host give the same key.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

_TRACKING = re.compile(
    r"^(utm_[a-z_]+|spm|scm|from|fromsource|share_?token|share_?from|wfr|isappinstalled|"
    r"timestamp|_t|t_|ref|referer|source_?from|gclid|fbclid|yclid|mc_[a-z]+)$",
    re.IGNORECASE,
)
_INDEX_PAGE = re.compile(r"/(index|default)\.(s?html?|php|jsp|aspx?)$", re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SAFE_PATH = "/%:@!$&'()*+,;=-._~"


def canonicalize(url: str) -> str:
    """The canonical form of an absolute http(s) URL; other URLs are returned stripped."""
    url = url.strip()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return url
    host = parts.hostname.lower().rstrip(".")
    port = parts.port if parts.port not in (None, _DEFAULT_PORTS[scheme]) else None
    netloc = f"{host}:{port}" if port else host
    path = quote(unquote(parts.path or "/"), safe=_SAFE_PATH)
    path = _INDEX_PAGE.sub("/", path)
    query = urlencode(
        sorted(
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not _TRACKING.match(k)
        )
    )
    return urlunsplit(("https", netloc, path, query, ""))
