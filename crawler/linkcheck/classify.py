"""Classify one check of a link from what its fetch saw: pure, no network.

:func:`classify` turns a :class:`~crawler.linkcheck.records.FetchOutcome` into a
:class:`~crawler.linkcheck.records.Verdict` (``ok``, ``redirected``, ``dead``, ``soft_404``,
``error``, ``blocked`` or ``refused``).  One check is one observation: whether an ``error``
has lasted long enough to make the link ``dead`` is decided across checks by
:mod:`crawler.linkcheck.state`.

- 404 and 410, and a host name that does not exist, are ``dead`` at once: the server (or
  DNS) said so.
- 401/403/412/420/429/999, a 521 with a script (a 加速乐-style JavaScript challenge), and
  any page that is an anti-bot challenge or a captcha (whatever its status), are
  ``blocked``: the site refuses crawlers, which says nothing about the link.
- A 2xx HTML page whose content is an error page (nginx/Apache/IIS "404 Not Found",
  "页面不存在", "该信息已删除" …, judged by :mod:`crawler.extract.pagekind`), and a deep link that
  ends, after redirects, on its site's home page or on a ``/404.html``-style page, are
  ``soft_404``.
- A permanent redirect (301/308 on the first hop) to a URL that answers is ``redirected``,
  with the new URL; one that only adds ``https``, ``www.``-less forms or a trailing slash is
  ``ok`` (canonically the same URL).
- 5xx and every other status, timeouts, resets, refused connections, redirect loops:
  ``error``.
"""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urlsplit

from crawler.extract.canonical import canonicalize
from crawler.extract.decode import decode_html
from crawler.extract.dom import parse_html
from crawler.extract.pagekind import judge_tree
from crawler.linkcheck.records import FetchOutcome, LinkStatus, Verdict

DEAD_STATUSES = frozenset({404, 410})
BLOCKED_STATUSES = frozenset({401, 403, 412, 420, 429, 999})
SCRIPT_CHALLENGE_STATUS = 521  # with a script: a challenge; without: Cloudflare's origin down
PERMANENT_REDIRECTS = frozenset({301, 308})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# HEAD answers that are not to be believed: ask again with GET.
HEAD_UNRELIABLE_FROM = 400

# Paths whose resources are fetched with HEAD first (no body is needed to judge them).
_RESOURCE_EXT = re.compile(
    r"\.(?:png|jpe?g|gif|bmp|webp|svg|ico|tiff?|css|js|mjs|json|xml|pdf|docx?|xlsx?|pptx?|"
    r"wps|et|ofd|zip|rar|7z|gz|tgz|tar|bz2|txt|csv|mp3|mp4|m4a|avi|flv|wmv|mov|swf|woff2?|"
    r"ttf|eot|otf|apk|exe|msi|dmg|iso)$",
    re.I,
)
_ERROR_PATH = re.compile(
    r"/(?:40[034]|50[03]|error|errors|notfound|not[-_]found|nofound|nopage)(?:\.[a-z]{2,5})?/?$",
    re.I,
)
_HTML_TYPES = ("text/html", "application/xhtml+xml")


