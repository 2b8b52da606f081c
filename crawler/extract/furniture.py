"""Page furniture named by class and id: share widgets, related lists, footers, pagers.

Whether an element's ``class``/``id`` words name furniture (strongly: ``share``, ``related``,
``footer`` …; weakly: ``info``, ``page``, ``time`` …, which also name wrappers of short
articles) and whether such an element's text says it is furniture after all.  Read by the
body walks (:mod:`crawler.extract.body`, :mod:`crawler.extract.pagewalk`) and the byline
readers (:mod:`crawler.extract.article`).  Written by hand: the words are the sites' own.
"""

from __future__ import annotations

import re

from lxml.html import HtmlElement

from crawler.extract.dom import remembered

SENTENCE_PUNCT_RE = re.compile(r"[，。！？；：、“”,.!?;]")

# Words in class/id names of page furniture.  A class/id is furniture when one of its words
# is here (or starts with a prefix below) and none of its words names content.  Strong words
# name furniture outright; weak words (info, page, time …) also name wrappers of short
# articles, so an element named by them is furniture only when it holds no prose.
_NOISE_WORDS = frozenset(
    {"share", "fenxiang", "bdshare", "jiathis", "related", "relate", "xgwz", "xgxw", "xglj",
     "recommend", "tuijian", "comment", "comments", "pinglun", "footer", "foot", "copyright",
     "banquan", "breadcrumb", "crumb", "crumbs", "position", "location", "weizhi", "nav",
     "navbar", "menu", "sidebar", "aside", "ad", "ads", "advert", "guanggao", "qrcode", "ewm",
     "erweima", "print", "toolbar", "pagination", "pager", "pagelist", "zrbj", "login",
     "search", "subscribe", "prevnext", "updown", "sxp", "fontsize", "zihao", "gotop",
     "backtop", "totop", "player", "appdown", "statement", "disclaimer", "shengming",
     "sharebox", "topbar", "fanye", "listpage"}
)  # fmt: skip
_WEAK_NOISE_WORDS = frozenset(
    {"tools", "tags", "keywords", "hot", "rank", "paihang", "prev", "next", "video", "audio",
     "download", "tip", "tips", "more", "pages", "page", "author", "source", "info", "time",
     "date", "bianji"}
)  # fmt: skip
_NOISE_PREFIXES = ("share", "relat", "recommend", "comment", "footer", "copyright", "breadcrumb")
_CONTENT_WORDS = frozenset(
    {"content", "contents", "articlecontent", "trs", "zoom", "artibody", "endtext", "neirong",
     "zw", "newstext", "maintext", "textcontent", "conent"}
)  # fmt: skip
_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD_SPLIT_RE = re.compile(r"[\s_\-]+")
_FURNITURE_MAX_TEXT = 400
_PROSE_RE = re.compile(r"[\u4e00-\u9fff][^。！？\n]{8,}[。！？]")


def class_words(el: HtmlElement) -> list[str]:
    """The words of an element's class and id ("TRS_Editor" → ["trs", "editor"])."""
    return _words_of(f"{el.get('class') or ''} {el.get('id') or ''}")


def _words_of(raw: str) -> list[str]:
    raw = _CAMEL_RE.sub(" ", raw)
    return [w.lower() for w in _WORD_SPLIT_RE.split(raw) if w]


def furniture_strength(el: HtmlElement) -> int:
    """2 when the element's class/id names page furniture (share, related, footer …), 1 when
    it names something often furniture (info, page, time …), 0 otherwise."""
    return strength_by(el.get("class"), el.get("id"))


def strength_by(class_: str | None, id_: str | None) -> int:
    """:func:`furniture_strength` of an element with this class and id."""
    if not class_ and not id_:
        return 0
    return _strength(f"{class_ or ''} {id_ or ''}")


def _strength_of(raw: str) -> int:
    words = _words_of(raw)
    if any(w in _CONTENT_WORDS for w in words):
        return 0
    if any(w in _NOISE_WORDS or w.startswith(_NOISE_PREFIXES) for w in words):
        return 2
    return 1 if any(w in _WEAK_NOISE_WORDS for w in words) else 0


# the furniture strength of a class/id text: a site's templates repeat the same few
_strength = remembered(_strength_of)


def is_furniture(el: HtmlElement) -> bool:
    """True when the element's class/id names page furniture, strongly or weakly."""
    return furniture_strength(el) > 0


def is_furniture_block(el: HtmlElement) -> bool:
    """Furniture by class/id, unless its text says otherwise.

    A strongly named element is kept only when it holds a lot of prose (it is misnamed, as
    in ``js_img_share_area`` around an article); a weakly named one whenever it holds prose.
    """
    strength = furniture_strength(el)
    return bool(strength) and furniture_by_text(el, strength)


def furniture_by_text(el: HtmlElement, strength: int) -> bool:
    """:func:`is_furniture_block` of an element whose class/id has furniture ``strength`` > 0."""
    text = el.text_content() or ""
    links = sum(len(a.text_content() or "") for a in el.iter("a"))
    if strength == 1:
        return links > 0.5 * len(text) or not _PROSE_RE.search(text)
    if len(text) < _FURNITURE_MAX_TEXT:
        return True
    sentences = len(SENTENCE_PUNCT_RE.findall(text))
    return sentences < 10 or links > 0.5 * len(text)
