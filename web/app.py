"""The web view's aiohttp application: routes, safety middleware and the page handlers.

Only GET (and HEAD) routes exist: nothing here writes.  Every response carries a strict
Content-Security-Policy (no script at all, styles and images from this origin only) and
``nosniff``; with an access token configured every route but the ones the caller exempts
(the service's ``/healthz`` and ``/metrics``) asks for it: ``Authorization: Bearer TOKEN``,
``?token=TOKEN`` (for feed readers; a browser then keeps it in an HttpOnly cookie), compared
in constant time.

The options can be replaced while the application serves (:func:`reconfigure`: a reloaded
configuration, SIGHUP): each request reads the options once, when it arrives, so one in
flight finishes with the options it began with and the next one gets the new ones.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import jinja2
from aiohttp import web
from sqlalchemy.orm import Session

from storage.database import Database
from storage.errors import StorageError
from storage.records import ArticleView
from storage.repository import web_views
from web import feeds, params, views
from web.templating import build_environment

log = logging.getLogger(__name__)

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
TOKEN_COOKIE = "govwatch_token"
STATIC = Path(__file__).with_name("static")
MAX_ID = params.MAX_ID


@dataclass(frozen=True, slots=True)
class WebOptions:
    """How the web view behaves (the ``[web]`` settings, read by ``scheduler``)."""

    token: str | None = field(default=None, repr=False)  # None: no token asked
    page_size: int = 50
    max_page_size: int = 200
    feed_entries: int = 50
    max_feed_entries: int = 200
    public_url: str = ""  # scheme://host[:port] for absolute links; "": the request's
    digests: tuple[views.DigestFeed, ...] = ()
    query_workers: int = 4
    exempt_paths: frozenset[str] = frozenset()  # served without the token


@dataclass(slots=True)
class LiveOptions:
    """The options in force, replaced by :func:`reconfigure` (the application's own state
    is frozen once it serves)."""

    options: WebOptions


DB = web.AppKey("db", Database)
LIVE = web.AppKey("live", LiveOptions)
POOL = web.AppKey("pool", ThreadPoolExecutor)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
REQUEST_OPTIONS = web.RequestKey("options", WebOptions)  # the options a request began with


def build_app(db: Database, options: WebOptions) -> web.Application:
    """The web view over ``db`` (open it read-only).  Callers may add routes before it
    starts (the service adds ``/healthz`` and ``/metrics``)."""
    app = web.Application(middlewares=[_safety, _errors, _token])
    app[DB] = db
    app[LIVE] = LiveOptions(options)
    app[POOL] = ThreadPoolExecutor(max_workers=options.query_workers, thread_name_prefix="web")
    app[TEMPLATES] = build_environment()
    app.on_cleanup.append(_close_pool)
    app.router.add_get("/", _home)
    app.router.add_get("/articles", articles_page)
    app.router.add_get("/api/articles", articles_api)
    app.router.add_get(r"/articles/{id:\d{1,19}}", article_page)
    app.router.add_get(r"/api/articles/{id:\d{1,19}}", article_api)
    app.router.add_get("/links", links_page)
    app.router.add_get("/api/links", links_api)
    app.router.add_get("/sites", sites_page)
    app.router.add_get("/api/sites", sites_api)
    app.router.add_get("/digests", digests_page)
    app.router.add_get("/api/digests", digests_api)
    app.router.add_get("/feeds/search.atom", search_feed)
    app.router.add_get(r"/feeds/site/{name}.atom", site_feed)
    app.router.add_get(r"/feeds/digest/{name}.atom", digest_feed)
    app.router.add_static("/static/", STATIC, show_index=False, follow_symlinks=False)
    return app


def reconfigure(app: web.Application, options: WebOptions) -> None:
    """Serve the next requests with ``options`` (token, page sizes, digests…); requests in
    flight finish with the ones they began with.  ``query_workers`` sizes the thread pool
    made at the start: a new value takes effect at the next start."""
    live = app[LIVE]
    if options.query_workers != live.options.query_workers:
        log.warning("web.query_workers changed: it takes effect at the next start")
    live.options = options  # one reference: a request reads the old options or the new


def options_of(request: web.Request) -> WebOptions:
    """The options ``request`` is served with (those in force when it arrived)."""
    try:
        return request[REQUEST_OPTIONS]
    except KeyError:
        return request.app[LIVE].options


async def _close_pool(app: web.Application) -> None:
    app[POOL].shutdown(wait=False, cancel_futures=True)


# --- middleware ---------------------------------------------------------------------------


@web.middleware
async def _safety(request: web.Request, handler: Handler) -> web.StreamResponse:
    request[REQUEST_OPTIONS] = request.app[LIVE].options
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _secure(exc)
        raise
    _secure(response)
    return response


def _secure(response: web.StreamResponse) -> None:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers.setdefault("Cache-Control", "no-store")


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Errors as one line: JSON under /api/, a small page elsewhere; never a traceback."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or request.path in options_of(request).exempt_paths:
            raise
        message = (exc.text or exc.reason or "").strip()
        return _error(request, exc.status, message, exc.headers)
    except StorageError as exc:
        log.warning("web %s: %s", request.path, exc)
        return _error(request, 503, "the database is not available now")
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise
    except Exception:
        log.exception("web %s: unexpected error", request.path)
        return _error(request, 500, "internal error")


def _error(
    request: web.Request, status: int, message: str, headers: Any = None
) -> web.StreamResponse:
    keep = {k: v for k, v in (headers or {}).items() if k in ("WWW-Authenticate", "Allow")}
    if request.path.startswith("/api/"):
        response = web.json_response({"error": message}, status=status, headers=keep)
        return response
    html = (
        request.app[TEMPLATES]
        .get_template("error.html.j2")
        .render(status=status, message=message, nav=_nav(request))
    )
    return web.Response(text=html, status=status, content_type="text/html", headers=keep)


@web.middleware
async def _token(request: web.Request, handler: Handler) -> web.StreamResponse:
    options = options_of(request)
    if options.token is None or request.path in options.exempt_paths:
        return await handler(request)
    expected = options.token.encode("utf-8")
    given, from_query = _given_token(request)
    if given is None or not hmac.compare_digest(given.encode("utf-8"), expected):
        raise web.HTTPUnauthorized(
            text="an access token is needed: Authorization: Bearer TOKEN, or ?token=TOKEN",
            headers={"WWW-Authenticate": 'Bearer realm="govwatch"'},
        )
    response = await handler(request)
    if from_query and not request.path.startswith(("/api/", "/feeds/")):
        response.set_cookie(
            TOKEN_COOKIE, given, httponly=True, samesite="Strict", path="/", max_age=86400
        )
    return response


def _given_token(request: web.Request) -> tuple[str | None, bool]:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), False
    if "token" in request.query:
        return request.query["token"], True
    cookie = request.cookies.get(TOKEN_COOKIE)
    return (cookie, False) if cookie else (None, False)


# --- helpers ------------------------------------------------------------------------------


async def _read(request: web.Request, work: Callable[[Session], T]) -> T:
    """Run ``work`` with a read-only session in the query thread pool."""
    db = request.app[DB]

    def run() -> T:
        with db.session() as session:
            return work(session)

    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(request.app[POOL], run)


def _render(request: web.Request, template: str, **context: Any) -> web.Response:
    html = request.app[TEMPLATES].get_template(template).render(nav=_nav(request), **context)
    return web.Response(text=html, content_type="text/html")


def _nav(request: web.Request) -> str:
    return request.path


def _json(data: Any) -> web.Response:
    text = json.dumps(views.jsonable(data), ensure_ascii=False, indent=1)
    return web.Response(text=text + "\n", content_type="application/json")


def base_url(request: web.Request) -> str:
    public = options_of(request).public_url
    return public.rstrip("/") if public else f"{request.scheme}://{request.host}"


def _without_token(request: web.Request) -> str:
    query = [(k, v) for k, v in request.query.items() if k != "token"]
    return request.path + (("?" + urlencode(query)) if query else "")


async def _home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/articles")


# --- articles -----------------------------------------------------------------------------


def _article_filters(request: web.Request) -> views.ArticleFilters:
    q = request.query
    options = options_of(request)
    since = params.day(q, "since")
    until = params.day(q, "until")
    if since is not None and until is not None and until < since:
        raise params.bad_request("until: must not be before since")
    return views.ArticleFilters(
        search=params.text(q, "q"),
        site=params.text(q, "site", params.MAX_NAME_CHARS),
        since=since,
        until=until,
        copies=params.choice(q, "copies", ("hide", "show"), "hide"),
        limit=params.count(q, "limit", options.page_size, options.max_page_size),
        after=params.cursor(q),
    )


def _filter_query(filters: views.ArticleFilters) -> list[tuple[str, str]]:
    pairs = [
        ("q", filters.search),
        ("site", filters.site),
        ("since", filters.since.isoformat() if filters.since else None),
        ("until", filters.until.isoformat() if filters.until else None),
        ("copies", filters.copies if filters.copies != "hide" else None),
    ]
    return [(k, v) for k, v in pairs if v]


async def articles_page(request: web.Request) -> web.StreamResponse:
    filters = _article_filters(request)
    page = await _read(request, partial(views.list_articles, filters=filters))
    kept = _filter_query(filters)
    next_url = (
        None
        if page.next_cursor is None
        else "/articles?" + urlencode([*kept, ("after", params.encode_cursor(page.next_cursor))])
    )
    feed_url = "/feeds/search.atom?" + urlencode(kept) if filters.search else None
    return _render(request, "articles.html.j2", page=page, next_url=next_url, feed_url=feed_url)


async def articles_api(request: web.Request) -> web.StreamResponse:
    filters = _article_filters(request)
    page = await _read(request, partial(views.list_articles, filters=filters))
    cursor = None if page.next_cursor is None else params.encode_cursor(page.next_cursor)
    return _json(
        {
            "articles": page.articles,
            "next": cursor,
            "next_url": None
            if cursor is None
            else "/api/articles?" + urlencode([*_filter_query(filters), ("after", cursor)]),
        }
    )


def _article_id(request: web.Request) -> int:
    value = int(request.match_info["id"])
    if not 0 < value <= MAX_ID:
        raise web.HTTPNotFound(text="no such article")
    return value


async def _article(request: web.Request) -> dict[str, Any]:
    article_id = _article_id(request)
    detail = await _read(request, partial(views.article_detail, article_id=article_id))
    if detail is None:
        raise web.HTTPNotFound(text=f"no article {article_id}")
    return detail


async def article_page(request: web.Request) -> web.StreamResponse:
    return _render(request, "article.html.j2", **await _article(request))


async def article_api(request: web.Request) -> web.StreamResponse:
    return _json(await _article(request))


# --- links, sites, digests ----------------------------------------------------------------

LINK_STATUS_CHOICES = (
    "broken",
    "dead",
    "soft_404",
    "error",
    "blocked",
    "refused",
    "redirected",
    "ok",
    "unchecked",
)


async def _links(request: web.Request) -> dict[str, Any]:
    q = request.query
    options = options_of(request)
    status = params.choice(q, "status", LINK_STATUS_CHOICES, "broken")
    site = params.text(q, "site", params.MAX_NAME_CHARS)
    limit = params.count(q, "limit", options.page_size, options.max_page_size)
    return await _read(request, partial(views.broken_links, site=site, status=status, limit=limit))


async def links_page(request: web.Request) -> web.StreamResponse:
    data = await _links(request)
    return _render(request, "links.html.j2", statuses=LINK_STATUS_CHOICES, **data)


async def links_api(request: web.Request) -> web.StreamResponse:
    data = await _links(request)
    return _json({k: data[k] for k in ("links", "counts", "status", "site")})


async def sites_page(request: web.Request) -> web.StreamResponse:
    data = await _read(request, partial(views.sites_overview, now=datetime.now(UTC)))
    return _render(request, "sites.html.j2", **data)


async def sites_api(request: web.Request) -> web.StreamResponse:
    return _json(await _read(request, partial(views.sites_overview, now=datetime.now(UTC))))


async def digests_page(request: web.Request) -> web.StreamResponse:
    digests = options_of(request).digests
    data = await _read(request, partial(views.digests_overview, digests=digests))
    return _render(request, "digests.html.j2", **data)


async def digests_api(request: web.Request) -> web.StreamResponse:
    digests = options_of(request).digests
    return _json(await _read(request, partial(views.digests_overview, digests=digests)))


# --- feeds --------------------------------------------------------------------------------


def _feed_limit(request: web.Request) -> int:
    options = options_of(request)
    return params.count(request.query, "limit", options.feed_entries, options.max_feed_entries)


def _feed(
    request: web.Request, info: feeds.FeedInfo, limit: int, articles: list[ArticleView]
) -> web.StreamResponse:
    """The feed of ``articles``, or 304 when the reader's copy is current."""
    base = base_url(request)
    feed = feeds.render_feed(
        info, feeds.fold_copies(articles, limit), lambda id_: f"{base}/articles/{id_}"
    )
    headers = {
        "ETag": feed.etag,
        "Last-Modified": feeds.http_date(feed.last_modified),
        "Cache-Control": "no-cache",
    }
    since = _http_time(request.headers.get("If-Modified-Since"))
    if feeds.not_modified(feed, request.headers.get("If-None-Match"), since):
        return web.Response(status=304, headers=headers)
    response = web.Response(body=feed.body, headers=headers)
    response.content_type = "application/atom+xml"
    response.charset = "utf-8"
    return response


