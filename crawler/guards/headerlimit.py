"""A bound on the response header section of every crawl request.

``DOWNLOAD_MAXSIZE`` bounds a body; nothing in Scrapy or Twisted bounds the headers.
Twisted's HTTP client parser (``twisted.web._newclient.HTTPParser``) limits a line to 16 KB
but keeps every header line (and folded continuation line) it is sent, so a server streaming
headers forever grew ``govwatch crawl`` past 1.5 GB in five seconds.  aiohttp, which the link
checker and ``extract URL`` use, already stops at a bounded header section.

:func:`install` wraps the parser's ``dataReceived`` once per process: past
:data:`MAX_HEADER_BYTES` received before the body starts (Chrome's limit on a header
section), the parser raises :class:`HeadersTooLarge`; Twisted's client protocol gives the
request up with it (the connection is dropped) and the crawl records an error of the page.

Why a wrapper of a private class: the parser is created inside Twisted's HTTP/1.1 client
protocol (Scrapy swaps its class for a lenient subclass, which overrides ``lineReceived``
but not ``dataReceived``), with no hook or setting of Scrapy's or Twisted's in between.
"""

from __future__ import annotations

from typing import Any

MAX_HEADER_BYTES = 256 * 1024
_INSTALLED = "_govwatch_header_limit"  # on the class: wrapped already
_SEEN = "_govwatch_header_bytes"  # on a parser: bytes of its header section so far


class HeadersTooLarge(Exception):
    """A response's header section went past :data:`MAX_HEADER_BYTES`."""


def install(limit: int = MAX_HEADER_BYTES) -> None:
    """Bound the header section of every HTTP response Twisted parses in this process."""
    from twisted.web import _newclient

    parser: Any = _newclient.HTTPParser
    if getattr(parser, _INSTALLED, False):
        return
    original = parser.dataReceived
    in_headers = (_newclient.STATUS, _newclient.HEADER)

    def dataReceived(self: Any, data: bytes) -> None:
        if self.state in in_headers:
            seen = getattr(self, _SEEN, 0) + len(data)
            setattr(self, _SEEN, seen)
            if seen > limit:
                raise HeadersTooLarge(f"response headers larger than {limit // 1024} KB")
        original(self, data)

    parser.dataReceived = dataReceived
    setattr(parser, _INSTALLED, True)
