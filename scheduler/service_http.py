"""The service's HTTP server (``govwatch run --http``): ``/healthz`` and ``/metrics``, and
the web view's routes beside them.

aiohttp on an event loop of its own in a daemon thread (``web.server.ThreadedServer``);
the :class:`~scheduler.health.HealthSource` is called in the loop's default thread pool, so
a slow database never stalls the other routes.  Nothing here decides health; it serves it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from functools import partial

from aiohttp import web

from scheduler.health import METRICS_CONTENT_TYPE, HealthSource, parse_listen
from storage.errors import ServiceError
from web.server import ServeError, ThreadedServer

log = logging.getLogger(__name__)


class HealthServer:
    """Serves ``/healthz`` and ``/metrics`` from ``source`` on ``listen`` until stopped,
    beside the web view's routes when ``web_app`` is given (``govwatch run --http``).

    aiohttp on an event loop of its own, in a daemon thread; ``source`` is called in the
    loop's default thread pool, so a slow database never stalls the other routes.
    """

    def __init__(
        self, listen: str, source: HealthSource, web_app: web.Application | None = None
    ) -> None:
        try:
            host, port = parse_listen(listen)
        except ValueError as exc:
            raise ServiceError(f"--http: {exc}") from exc
        app = web_app if web_app is not None else web.Application()
        app.router.add_get("/healthz", partial(_healthz, source))
        app.router.add_get("/metrics", partial(_metrics, source))
        if web_app is None:
            app.router.add_route("*", "/{tail:.*}", _not_found)
        self.serves_web = web_app is not None
        try:
            self._server = ThreadedServer(app, host, port, name="health-http")
        except ServeError as exc:
            raise ServiceError(str(exc)) from exc
        self.address = self._server.address

    def start(self) -> HealthServer:
        self._server.start()
        if self.serves_web:
            log.info("serving the web view, /healthz and /metrics on http://%s", self.address)
        else:
            log.info("serving /healthz and /metrics on http://%s", self.address)
        return self

    def stop(self) -> None:
        self._server.stop()


def _text(status: int, content_type: str, body: str) -> web.Response:
    return web.Response(
        status=status,
        body=body.encode("utf-8"),
        headers={"Content-Type": content_type, "Cache-Control": "no-store"},
    )


async def _answer(path: str, produce: Callable[[], web.Response]) -> web.Response:
    try:
        return await asyncio.get_running_loop().run_in_executor(None, produce)
    except Exception as exc:  # the service must not die of a scrape
        log.warning("http %s: %s: %s", path, type(exc).__name__, exc)
        return _text(503, "text/plain; charset=utf-8", f"error: {type(exc).__name__}\n")


async def _healthz(source: HealthSource, request: web.Request) -> web.Response:
    def produce() -> web.Response:
        health = source.health()
        body = json.dumps(health.details, ensure_ascii=False) + "\n"
        return _text(200 if health.ok else 503, "application/json", body)

    return await _answer(request.path, produce)


async def _metrics(source: HealthSource, request: web.Request) -> web.Response:
    return await _answer(
        request.path, lambda: _text(200, METRICS_CONTENT_TYPE, source.metrics_text())
    )


async def _not_found(request: web.Request) -> web.Response:
    return _text(404, "text/plain; charset=utf-8", "not found: try /healthz or /metrics\n")
