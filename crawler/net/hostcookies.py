"""Cookies kept per host, as the crawl's jar and the link checker's jar hold them.

Both jars are :class:`http.cookiejar.CookieJar` (Scrapy's ``CookieJar`` wraps one), so the
same few pure helpers serve both:

- :func:`jar_domains`: the cookie domains a request to a host may carry (what to load);
- :func:`stored` / :func:`jar_cookie`: a jar's cookie to the database's
  :class:`~storage.records.StoredCookie` and back;
- :func:`apply_rule`: a site's named cookie rule (:mod:`crawler.net.cookierules`) on the jar's
  cookies for one host, before a request to it.

:class:`CheckerCookies` is the link checker's jar (the crawl's is
:class:`crawler.guards.cookiejar.ReplayCookiesMiddleware`): cookies sent by servers and set by
pages' inline scripts (:mod:`crawler.net.scriptcookies`), the configured sites' cookie rules
applied before each request, and the sites' hosts' cookies loaded from and saved to the
database (``host_cookies``) like the crawl's, with the User-Agent a browser got them with
(``host_agents``), sent in place of the checker's own to that host.
"""

from __future__ import annotations

import email.message
import logging
import threading
import time
import urllib.request
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from http.cookiejar import Cookie, CookieJar, DefaultCookiePolicy
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.http.cookies import potential_domain_matches

from crawler.net.cookierules import RULES, CookieRule
from crawler.net.scriptcookies import script_cookies
from storage.errors import StorageError
from storage.records import StoredCookie

if TYPE_CHECKING:  # the link checker's: a crawl process (its cookie jar) imports neither
    from storage.database import Database

log = logging.getLogger(__name__)


def jar_domains(host: str) -> list[str]:
    """The cookie-jar domains whose cookies a request to ``host`` may carry."""
    if host.replace(".", "").isdigit():
        return [host, "." + host]
    domains = list(potential_domain_matches(host))
    if "." not in host:
        domains += potential_domain_matches(host + ".local")
    return domains


def domain_matches(domain: str, host: str) -> bool:
    """Whether a jar cookie of ``domain`` goes with requests to ``host``."""
    if domain == host or domain == host + ".local":
        return True
    return domain.startswith(".") and ("." + host).endswith(domain)


def apply_rule(rule: CookieRule, cookies: Iterable[Cookie], host: str) -> int:
    """Rewrite the cookies ``rule`` names that go to ``host``; returns how many changed."""
    changed = 0
    for cookie in cookies:
        if cookie.name not in rule.cookies or cookie.value is None:
            continue
        if not domain_matches(cookie.domain, host):
            continue
        rewritten = rule.rewrite(cookie.name, cookie.value)
        if rewritten is not None and rewritten != cookie.value:
            cookie.value = rewritten
            changed += 1
    return changed


def stored(cookie: Cookie) -> StoredCookie:
    """A jar cookie with an expiry, as the database keeps it."""
    assert cookie.expires is not None
    return StoredCookie(
        domain=cookie.domain,
        path=cookie.path,
        name=cookie.name,
        value=cookie.value or "",
        expires_at=datetime.fromtimestamp(cookie.expires, UTC),
        secure=cookie.secure,
    )


def jar_cookie(kept: StoredCookie) -> Cookie:
    """A kept cookie, for a jar."""
    dotted = kept.domain.startswith(".")
    rest: dict[str, Any] = {}
    return Cookie(
        version=0,
        name=kept.name,
        value=kept.value,
        port=None,
        port_specified=False,
        domain=kept.domain,
        domain_specified=dotted,
        domain_initial_dot=dotted,
        path=kept.path,
        path_specified=True,
        secure=kept.secure,
        expires=int(kept.expires_at.timestamp()),
        discard=False,
        comment=None,
        comment_url=None,
        rest=rest,
    )


