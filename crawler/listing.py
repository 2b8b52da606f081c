"""List pages: which links are articles, and where the next list page is.

Pure functions over an lxml tree, so they are tested without a crawler.  Pagination follows
one page at a time (the next page only), which keeps ``max_list_pages`` exact and lets a
crawl stop early.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin

from lxml import html as lxml_html
from lxml.etree import XPathError

from crawler.extract.links import resolve_link
from crawler.extract.selectors import select_elements
from crawler.site import Site

# ccdi and many TRS-built sites: createPageHTML(countPage, currentPage, "index", "html")
_CREATE_PAGE_HTML = re.compile(
    r"createPageHTML\(\s*['\"]?(\d+)['\"]?\s*,\s*['\"]?(\d+)['\"]?\s*,\s*['\"]([\w.-]+)['\"]\s*,"
    r"\s*['\"](\w+)['\"]"
)
_NEXT_TEXT = re.compile(r"^\s*(下一页|下页|后一页|next\s*(page)?)\s*[>›»]*\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ListPage:
    """What one list page offers: article links (absolute, in page order) and the next page."""

    article_urls: tuple[str, ...]
    next_url: str | None
    warnings: tuple[str, ...] = ()


def parse_list_page(tree: lxml_html.HtmlElement, url: str, site: Site, page_index: int) -> ListPage:
    """Find article links and the next list page on a list page.

    ``page_index`` is 0 for the start URL, 1 for the next page, and so on.
    """
    warnings: list[str] = []
    anchors: list[lxml_html.HtmlElement] = []
    if site.list_link_selector:
        try:
            anchors = _anchors(select_elements(tree, site.list_link_selector))
        except (XPathError, ValueError) as exc:
            warnings.append(f"list_link_selector {site.list_link_selector!r} failed: {exc}")
        if not anchors:
            warnings.append(
                f"list_link_selector {site.list_link_selector!r} matched no links; "
                "fell back to every link on the page"
            )
    if not anchors:
        anchors = list(tree.iter("a"))
    articles: dict[str, None] = {}
    for a in anchors:
        href = _absolute(a.get("href"), url)
        if href and site.is_article_url(href):
            articles.setdefault(href, None)
    return ListPage(
        article_urls=tuple(articles),
        next_url=find_next_page(tree, url, site, page_index),
        warnings=tuple(warnings),
    )


def find_next_page(
    tree: lxml_html.HtmlElement, url: str, site: Site, page_index: int
) -> str | None:
    """The URL of the list page after this one, or ``None`` on the last page."""
    for script in tree.iter("script"):
        match = _CREATE_PAGE_HTML.search(script.text or "")
        if match:
            count, current = int(match.group(1)), int(match.group(2))
            prefix, ext = match.group(3), match.group(4)
            if current + 1 >= count:
                return None
            return urljoin(url, f"{prefix}_{current + 1}.{ext}")
    scope: list[lxml_html.HtmlElement] = [tree]
    if site.pagination_selector:
        try:
            scope = select_elements(tree, site.pagination_selector) or [tree]
        except (XPathError, ValueError):
            scope = [tree]
    anchors = [a for el in scope for a in _anchors([el])]
    for a in anchors:
        if _NEXT_TEXT.match(a.text_content() or ""):
            href = _absolute(a.get("href"), url)
            if href and href != url:
                return href
    if site.pagination_selector:
        wanted = str(page_index + 2)  # page numbers shown to people start at 1
        for a in anchors:
            if (a.text_content() or "").strip() == wanted:
                href = _absolute(a.get("href"), url)
                if href and href != url:
                    return href
    return None


def _anchors(elements: list[lxml_html.HtmlElement]) -> list[lxml_html.HtmlElement]:
    out: list[lxml_html.HtmlElement] = []
    for el in elements:
        if el.tag == "a":
            out.append(el)
        else:
            out.extend(el.iter("a"))
    return out


def _absolute(href: str | None, base: str) -> str | None:
    """An http(s) link target of a list page (see :func:`crawler.extract.links.resolve_link`)."""
    url = resolve_link(base, href)
    return url if url is not None and url.startswith(("http://", "https://")) else None
