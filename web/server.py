"""Serving an aiohttp application: in the foreground until SIGTERM/SIGINT, reloading on
SIGHUP (``govwatch serve``), or on an event loop of its own in a daemon thread (``govwatch
run --http``)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
import threading
from collections.abc import Callable

from aiohttp import web

from storage.errors import GovwatchError

log = logging.getLogger(__name__)


class ServeError(GovwatchError):
    """The web view cannot listen where it was asked to (address in use, not permitted)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is reachable only from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bound(runner: web.AppRunner, host: str) -> str:
    port = runner.addresses[0][1] if runner.addresses else 0
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def _start(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return runner, _bound(runner, host)


def serve_forever(
    app: web.Application,
    host: str,
    port: int,
    on_ready: Callable[[str], None],
    on_reload: Callable[[], None] | None = None,
) -> None:
    """Serve ``app`` until SIGTERM or SIGINT; ``on_ready`` gets ``HOST:PORT`` once listening,
    ``on_reload`` is called on the event loop at each SIGHUP (it must not raise)."""

    async def main() -> None:
        runner, address = await _start(app, host, port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        if on_reload is not None:
            loop.add_signal_handler(signal.SIGHUP, on_reload)
        try:
            on_ready(address)
            await stop.wait()
        finally:
            log.info("web view on http://%s stopping", address)
            await runner.cleanup()

    asyncio.run(main())


class ThreadedServer:
    """``app`` served on ``host:port`` by an event loop in a daemon thread.

    Listening happens in the constructor (so a port in use fails at once, in the caller);
    :meth:`start` begins answering, :meth:`stop` closes the listener and the loop.
    """

    def __init__(self, app: web.Application, host: str, port: int, name: str = "http") -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._runner, self.address = self._loop.run_until_complete(_start(app, host, port))
        except BaseException:
            self._loop.close()
            raise
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def start(self) -> ThreadedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
            with contextlib.suppress(Exception):
                future.result(timeout=5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        else:
            self._loop.run_until_complete(self._runner.cleanup())
        if not self._thread.is_alive():
            self._loop.close()