def _http_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _feed_info(request: web.Request, key: str, title: str, page: str) -> feeds.FeedInfo:
    base = base_url(request)
    return feeds.FeedInfo(
        key=key, title=title, self_url=base + _without_token(request), page_url=base + page
    )


async def site_feed(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    limit = _feed_limit(request)

    def fetch(session: Session) -> list[ArticleView] | None:
        if name not in web_views.site_names(session):
            return None
        return views.feed_articles(session, limit=limit, site=name)

    articles = await _read(request, fetch)
    if articles is None:
        raise web.HTTPNotFound(text=f"no site {name!r}")
    info = _feed_info(
        request, f"site/{name}", f"govwatch: {name}", "/articles?" + urlencode({"site": name})
    )
    return _feed(request, info, limit, articles)


async def digest_feed(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    digest = next((d for d in options_of(request).digests if d.name == name), None)
    if digest is None:
        raise web.HTTPNotFound(text=f"no digest subscription {name!r}")
    limit = _feed_limit(request)
    info = _feed_info(request, f"digest/{name}", f"govwatch digest: {name}", "/digests")
    articles = await _read(request, partial(views.feed_articles, limit=limit, digest=digest.filter))
    return _feed(request, info, limit, articles)


async def search_feed(request: web.Request) -> web.StreamResponse:
    q = params.text(request.query, "q")
    if q is None:
        raise params.bad_request("q: a search text is needed")
    site = params.text(request.query, "site", params.MAX_NAME_CHARS)
    limit = _feed_limit(request)
    key = "search/" + urlencode([("q", q), ("site", site or "")])
    page = "/articles?" + urlencode([("q", q), *([("site", site)] if site else [])])
    info = _feed_info(request, key, f"govwatch: {q}", page)
    articles = await _read(request, partial(views.feed_articles, limit=limit, search=q, site=site))
    return _feed(request, info, limit, articles)
