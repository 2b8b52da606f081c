"""``govwatch run --http HOST:PORT``: what ``/healthz`` and ``/metrics`` answer, and the
``HOST:PORT`` syntax.  Light on purpose (the configuration imports it); the server itself is
``scheduler.service_http``.  What it answers comes from a :class:`HealthSource` (the
service): ``/healthz`` is 200 while the service is healthy and 503 otherwise, with a one-line
JSON body saying why; ``/metrics`` is the Prometheus text exposition format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

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
