"""The outbound links and embedded resources of a page, for dead-link checking.

:func:`extract_links` returns every ``a[href]``, ``img[src]``, ``iframe[src]``/``frame``,
``script[src]``, ``link[href]`` (stylesheets, icons), ``embed``/``object``/``video``/``audio``/
``source`` resource, resolved against the page URL (and ``<base href>``), with the anchor
text, alt text or title.  ``javascript:``, ``mailto:``, ``tel:``, ``data:`` and bare
fragment links are left out; lazy-loaded images are reported by their ``data-src`` /
``data-original`` too; an ``a`` whose target is a document (pdf, doc, xls, zip …) is
reported as an ``attachment``.  Duplicates (same URL and kind) are reported once, first text
wins.  Works for article and list pages alike.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urljoin, urlsplit

from lxml.html import HtmlElement

from crawler.extract.dom import collapse_ws, parse_html, remembered
from crawler.extract.records import LinkKind, PageLink
from crawler.extract.textclean import clean_text

_SKIP_SCHEMES = ("javascript:", "mailto:", "tel:", "data:", "about:", "#", "sms:", "weixin:")
_ATTACHMENT_RE = re.compile(
    r"\.(?:pdf|docx?|xlsx?|pptx?|wps|et|zip|rar|7z|txt|csv|ofd|tif|tiff)(?:$|[?#])", re.I
)
_LAZY_ATTRS = ("data-src", "data-original", "data-lazy-src")
_RESOURCE_ATTRS: tuple[tuple[str, str, LinkKind], ...] = (
    ("img", "src", "img"),
    ("iframe", "src", "iframe"),
    ("frame", "src", "iframe"),
    ("script", "src", "script"),
    ("embed", "src", "embed"),
    ("object", "data", "embed"),
    ("video", "src", "embed"),
    ("audio", "src", "embed"),
    ("source", "src", "embed"),
)


def resolve_link(base: str, href: str | None) -> str | None:
    """``href`` made absolute against ``base``, without its fragment; ``None`` for links that
    lead nowhere to fetch (``javascript:``, ``mailto:``, bare fragments, other schemes).

    Remembered across pages by the base's directory: a site's navigation links come back
    on every page of a directory, and joining each again was a tenth of the extraction of
    its links.  Only hrefs whose target the directory alone decides are remembered (with a
    path: not a query or fragment of the page itself), at most :data:`_RESOLVED` of them,
    each of at most :data:`_REMEMBERED_HREF` characters.
    """
    if not href or len(href) > _REMEMBERED_HREF:
        return _resolve(base, href)
    directory = _directory(base)
    if directory is None:
        return _resolve(base, href)
    key = (directory, href)
    try:
        return _resolved[key]
    except KeyError:
        pass
    url = _resolve(base, href)
    if _by_directory(href):
        if len(_resolved) >= _RESOLVED:
            _resolved.clear()
        _resolved[key] = url
    return url


def _by_directory(href: str) -> bool:
    """Whether joining ``href`` to a page's URL depends on the page's directory alone: it has
    a path (``urljoin`` gives one without a path the page's own path and query)."""
    bare = href.strip()
    if "\n" in bare or "\t" in bare or "\r" in bare:
        return False
    try:
        return urlsplit(bare).path != ""
    except ValueError:
        return False


_resolved: dict[tuple[str, str], str | None] = {}
_RESOLVED = 4096
_REMEMBERED_HREF = 512


def _directory(base: str) -> str | None:
    """``base`` up to the last ``/`` of its path (no query or fragment): what joining a
    relative path, an absolute path or a network path to it depends on; None when the base
    has no path to cut, or path parameters (``;``, which ``urljoin`` reads per segment)."""
    end = len(base)
    for mark in "?#":
        at = base.find(mark, 0, end)
        if at >= 0:
            end = at
    if base.find(";", 0, end) >= 0:
        return None
    scheme_end = base.find("://", 0, end)
    if scheme_end < 0:
        return None
    slash = base.rfind("/", scheme_end + 3, end)
    if slash < 0:
        return None
    return base[: slash + 1]


def _resolve(base: str, href: str | None) -> str | None:
    if not href:
        return None
    href = href.strip()
    if "\n" in href or "\t" in href or "\r" in href:
        href = href.replace("\n", "").replace("\r", "").replace("\t", "")
    if not href or href.lower().startswith(_SKIP_SCHEMES):
        return None
    if href.startswith(("http://", "https://")):
        url = href  # already absolute: the common case, no need to join
    else:
        try:
            url = urljoin(base, href)
        except ValueError:
            return None
        if not url.startswith(("http://", "https://", "ftp://")):
            scheme = urlsplit(url).scheme.lower()
            if scheme not in {"http", "https", "ftp"}:
                return None
    url = url.split("#", 1)[0]
    return None if _bad_netloc(url) else url


def _bad_netloc(url: str) -> bool:
    """True when the host of ``url`` holds a control, format or space character: the WHATWG
    parser fails such a URL (forbidden host code point), no client fetches it."""
    netloc = url.partition("//")[2]
    for end in "/?\\":
        netloc = netloc.split(end, 1)[0]
    host = netloc.rpartition("@")[2]  # userinfo is percent-encoded, not refused
    return _bad_host(host)


def _host_has_bad_characters(host: str) -> bool:
    return any(unicodedata.category(c)[0] in "CZ" for c in host)


# remembered per host: a site's pages link to the same few hosts
_bad_host = remembered(_host_has_bad_characters, size=1024)


def extract_links(tree_or_html: HtmlElement | str | bytes, base_url: str) -> tuple[PageLink, ...]:
    """Every link and embedded resource of the page, as absolute URLs with their text."""
    if isinstance(tree_or_html, bytes):
        from crawler.extract.decode import decode_html

        tree_or_html = decode_html(tree_or_html).text
    root = parse_html(tree_or_html) if isinstance(tree_or_html, str) else tree_or_html
    base = base_url
    base_el = root.find(".//base[@href]")
    if base_el is not None:
        base = urljoin(base_url, base_el.get("href", "").strip())

    seen: set[tuple[str, str]] = set()
    out: list[PageLink] = []
    resolved: dict[str | None, str | None] = {}  # per href: a page repeats its links

    def resolve(href: str | None) -> str | None:
        if href in resolved:
            return resolved[href]
        url = resolved[href] = resolve_link(base, href)
        return url

    def add(url: str | None, kind: LinkKind, text: str) -> None:
        if url is None or (url, kind) in seen:
            return
        seen.add((url, kind))
        out.append(PageLink(url=url, kind=kind, text=clean_text(text)))

    for el in root.iter("a", "area", "img", "iframe", "frame", "script", "embed", "object",
                        "video", "audio", "source", "link"):  # fmt: skip
        tag = el.tag
        if tag in {"a", "area"}:
            url = resolve(el.get("href"))
            if url is None:
                continue
            text = collapse_ws(el.text_content() or "") or el.get("title", "") or el.get("alt", "")
            kind: LinkKind = "attachment" if _ATTACHMENT_RE.search(url) else "a"
            add(url, kind, collapse_ws(text))
        elif tag == "link":
            rel = (el.get("rel") or "").lower()
            if any(r in rel for r in ("stylesheet", "icon", "preload")):
                add(resolve(el.get("href")), "link", "")
        else:
            for rtag, attr, rkind in _RESOURCE_ATTRS:
                if tag == rtag:
                    text = collapse_ws(el.get("alt") or el.get("title") or "")
                    add(resolve(el.get(attr)), rkind, text)
                    if tag == "img":  # lazy-loaded images keep the real URL aside
                        for lazy in _LAZY_ATTRS:
                            add(resolve(el.get(lazy)), rkind, text)
                    break
    return tuple(out)
