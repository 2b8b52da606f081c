"""Values the crawler hands across its seams: small frozen dataclasses, not dicts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from storage.tuple_pickle import tuple_pickled

LinkKind = Literal["a", "img", "iframe", "script", "link", "embed", "attachment"]
PageKind = Literal["article", "challenge", "error"]  # see crawler.extract.pagekind
# how precise a publish time is; the values of storage.records.TimePrecision, which the
# pipeline stores (mypy fails there if the two part)
TimePrecision = Literal["minute", "day", "url"]


@tuple_pickled
@dataclass(frozen=True, slots=True)
class Selectors:
    """Per-site selectors from the config; each is CSS, or XPath when it starts with ``/`` or ``(``.

    A field left ``None`` is extracted by the generic extractor.
    """

    title: str | None = None
    publish_time: str | None = None
    source: str | None = None
    author: str | None = None
    body: str | None = None

    def is_empty(self) -> bool:
        return not any((self.title, self.publish_time, self.source, self.author, self.body))


@tuple_pickled
@dataclass(frozen=True, slots=True)
class PageLink:
    """One outbound link or embedded resource of a page, as found in its HTML."""

    url: str  # absolute URL, as resolved against the page URL (not yet canonical)
    kind: LinkKind
    text: str = ""  # anchor text, alt text or title; "" when there is none


@dataclass(frozen=True, slots=True)
class DecodedPage:
    """HTML bytes turned into text, with the encoding that was chosen and why."""

    text: str
    encoding: str  # Python codec name actually used, e.g. "utf-8", "gb18030"
    declared: str | None  # what the page or the HTTP header declared, if anything
    reason: str  # "bom", "http-header", "meta", "sniffed", "fallback"


@tuple_pickled
@dataclass(frozen=True, slots=True)
class ExtractedArticle:
    """What the extractor found on one article page.

    ``publish_time`` is timezone-aware (Beijing time, +08:00, unless the page says otherwise).
    ``body`` is clean paragraphs joined by ``\\n``.  ``warnings`` name problems worth showing
    to a user, such as a configured selector that no longer matches.
    """

    url: str
    title: str | None
    publish_time: datetime | None
    source: str | None
    author: str | None
    body: str
    # minute: the page shows the time of day; day: the date only (the time is midnight,
    # not to be shown); url: no date shown, the URL's date was used; None with no time
    publish_time_precision: TimePrecision | None = None
    subtitle: str | None = None  # 副标题, shown under the title
    pretitle: str | None = None  # 引题, shown above the title
    editor: str | None = None  # 责任编辑
    links: tuple[PageLink, ...] = ()
    warnings: tuple[str, ...] = ()
    encoding: str = "utf-8"
    page_kind: PageKind = "article"  # "challenge"/"error" pages must not be stored as articles
    error_reason: str | None = None  # why an "error" page is one ("404 Not Found", "页面不存在")


@tuple_pickled
@dataclass(frozen=True, slots=True)
class Fingerprint:
    """The fingerprints of one body (``crawler.extract.fingerprint``); ``bands`` is empty when the
    body is too short.  Here, not there, so that a crawl process receiving one from its
    extraction worker does not import numpy to unpickle it."""

    body_hash: int  # signed 64-bit hash of the normalised body
    bands: tuple[int, ...]  # signed 64-bit LSH keys, one per band
    length: int  # characters of the normalised body
