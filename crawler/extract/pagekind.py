"""What kind of page a fetched response is: content, a crawler challenge, or an error page.

Sites answer crawlers with HTTP 200 pages that are not what was asked for.  The crawler must
store neither as an article, and must not report a challenge as a dead link.

API:

- :func:`is_challenge_page(html) <is_challenge_page>` → ``bool``: an anti-crawler
  challenge (ccdi's ``HOY_TR`` JS cookie page, slider captchas ``captchaPage`` /
  ``seccaptcha.haplat.net``, 瑞数/加速乐 style cookie challenges).  A challenge marker alone is
  not enough: ccdi serves its ``HOY_TR`` cookie script on real article pages too, so the page
  must also be nearly empty of visible text.
- :func:`error_page_reason(text, title) <error_page_reason>` → ``str | None``: why a page is
  an error page ("404 Not Found", "页面不存在" …), judged on its visible text and ``<title>``.
  The phrase must dominate the page (be in the ``<title>`` or a heading, or the page must
  have little other text), so an article with a dead embedded iframe that shows "404 Not
  Found" is still an article.
- :func:`is_readable(text) <is_readable>` → ``bool``: whether extracted text reads as text
  (letters or digits make up a fair share of it), so that a page of 200,000 ``<`` or of
  punctuation, with no title, is an error page rather than an article.
- :func:`classify_page(html_or_tree) <classify_page>` → ``"article" | "challenge" | "error"``.
- :func:`classify_tree(root, html) <classify_tree>`: the same for an already parsed tree;
  :func:`judge_tree` also returns the error reason.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from lxml.html import HtmlElement

from crawler.extract.dom import collapse_ws, is_body_sentence, parse_html, text_lines
from crawler.extract.records import PageKind

__all__ = [
    "CAPTCHA_MARKERS",
    "CAPTCHA_MARKER_BYTES",
    "PageKind",
    "classify_page",
    "classify_tree",
    "error_page_reason",
    "is_challenge_page",
    "is_readable",
    "judge_tree",
]

# Markers of a slider-captcha interstitial (ccdi's seccaptcha, geetest): a person must solve
# it, so govwatch never does; the per-host pace (crawler.guards.hostpace) and the browser solver
# (crawler.guards.challenge) read the same list.
CAPTCHA_MARKERS = (
    "seccaptcha.haplat.net",
    "captchaPage",
    "comImageValidate",
    "slideCaptcha",
    "geetest_",
)
CAPTCHA_MARKER_BYTES = tuple(m.encode() for m in CAPTCHA_MARKERS)

# Markers that only ever appear on challenge pages (plain substrings: searching a 100 KB page
# for a dozen literals is much faster than one case-insensitive regex).
_STRONG_MARKERS = (
    "seccaptcha.haplat.net",
    "captchaPage",
    "captchapage",
    "comImageValidate",
    "slideCaptcha",
    "nc_token",
    "geetest_",
    "/_guard/",
    "_waf_is_valid",
    "waf_captcha",
    "TencentCaptcha",
    "TCaptcha.js",
)
# Markers that also appear on ordinary pages (cookie scripts injected by a WAF).
_WEAK_MARKERS = (
    "HOY_TR",
    "HBB_HC",
    "__jsl_clearance",
    "_ws_sbu",
    "$_ts",
    "acw_sc__v2",
    "document.cookie",
    "location.reload",
)
_CHALLENGE_TEXT_RE = re.compile(
    r"安全验证|人机验证|滑动验证|拖动滑块|请完成验证|访问验证|请开启JavaScript|"
    r"请启用JavaScript|enable JavaScript|正在验证|检测到您的访问|访问过于频繁"
)
# Challenge pages are small; text markers are only looked for in pages up to this size.
_CHALLENGE_MAX_HTML = 30_000


_ERROR_RE = re.compile(
    r"\b(?:404|403|410|500|502|503)\s*(?:-\s*)?(?:Not Found|Forbidden|Gone|Internal Server Error|"
    r"Bad Gateway|Service (?:Temporarily )?Unavailable)\b|"
    r"HTTP (?:错误|Error) (?:404|403|500)|The (?:page|resource) (?:you are looking for|cannot be "
    r"found)|The requested URL .{0,200} was not found|Server Error in '/' Application|"
    r"页面不存在|页面未找到|找不到(?:该|您要访问的)?页面|您(?:所)?访问的页面不存在|"
    r"(?:页面|网页|文章|信息|内容|稿件)(?:已经?被?|已?被)(?:删除|撤销|撤稿|下线)|"
    r"该(?:信息|文章|内容|稿件|页面)(?:已|已经)?(?:被)?(?:删除|撤销|撤稿|下线|不存在)|"
    r"(?:信息|文章|内容|稿件)不存在|无法找到(?:该|此)?(?:页面|网页)|"
    r"抱歉[，,]?\s*(?:您|你)?(?:要|所)?(?:访问|浏览|查看)的(?:页面|网页|内容)",
    re.I,
)
# Visible text (characters, link text included) below which a page with a challenge marker
# is a challenge, and below which a page with an error phrase is an error page.
_CHALLENGE_MAX_TEXT = 200
_CAPTCHA_MAX_TEXT = 1500
# Links (a site's navigation) from which a short page with a weak marker is not a challenge.
_CHROME_LINKS = 3
_ERROR_MAX_TEXT = 600
# An error phrase as the page's main heading counts on pages with up to this much text (site
# chrome around a "页面不存在" box); an article with a dead embed has far more.
_ERROR_HEADING_MAX_TEXT = 1500
# Sentence text (lines that read as prose) above which a page is an article whatever it says
# elsewhere, and above which only the <title> can make it an error page.
_ARTICLE_SENTENCE_CHARS = 600
_ERROR_MAX_SENTENCE_CHARS = 150
# Text reads as text when letters and digits (any script) are at least this share of its
# non-space characters; judged on its first _READABLE_SAMPLE characters.
_READABLE_SHARE = 0.3
_READABLE_SAMPLE = 5000
# ... and when at most this share of them is what only decoded noise holds: U+FFFD, private-use,
# unassigned and surrogate code points.  Random bytes read as GB18030 are ~18% of them (their
# hanzi count as letters); the real pages of the corpus at most 2.3%.
_NOISE_SHARE = 0.1
_NOISE_CATEGORIES = frozenset({"Co", "Cn", "Cs"})
UNREADABLE_REASON = "no title and no readable text"
_ALNUM_RE = re.compile(r"[^\W_]+")


def _visible_chars(root: HtmlElement) -> str:
    body = root.find("body")
    return " ".join(text_lines(body if body is not None else root))


def is_readable(text: str | None) -> bool:
    """True when ``text`` holds letters or digits enough to be read (see the module doc)."""
    if not text:
        return False
    sample = "".join(text[:_READABLE_SAMPLE].split())
    if not sample:
        return False
    # ``[^\W_]`` is exactly what ``str.isalnum`` accepts: counted in C, not per character;
    # counted first in a head of the sample, which is enough for most texts
    need = _READABLE_SHARE * len(sample)
    head = sample[: int(need) + _READABLE_SAMPLE // 20]
    letters = len(head) - len(_ALNUM_RE.sub("", head))
    if letters < need and len(head) < len(sample):
        rest = sample[len(head) :]
        letters += len(rest) - len(_ALNUM_RE.sub("", rest))
    if letters == 0 or letters < need:
        return False
    if sample.isprintable():  # no Co/Cn/Cs character: U+FFFD is the only noise left
        noise = sample.count("\ufffd")
    else:  # per distinct character, not per character
        noise = sum(
            n
            for ch, n in Counter(sample).items()
            if ch == "\ufffd" or unicodedata.category(ch) in _NOISE_CATEGORIES
        )
    return noise <= _NOISE_SHARE * len(sample)


def is_challenge_page(
    html: str, root: HtmlElement | None = None, lines: list[str] | None = None
) -> bool:
    """True when ``html`` is an anti-crawler challenge rather than the page asked for.

    ``lines`` are the visible text lines of the page's body (of ``root``), when the caller
    has them: a page with more visible text than any challenge has is then answered without
    the ~20 scans of the whole page for markers (a tenth of an article's extraction).
    """
    if lines is not None:
        text = " ".join(lines)
        n = len(text) - text.count(" ")
        if n > _CAPTCHA_MAX_TEXT:  # more than the most a challenge has, whatever its markers
            return False
    strong = any(marker in html for marker in _STRONG_MARKERS)
    weak = not strong and any(marker in html for marker in _WEAK_MARKERS)
    if (
        not strong
        and not weak
        and (len(html) > _CHALLENGE_MAX_HTML or not _CHALLENGE_TEXT_RE.search(html))
    ):
        return False
    if root is None:
        try:
            root = parse_html(html)
        except Exception:
            return strong or weak
    if lines is None:
        text = _visible_chars(root)
        n = len(text) - text.count(" ")
    if strong:
        return n <= _CAPTCHA_MAX_TEXT
    if weak:
        # a WAF's cookie script on a short page of the site (its chrome's links around a
        # few words) is not a challenge: challenge pages have no navigation
        return n <= _CHALLENGE_MAX_TEXT and len(root.xpath("//a[@href]")) < _CHROME_LINKS
    return n <= _CHALLENGE_MAX_TEXT and _CHALLENGE_TEXT_RE.search(text) is not None


def error_page_reason(
    text: str, title: str = "", headings: tuple[str, ...] = (), sentence_chars: int = 0
) -> str | None:
    """Why the page whose visible ``text`` (and ``<title>``) is given is an error page.

    Returns the matched phrase ("404 Not Found", "页面不存在" …) or ``None`` for a normal page.
    ``headings`` are the page's h1/h2 texts; ``sentence_chars`` how much of its text reads as
    sentences (an article has plenty, an error page in its site chrome has little).
    """
    if sentence_chars >= _ARTICLE_SENTENCE_CHARS:
        return None
    m = _ERROR_RE.search(title or "")
    if m:
        return collapse_ws(m.group(0))
    if sentence_chars >= _ERROR_MAX_SENTENCE_CHARS:
        return None
    n = len(text.replace(" ", ""))
    if n <= _ERROR_HEADING_MAX_TEXT:
        for h in headings:
            m = _ERROR_RE.search(h)
            if m and len(h) <= 60:
                return collapse_ws(m.group(0))
    m = _ERROR_RE.search(text)
    if m and n <= _ERROR_MAX_TEXT:
        return collapse_ws(m.group(0))
    return None


def judge_tree(
    root: HtmlElement, html: str, lines: list[str] | None = None
) -> tuple[PageKind, str | None]:
    """The kind of an already parsed page and, for an error page, the reason.

    ``lines`` are the text lines of the page's body when the caller has them already.
    """
    body = root.find("body")
    scope = body if body is not None else root
    if lines is None:
        lines = text_lines(scope)
    if is_challenge_page(html, root, lines):
        return "challenge", None
    sentences = 0
    for line in lines:
        if is_body_sentence(line):
            sentences += len(line)
            if sentences >= _ARTICLE_SENTENCE_CHARS:
                return "article", None  # error_page_reason would look no further
    title_el = root.find(".//title")
    title = collapse_ws(title_el.text_content()) if title_el is not None else ""
    headings = tuple(collapse_ws(h.text_content() or "") for h in scope.iter("h1", "h2"))
    reason = error_page_reason(" ".join(lines), title, headings[:5], sentences)
    if reason:
        return "error", reason
    return "article", None


def classify_tree(root: HtmlElement, html: str) -> PageKind:
    """Classify an already parsed page; ``html`` is its source text."""
    return judge_tree(root, html)[0]


def classify_page(html_or_tree: str | HtmlElement) -> PageKind:
    """``"challenge"``, ``"error"`` or ``"article"`` (any page with real content) for a page."""
    if isinstance(html_or_tree, str):
        try:
            root = parse_html(html_or_tree)
        except Exception:
            return "error"
        return classify_tree(root, html_or_tree)
    from lxml import etree

    html = etree.tostring(html_or_tree, encoding="unicode", method="html")
    return classify_tree(html_or_tree, html)
