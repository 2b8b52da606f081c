"""Selectors: the ones configured per site, and built-in ones for known site families.

A selector is CSS, or XPath when it starts with ``/`` or ``(`` (see
:class:`crawler.extract.records.Selectors`).  :func:`select` never raises: an invalid selector
matches nothing and says why, so the extractor can record a warning and fall back to the
generic extractor.

Built-in families are real site knowledge (layouts shared by every page of a site), used when
the site's config gives no selectors: ccdi.gov.cn (``h2.tit``/``.daty_con``/``div.content``),
jjc.cq.gov.cn, zjsjw.gov.cn.  Each falls back to the generic extractor field by field when a
selector does not match (ccdi has special-topic templates without ``h2.tit``).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from lxml.html import HtmlElement

from crawler.extract.dom import collapse_ws, visible_text
from crawler.extract.records import Selectors
from crawler.extract.selectors import compile_selector

log = logging.getLogger(__name__)

_FAMILIES: tuple[tuple[tuple[str, ...], Selectors], ...] = (
    (
        ("ccdi.gov.cn",),
        Selectors(
            title="h2.tit",
            publish_time=".daty_con .e2",
            source=".daty_con .e1",
            body="div.content",
        ),
    ),
    (
        ("jjc.cq.gov.cn",),
        Selectors(title="#text h1", publish_time=".ls", source=".ls", body=".nr"),
    ),
    (
        ("zjsjw.gov.cn",),
        Selectors(
            title="h1.artTitle",
            publish_time="#pubtime_baidu",
            source="#source_baidu",
            body=".artCon",
        ),
    ),
)


def family_selectors(url: str, site_domain: str | None = None) -> Selectors | None:
    """Built-in selectors for the site family of ``url`` (or of the page's SiteDomain meta)."""
    hosts = [urlsplit(url).hostname or ""]
    if site_domain:
        hosts.append(site_domain.strip().lower())
    for host in hosts:
        for suffixes, sel in _FAMILIES:
            if any(host == s or host.endswith("." + s) for s in suffixes):
                return sel
    return None


def _run(root: HtmlElement, selector: str) -> tuple[list[object], str | None]:
    try:
        compiled = compile_selector(selector)
    except ValueError as exc:
        return [], f"invalid selector {selector!r}: {exc}"
    try:
        found = compiled(root)
    except Exception as exc:
        return [], f"selector {selector!r} failed: {exc}"
    if not isinstance(found, list):
        found = [found] if isinstance(found, str) and found.strip() else []
    return list(found), None


def select_elements(root: HtmlElement, selector: str) -> tuple[list[HtmlElement], str | None]:
    """The elements ``selector`` matches under ``root``, and an error message if invalid."""
    found, err = _run(root, selector)
    return [el for el in found if isinstance(el, HtmlElement)], err


def select_texts(root: HtmlElement, selector: str) -> tuple[list[str], str | None]:
    """The visible texts ``selector`` matches (elements, or XPath text/attribute results)."""
    found, err = _run(root, selector)
    texts: list[str] = []
    for item in found:
        if isinstance(item, HtmlElement):
            text = visible_text(item)
        elif isinstance(item, str):
            text = collapse_ws(item)
        else:
            continue
        if text:
            texts.append(text)
    return texts, err