def wants_head(url: str) -> bool:
    """Whether a link is checked with HEAD first: files and resources (images, scripts,
    attachments).  Pages are fetched with GET at once: only their body can show a soft 404,
    so a HEAD would be a wasted request."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return False
    return _RESOURCE_EXT.search(path) is not None


def head_needs_get(outcome: FetchOutcome) -> bool:
    """Whether a HEAD's answer must be confirmed (or completed) with a GET.

    Servers answer HEAD badly (405/501/403, even 404 or 500, for what GET serves), so every
    HEAD error status is asked again with GET; an HTML 2xx needs its body for the soft-404
    test.  A HEAD that got no answer at all (timeout, reset, DNS) is not repeated.
    """
    if outcome.method != "HEAD" or outcome.status is None:
        return False
    return outcome.status >= HEAD_UNRELIABLE_FROM or (
        200 <= outcome.status < 300 and is_html(outcome.content_type, None)
    )


def is_html(content_type: str | None, body: bytes | None) -> bool:
    if content_type:
        return content_type.split(";", 1)[0].strip().lower() in _HTML_TYPES
    if body is None:
        return True  # unknown type: look at it
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<meta", b"<title"))


def page_verdict(body: bytes, content_type: str | None) -> tuple[LinkStatus, str] | None:
    """``("blocked", why)`` or ``("soft_404", why)`` for a challenge or error page, else None."""
    if not body.strip():
        return None
    decoded = decode_html(body, content_type)
    try:
        root = parse_html(decoded.text)
    except Exception:  # lxml gives up on some garbage; such a page is not an error page
        return None
    kind, reason = judge_tree(root, decoded.text)
    if kind == "challenge":
        return "blocked", "anti-bot challenge page"
    if kind == "error":
        return "soft_404", reason or "error page"
    return None


def classify(outcome: FetchOutcome) -> Verdict:
    """The verdict on one fetch of a link (see the module docstring)."""
    if outcome.failure is not None:
        last = outcome.hops[-1].status if outcome.hops else None
        message = outcome.message or str(outcome.failure)
        if outcome.failure == "dns_not_found":
            return replace(_verdict(outcome, "dead", None, message), host_not_found=True)
        if outcome.failure == "refused":
            return _verdict(outcome, "refused", None, message)
        return _verdict(outcome, "error", last, message)
    status = outcome.status
    assert status is not None
    moved_to = outcome.final_url if outcome.hops else None
    body = outcome.body
    if body is not None and is_html(outcome.content_type, body):
        judged = page_verdict(body, outcome.content_type)
        if judged is not None and (judged[0] == "blocked" or 200 <= status < 300):
            return _verdict(outcome, judged[0], status, judged[1], moved_to)
    if status in DEAD_STATUSES:
        return _verdict(outcome, "dead", status, f"HTTP {status}", moved_to)
    if status in BLOCKED_STATUSES:
        return _verdict(outcome, "blocked", status, f"HTTP {status}", moved_to)
    if status == SCRIPT_CHALLENGE_STATUS and body is not None and b"<script" in body.lower():
        detail = f"HTTP {status}: JavaScript challenge"
        return _verdict(outcome, "blocked", status, detail, moved_to)
    if status in REDIRECT_STATUSES:
        return _verdict(outcome, "error", status, f"HTTP {status} without a Location")
    if not 200 <= status < 400:
        return _verdict(outcome, "error", status, f"HTTP {status}", moved_to)
    if outcome.hops:
        first, final = outcome.url, outcome.final_url
        landing = _is_deep(first) and _landing(first, final)
        if landing:
            return _verdict(outcome, "soft_404", status, f"redirected to the {landing}", final)
        if outcome.hops[0].status in PERMANENT_REDIRECTS and not same_resource(first, final):
            return _verdict(outcome, "redirected", status, f"moved permanently to {final}", final)
    return _verdict(outcome, "ok", status, f"HTTP {status}", moved_to)


def _verdict(
    outcome: FetchOutcome,
    status: LinkStatus,
    http_status: int | None,
    detail: str,
    redirect_url: str | None = None,
) -> Verdict:
    return Verdict(
        status=status,
        http_status=http_status,
        detail=detail,
        redirect_url=redirect_url,
        final_url=outcome.final_url or None,
        method=outcome.method,
        elapsed_ms=outcome.elapsed_ms,
    )


def same_resource(a: str, b: str) -> bool:
    """The same page under another spelling: http/https, ``www.``, index page, final slash."""

    def key(url: str) -> str:
        canonical = canonicalize(url)
        parts = urlsplit(canonical)
        host = (parts.hostname or "").removeprefix("www.")
        return f"{host}{parts.path.rstrip('/')}?{parts.query}"

    return key(a) == key(b)


def _site_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower().removeprefix("www.")


def _is_deep(url: str) -> bool:
    parts = urlsplit(canonicalize(url))
    return parts.path not in ("", "/") or bool(parts.query)


def _landing(first: str, final: str) -> str | None:
    """ "home page" or "error page" when a deep link of a site ends on one of that site."""
    if _site_of(first) != _site_of(final):
        return None
    parts = urlsplit(canonicalize(final))
    if parts.path in ("", "/") and not parts.query:
        return "home page"
    return "error page" if _ERROR_PATH.search(parts.path) else None
