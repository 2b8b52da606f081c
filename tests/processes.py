"""``govwatch`` commands as child processes of a test (``run``, ``worker``), each with its
log in a file, and waiting for what they do: the one helper of the service and queue tests."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import REPO


class ServiceProcess:
    """``govwatch --config CONFIG ARGS...`` (``run``, ``worker``) as a child of the test, with
    the environment's ``GOVWATCH_*`` variables replaced by ``env``; its log in a file."""

    def __init__(
        self, config: Path, log: Path, *args: str, env: dict[str, str] | None = None
    ) -> None:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("GOVWATCH_")}
        full_env.update(env or {})
        self.log = log
        with log.open("wb") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "scheduler", "--config", str(config), *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=fh,
                env=full_env,
                cwd=REPO,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        """The first match of ``pattern`` in the log; fails at the deadline or when the
        process exits without logging it."""
        found: list[re.Match[str]] = []

        def seen() -> bool:
            match = re.search(pattern, self.text())
            if match:
                found.append(match)
            return match is not None or self.proc.poll() is not None

        wait_until(seen, timeout, f"{pattern!r} in the log of pid {self.pid}", self)
        assert found, (
            f"pid {self.pid} exited ({self.proc.returncode}) before logging {pattern!r}:\n"
            + (self.text()[-3000:])
        )
        return found[0]

    def started_pids(self) -> set[int]:
        return {int(p) for p in re.findall(r"crawl started \(pid (\d+)\)", self.text())}

    def children(self) -> list[int]:
        out = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == self.pid:
                out.append(int(stat.parent.name))
        return out

    def kill_all(self) -> None:
        """SIGKILL the process and its job processes (they run in sessions of their own)."""
        children = self.children()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, service: ServiceProcess | None = None
) -> None:
    """Poll ``check`` until it holds; fail at the deadline (with ``service``'s log)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            log = service.text()[-4000:] if service else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{log}")
        time.sleep(0.05)
