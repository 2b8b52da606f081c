"""``govwatch run --http HOST:PORT``: ``/healthz`` and ``/metrics`` over plain HTTP.

A small standard-library server in a daemon thread.  What it answers comes from a
:class:`HealthSource` (the service): ``/healthz`` is 200 while the service is healthy and
503 otherwise, with a one-line JSON body saying why; ``/metrics`` is the Prometheus text
exposition format.  Nothing here decides health; it only serves it.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from storage.errors import ServiceError

log = logging.getLogger(__name__)

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) -> ``(host, port)``; raises ``ValueError``.

    Port 0 lets the system pick a free port (the log line says which).
    """
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:8080)")
    return host, int(port)


@dataclass(frozen=True, slots=True)
class Health:
    """The service's health: ``ok`` decides 200 or 503; ``details`` is the JSON body."""

    ok: bool
    details: dict[str, Any] = field(default_factory=dict)


class HealthSource(Protocol):
    def health(self) -> Health: ...

    def metrics_text(self) -> str: ...


class HealthServer:
    """Serves ``/healthz`` and ``/metrics`` from ``source`` on ``listen`` until stopped."""

    def __init__(self, listen: str, source: HealthSource) -> None:
        try:
            host, port = parse_listen(listen)
        except ValueError as exc:
            raise ServiceError(f"--http: {exc}") from exc
        try:
            self._server = _Server((host, port), _Handler)
        except OSError as exc:
            raise ServiceError(f"cannot listen on {listen}: {exc.strerror or exc}") from exc
        self._server.source = source
        self.address = f"{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="health-http",
            daemon=True,
        )

    def start(self) -> HealthServer:
        self._thread.start()
        log.info("serving /healthz and /metrics on http://%s", self.address)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    source: HealthSource


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "govwatch"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # scrapes every few seconds are not events

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        try:
            if path == "/healthz":
                health = self.server.source.health()
                body = json.dumps(health.details, ensure_ascii=False) + "\n"
                self._send(200 if health.ok else 503, "application/json", body)
            elif path == "/metrics":
                self._send(200, METRICS_CONTENT_TYPE, self.server.source.metrics_text())
            else:
                self._send(
                    404, "text/plain; charset=utf-8", "not found: try /healthz or /metrics\n"
                )
        except Exception as exc:  # the service must not die of a scrape
            log.warning("http %s: %s: %s", path, type(exc).__name__, exc)
            self._send(503, "text/plain; charset=utf-8", f"error: {type(exc).__name__}\n")

    def _send(self, status: int, content_type: str, body: str) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)
