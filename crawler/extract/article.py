"""Article extraction: HTML bytes and a URL in, an :class:`ExtractedArticle` out.

Pure functions; the page is decoded once (:mod:`crawler.extract.decode`) and parsed once (lxml).
Each field is taken, in order, from

1. the site's configured selectors (a selector that matches nothing, or nothing usable, is
   recorded in ``warnings`` so that selector drift is visible, and the field falls back);
2. built-in selectors of a known site family (ccdi.gov.cn …, :mod:`crawler.extract.site_selectors`);
3. the generic extractor: the headline (:mod:`crawler.extract.heading`), the information line next
   to it for the publish time (:mod:`crawler.extract.pubtime`, cross-checked with the URL's date,
   meta tags last), source, author and editor (:mod:`crawler.extract.byline`), and the body
   (:mod:`crawler.extract.body`).

The page's links and embedded resources come along for dead-link checking
(:func:`extract_links`, also usable on list pages), and its kind (:mod:`crawler.extract.pagekind`):
a crawler challenge or an error page served with status 200 is marked, never passed off as
an article.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from lxml.html import Element, HtmlElement

from crawler.extract.body import (
    Line,
    body_lines,
    clean_paragraphs,
    find_body_container,
)
from crawler.extract.byline import byline_names, find_author, find_editor, find_source, is_geo_label
from crawler.extract.credits import body_credit, credit_names, info_line_names
from crawler.extract.decode import decode_html
from crawler.extract.dom import collapse_ws, parse_html, positioned_lines, visible_text
from crawler.extract.errors import ExtractError
from crawler.extract.furniture import furniture_strength
from crawler.extract.heading import Headline, find_headline, neighbour_titles, squash
from crawler.extract.infoline import (
    InfoLines,
    body_first_position,
    info_window,
    labeled_time_after_body,
    source_after_body,
    source_before_time,
    source_from_lines,
    times_near_title,
)
from crawler.extract.links import extract_links
from crawler.extract.pagekind import UNREADABLE_REASON, is_readable, judge_tree
from crawler.extract.pagewalk import PageWalk, walk_page
from crawler.extract.pubtime import (
    FoundTime,
    PublishTime,
    choose_publish_time,
    find_times,
    labeled_time,
    meta_time,
    parse_time,
    url_date,
)
from crawler.extract.records import ExtractedArticle, Selectors
from crawler.extract.site_selectors import family_selectors, select_elements, select_texts
from crawler.extract.sniff import not_html_reason
from crawler.extract.textclean import clean_optional, clean_text

__all__ = ["extract_article", "extract_links"]

log = logging.getLogger(__name__)

_SOURCE_LABEL_RE = re.compile(
    r"^\s*(?:信息|文章|稿件|新闻|本文)?(?:来源|来自|稿源|出处)\s*[:：]\s*"
)
_AUTHOR_LABEL_RE = re.compile(r"^\s*(?:作者|记者|撰稿|撰文|文)\s*[:：/]\s*")
# class/id of an element holding the source: "source", "laiyuan", "ly", or the publishing
# account on platform pages ("media-name")
_SOURCE_CLASS_RE = re.compile(
    r"source|laiyuan|(?:^|[\s_-])ly(?:$|[\s_-])|origin(?!al)|media[-_]?name", re.I
)
# An unlabelled source with sentence punctuation is a sentence or a headline, not a name.
_SENTENCE_RE = re.compile(r"[，。！？；,!?;“”]")
# A class-named source element's text that is another field ("（责任编辑：某某）").
_OTHER_FIELD_RE = re.compile(r"责任编辑|责编|编辑\s*[:：]|作者\s*[:：]|记者|通讯员")
# class/id of an element holding the author's names ("author", "zuozhe"; huanqiu.com marks
# its own writers' names "original")
_AUTHOR_CLASS_RE = re.compile(
    r"author|zuozhe|writer|byline|reporter|(?:^|\s)original(?:$|\s)", re.I
)
_META_AUTHOR_KEYS = ("author", "article:author", "byline", "dc.creator")
_META_TITLE_KEYS = ("articletitle", "og:title", "title", "twitter:title", "headline")


@dataclass(slots=True)
class _Page:
    """What is known about the page while its fields are being extracted."""

    root: HtmlElement
    url: str
    meta: dict[str, str]
    doc_title: str
    order: dict[HtmlElement, int]
    lines: list[tuple[int, str]]
    walk: PageWalk | None  # None for a tree with comments (never one from parse_html)
    scope: HtmlElement  # the page's <body> (the root without one)
    warnings: list[str] = field(default_factory=list)


def _check_input(body: bytes | str, content_type: str | None) -> None:
    if isinstance(body, bytes):
        if not body[:1024].strip():
            raise ExtractError("empty document")
        reason = not_html_reason(body, content_type)
        if reason:
            raise ExtractError(f"not an HTML document ({reason})")
    elif not body.strip():
        raise ExtractError("empty document")


def _read_meta(root: HtmlElement) -> dict[str, str]:
    meta: dict[str, str] = {}
    head = root.find("head")
    scope = head if head is not None else root
    for el in scope.iter("meta"):
        key = (el.get("name") or el.get("property") or el.get("itemprop") or "").strip().lower()
        value = (el.get("content") or "").strip()
        if key and value and key not in meta:
            meta[key] = value
    return meta


def _doc_title(root: HtmlElement) -> str:
    el = root.find(".//title")
    return collapse_ws(el.text_content() or "") if el is not None else ""


def extract_article(
    body: bytes | str,
    url: str,
    *,
    content_type: str | None = None,
    selectors: Selectors | None = None,
) -> ExtractedArticle:
    """Extract the article on one page.

    ``body`` is the response body (bytes, decoded with :func:`decode_html`, or text already);
    ``content_type`` the HTTP header; ``selectors`` the site's configured selectors.  Never
    raises on bad HTML; raises :class:`ExtractError` only for input that is not HTML at all
    (:func:`crawler.extract.sniff.not_html_reason`).  Every text field comes out through
    :func:`crawler.extract.textclean.clean_text`: no control characters, no bidi overrides.  A page
    with neither a readable title nor readable text is an ``"error"`` page.
    """
    _check_input(body, content_type)
    if isinstance(body, bytes):
        decoded = decode_html(body, content_type)
        text, encoding = decoded.text, decoded.encoding
    else:
        text, encoding = body, "utf-8"
    if "<" not in text:
        raise ExtractError("not an HTML document (no markup)")
    root = parse_html(text)

    walk = walk_page(root)
    links = extract_links(root, url)  # after the walk, which made the elements' proxies
    meta = _read_meta(root)
    body_el = root.find("body")
    scope = body_el if body_el is not None else root
    if walk is not None:
        order = walk.order
        lines = walk.positioned_lines(scope)
    else:
        order = {el: i for i, el in enumerate(root.iter())}
        lines = positioned_lines(scope, order)
    kind, reason = judge_tree(root, text, [line for _, line in lines])
    page = _Page(
        root=root,
        url=url,
        meta=meta,
        doc_title=_doc_title(root),
        order=order,
        lines=lines,
        walk=walk,
        scope=scope,
    )

    configured = selectors if selectors is not None and not selectors.is_empty() else None
    family = family_selectors(url, meta.get("sitedomain"))

    container, span = _body_container(page, configured, family)
    headline = _headline(page, configured, family, span)
    title_pos = headline.position
    if title_pos is None and headline.title:
        title_pos = _find_line(page, headline.title)
    info = info_window(lines, title_pos, span)

    source = _field_text(page, configured, family, "source", _source_from_text)
    if source is None:
        source = source_from_lines(info) or _source_by_class(page, span) or source_before_time(info)
    if source is None:
        source = source_after_body(info)
    author = _field_text(page, configured, family, "author", _author_from_text)
    if author is None:
        author = (
            _first(find_author(line) for line in info.near)
            or _author_by_class(page, span)
            or _first(info_line_names(line) for line in info.under_title[1:])
            or _headline_byline(headline.byline)
        )

    publish_time = _publish_time(page, configured, family, info)

    body_text_lines = _body_lines(page, container)
    paragraphs, bylines = clean_paragraphs(body_text_lines, headline.title, source)
    if author is None:
        author = _author_from_bylines(bylines, source) or body_credit(
            [ln.text for ln in body_text_lines], paragraphs, source
        )
    if source is None:
        source = _first(
            find_source(ln.text) for ln in body_text_lines[-3:] if len(ln.text) <= 120
        ) or _meta_source(page)
    editor = _first(find_editor(line) for line in info.tail) or _first(
        find_editor(ln.text) for ln in body_text_lines[-4:] if len(ln.text) <= 40
    )
    if author is None:
        author = _meta_author(page, editor, source)

    title = clean_optional(headline.title)
    body_text = clean_text("\n".join(paragraphs))
    if not is_readable(body_text):
        body_text = ""
    if kind == "article" and not is_readable(title) and not body_text:
        kind, reason = "error", UNREADABLE_REASON
    return ExtractedArticle(
        url=url,
        title=title,
        publish_time=publish_time.value if publish_time else None,
        publish_time_precision=publish_time.precision if publish_time else None,
        source=clean_optional(source),
        author=clean_optional(author),
        body=body_text,
        subtitle=clean_optional(headline.subtitle),
        pretitle=clean_optional(headline.pretitle),
        editor=clean_optional(editor),
        links=links,  # their texts are cleaned by extract_links
        warnings=tuple(clean_text(w) for w in page.warnings),
        encoding=encoding,
        page_kind=kind,
        error_reason=clean_optional(reason),
    )


def _first(values: Iterable[str | None]) -> str | None:
    for v in values:
        if v:
            return v
    return None


def _warn(page: _Page, message: str) -> None:
    # Returned in ``warnings`` for the caller to record (the spider does, once per run);
    # logged at debug level only, so a drifted selector does not log once per page.
    log.debug("%s: %s", page.url, message)
    page.warnings.append(message)


def _selected_elements(
    page: _Page, configured: Selectors | None, family: Selectors | None, name: str
) -> list[HtmlElement]:
    """Elements for field ``name``: configured selector first (warning if it fails), family."""
    for sel, is_config in ((configured, True), (family, False)):
        selector = getattr(sel, name) if sel is not None else None
        if not selector:
            continue
        found, err = select_elements(page.root, selector)
        if found:
            return found
        if is_config:
            _warn(page, err or f"{name} selector {selector!r} matched nothing")
        else:
            log.debug("%s: built-in %s selector %r matched nothing", page.url, name, selector)
    return []


def _field_text(
    page: _Page,
    configured: Selectors | None,
    family: Selectors | None,
    name: str,
    interpret: Callable[[str], str | None],
) -> str | None:
    """Text for field ``name`` from selectors, passed through ``interpret``."""
    for sel, is_config in ((configured, True), (family, False)):
        selector = getattr(sel, name) if sel is not None else None
        if not selector:
            continue
        texts, err = select_texts(page.root, selector)
        value = None
        for t in texts:
            value = interpret(t)
            if value:
                return value
        if is_config:
            if err:
                _warn(page, err)
            elif texts:
                _warn(page, f"{name} selector {selector!r} matched no usable {name}")
            else:
                _warn(page, f"{name} selector {selector!r} matched nothing")
    return None


def _source_from_text(text: str) -> str | None:
    found = find_source(text)
    if found:
        return found
    if _OTHER_FIELD_RE.search(text):
        return None
    value = _SOURCE_LABEL_RE.sub("", text).strip().strip("[]【】 ")
    if not value or len(value) > 30 or _SENTENCE_RE.search(value):
        return None  # a sentence or a headline, not a name
    if find_times(value) or is_geo_label(value):
        return None
    return value


def _author_from_text(text: str) -> str | None:
    found = find_author(text)
    if found:
        return found
    value = _AUTHOR_LABEL_RE.sub("", text).strip()
    return value if value and len(value) <= 40 else None


def _span(page: _Page, elements: list[HtmlElement]) -> tuple[int, int] | None:
    """Positions of the first element and of the last descendant of the last element."""
    first = page.order.get(elements[0])
    if first is None:
        return None
    last = elements[-1]
    for last in elements[-1].iter():  # noqa: B007 - want the last descendant
        pass
    end = page.order.get(last, first)
    return body_first_position(page.lines, first, end), end


def _body_container(
    page: _Page, configured: Selectors | None, family: Selectors | None
) -> tuple[HtmlElement | None, tuple[int, int] | None]:
    found = _selected_elements(page, configured, family, "body")
    if len(found) == 1:
        return found[0], _span(page, found)
    if found:
        # several matches: their copies in one detached container, in document order
        wrapper = Element("div")
        for el in found:
            dup = copy.deepcopy(el)
            dup.tail = None
            wrapper.append(dup)
        return wrapper, _span(page, found)
    if page.walk is not None:
        container = find_body_container(page.root, page.walk.body_lines(page.scope))
    else:
        container = find_body_container(page.root)
    return container, (_span(page, [container]) if container is not None else None)


def _body_lines(page: _Page, container: HtmlElement | None) -> list[Line]:
    """The container's lines, from the page's walk unless it is not one of the page's
    elements (the detached copies of several selected elements)."""
    if container is None:
        return []
    walk = page.walk
    return walk.body_lines(container) if walk and walk.has(container) else body_lines(container)


def _headline(
    page: _Page,
    configured: Selectors | None,
    family: Selectors | None,
    span: tuple[int, int] | None,
) -> Headline:
    found = _selected_elements(page, configured, family, "title")
    for el in found:
        text = visible_text(el)
        if text:
            pre, sub = neighbour_titles(el)
            return Headline(
                title=text, element=el, pretitle=pre, subtitle=sub, position=page.order.get(el)
            )
    meta_titles = [page.meta[k] for k in _META_TITLE_KEYS if page.meta.get(k)]
    return find_headline(page.root, page.doc_title, meta_titles, page.order, page.lines, span)


def _find_line(page: _Page, title: str) -> int | None:
    """Position of the first page line that is the headline."""
    want = squash(title)
    for pos, text in page.lines:
        if squash(text) == want:
            return pos
    return None


def _source_by_class(page: _Page, span: tuple[int, int] | None) -> str | None:
    """The text of an element whose class/id names the source (#source_baidu, .source)."""
    for el in page.scope.iter("span", "div", "em", "p", "a", "font", "i", "td", "li"):
        ci = f"{el.get('class') or ''} {el.get('id') or ''}"
        if ci.strip() and _SOURCE_CLASS_RE.search(ci):
            pos = page.order.get(el, -1)
            after_body = span is not None and pos > span[1]
            if span is not None and span[0] <= pos <= span[1]:
                continue
            text = visible_text(el)
            if not text or len(text) > 60 or _in_page_furniture(el):
                continue
            # after the body, only a labelled source: an unlabelled text there is as likely
            # a related article's
            labelled_only = after_body or _in_list_item(el)
            value = find_source(text) if labelled_only else _source_from_text(text)
            if value:
                return value
    return None


def _in_list_item(el: HtmlElement) -> bool:
    """True for an element in a list item (a list of other articles, most of the time)."""
    for depth, anc in enumerate(el.iterancestors()):
        if anc.tag == "li":
            return True
        if depth >= 3:
            break
    return el.tag == "li"


def _in_page_furniture(el: HtmlElement) -> bool:
    """True inside navigation, related-content lists and the like (by tag or class/id)."""
    for anc in el.iterancestors():
        tag = anc.tag if isinstance(anc.tag, str) else ""
        if tag in ("nav", "footer", "aside", "body"):
            return tag != "body"
        if furniture_strength(anc) == 2:
            return True
    return False


def _author_by_class(page: _Page, span: tuple[int, int] | None) -> str | None:
    """Names in an element before the body whose class/id names the author (.author)."""
    for el in page.scope.iter("span", "div", "em", "p", "a", "font", "i", "td", "li", "address"):
        pos = page.order.get(el, -1)
        if span is not None and pos >= span[0]:
            break
        ci = f"{el.get('class') or ''} {el.get('id') or ''}"
        if ci.strip() and _AUTHOR_CLASS_RE.search(ci):
            text = visible_text(el)
            if text and len(text) <= 40:
                value = find_author(text) or credit_names(text)
                if value:
                    return value
    return None


def _headline_byline(line: str | None) -> str | None:
    if not line:
        return None
    return find_author(line) or credit_names(line) or line


def _meta_author(page: _Page, editor: str | None, source: str | None) -> str | None:
    """Names in the author meta tag, unless they are the editor's or the site's."""
    for key in _META_AUTHOR_KEYS:
        value = page.meta.get(key)
        names = credit_names(value) if value else None
        if not names:
            continue
        known = f"{editor or ''} {source or ''} {page.doc_title}"
        if any(name in known for name in names.split()):
            continue
        return names
    return None


def _meta_source(page: _Page) -> str | None:
    value = page.meta.get("source") or page.meta.get("contentsource")
    return _source_from_text(value) if value else None


def _time_from_text(text: str) -> FoundTime | None:
    lt = labeled_time(text)
    if lt is not None:
        return lt
    times = find_times(text)
    return times[0] if times else None


def _time_from_text_str(text: str) -> str | None:
    return text if _time_from_text(text) is not None else None


def _publish_time(
    page: _Page, configured: Selectors | None, family: Selectors | None, info: InfoLines
) -> PublishTime | None:
    near: list[FoundTime] = []
    selected = _field_text(page, configured, family, "publish_time", _time_from_text_str)
    if selected:
        ft = _time_from_text(selected)
        if ft is not None:
            near.append(FoundTime(ft.value, ft.has_clock, 0, labeled=True))
    if not near:
        near = times_near_title(info)
    elsewhere = labeled_time_after_body(info) if not near else None
    return choose_publish_time(near, elsewhere, url_date(page.url), meta_time(page.meta))


def _author_from_bylines(bylines: list[str], source: str | None) -> str | None:
    for line in bylines:
        names = byline_names(line, source)
        if names:
            return names
    return None


def parse_publish_time(text: str) -> datetime | None:
    """The first date or date-time in ``text`` (Beijing time), for list pages' date cells."""
    return parse_time(text)