class _Answer:
    """What :meth:`CookieJar.extract_cookies` reads of a response: its headers."""

    def __init__(self, set_cookies: Iterable[str]) -> None:
        self._headers = email.message.Message()
        for value in set_cookies:
            self._headers["Set-Cookie"] = value

    def info(self) -> email.message.Message:
        return self._headers


class CheckerCookies:
    """The link checker's cookie jar (see the module docstring); thread-safe.

    ``rules``: the configured sites' hosts (lower-case host names), each with its cookie
    rule's name or ``None``.  Only those hosts' cookies are loaded and saved; any other
    host's live for the run only.
    """

    def __init__(self, rules: Mapping[str, str | None] | None = None) -> None:
        # strict_domain: no cookie for a domain like .gov.cn (the sites' own second-level
        # domain), which every other gov.cn site would be sent
        self.jar = CookieJar(DefaultCookiePolicy(strict_domain=True))
        self.rules: dict[str, CookieRule | None] = {
            host.lower(): (RULES[name] if name else None) for host, name in (rules or {}).items()
        }
        self.domains = {d for host in self.rules for d in jar_domains(host)}
        self.agents: dict[str, str] = {}  # host -> the User-Agent kept with its cookies
        self.learned = 0  # cookies set by servers or scripts on the sites' hosts this run
        self._lock = threading.Lock()

    def agent(self, url: str) -> str | None:
        """The User-Agent to send to ``url``'s host, when a browser's is kept for it."""
        return self.agents.get((urlsplit(url).hostname or "").lower())

    def is_site_host(self, url: str) -> bool:
        return (urlsplit(url).hostname or "").lower() in self.rules

    def header(self, url: str) -> str | None:
        """The ``Cookie`` header for a request to ``url`` (the host's rule applied first)."""
        host = (urlsplit(url).hostname or "").lower()
        request = urllib.request.Request(url)
        with self._lock:
            rule = self.rules.get(host)
            if rule is not None:
                apply_rule(rule, self.jar, host)
            self.jar.add_cookie_header(request)
        return request.get_header("Cookie")

    def learn(self, url: str, set_cookies: Iterable[str], body: bytes | None) -> int:
        """Keep the cookies an answer from ``url`` set: its ``Set-Cookie`` headers and its
        inline scripts' ``document.cookie`` assignments (an HTML ``body``); returns how many."""
        headers = list(set_cookies)
        if body:
            headers += [c.header for c in script_cookies(body)]
        if not headers:
            return 0
        request = urllib.request.Request(url)
        with self._lock:
            made = self.jar.make_cookies(_Answer(headers), request)  # type: ignore[arg-type]
            for cookie in made:
                self.jar.set_cookie_if_ok(cookie, request)
            if self.is_site_host(url):
                self.learned += len(made)
        return len(made)

    def load(self, db: Database) -> int:
        """Put the sites' hosts' live kept cookies in the jar; returns how many."""
        if not self.domains:
            return 0
        from storage import repository

        try:
            with db.session() as session:
                kept = repository.live_cookies(session, self.domains)
                agents = {host: repository.live_agent(session, host) for host in self.rules}
        except StorageError as exc:
            log.warning("link check: stored cookies not loaded: %s", exc)
            return 0
        with self._lock:
            for cookie in kept:
                self.jar.set_cookie(jar_cookie(cookie))
            self.agents = {host: agent for host, agent in agents.items() if agent}
        return len(kept)

    def save(self, db: Database) -> int:
        """Keep the sites' hosts' unexpired cookies that have an expiry (when any were set
        this run: otherwise the database has them already); returns how many."""
        if not self.learned:
            return 0
        now = time.time()
        with self._lock:
            held = [c for c in self.jar if c.domain in self.domains]
        cookies = [stored(c) for c in held if c.expires is not None and c.expires > now]
        from storage import repository

        try:
            with db.session() as session:
                return repository.save_cookies(session, cookies, replace=self.domains)
        except StorageError as exc:
            log.warning("link check: cookies not saved: %s", exc)
            return 0
