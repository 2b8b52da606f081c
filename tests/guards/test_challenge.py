"""JavaScript challenges (guarded mode b): the real ``govwatch crawl`` and the real Chromium.

The site answers 521 with a script that computes ``__jsl_clearance`` until the cookie is
sent.  These tests skip only when Chromium or Playwright is missing outside CI; in CI (``CI``
set, as ``.ci/run`` does) a missing browser fails them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.guards import browser
from tests.conftest import REPO, run_cli
from tests.sitegen_challenge import HEADLESS_MARK, ChallengeGate
from tests.sitesrv import CcdiSite, SiteServer, build_ccdi_site
from tests.test_crawl import articles, ccdi_config, runs

STARTED = "govwatch browser: starting Chromium"

if browser.missing() is not None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the browser tests: {browser.missing()}", pytrace=False)
    pytest.skip("Chromium or Playwright is not installed", allow_module_level=True)


@pytest.fixture
def guarded() -> Iterator[tuple[ChallengeGate, SiteServer, CcdiSite]]:
    site = build_ccdi_site(n_articles=30, per_page=10)
    gate = ChallengeGate()
    with SiteServer(site.pages, guard=gate) as srv:
        yield gate, srv, site


def _browser_requests(srv: SiteServer) -> int:
    """Requests the browser made without the cookie: one per browser start."""
    return sum(
        1
        for r in srv.requests
        if HEADLESS_MARK in (r.header("user-agent") or "")
        and "__jsl_clearance" not in (r.header("cookie") or "")
    )


def test_js_challenge_site_is_crawled_with_one_browser_start_and_none_next_run(
    tmp_path: Path, guarded: tuple[ChallengeGate, SiteServer, CcdiSite]
) -> None:
    _, srv, site = guarded
    links = "[links]\nallow_private_addresses = true\ndelay_seconds = 0\nretries = 0"
    config = ccdi_config(tmp_path, srv, extra=links)
    result = run_cli("--config", str(config), "crawl", "local", timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "local: succeeded" in result.stdout
    assert len(articles(config)) == 30
    assert result.stderr.count(STARTED) == 1, result.stderr
    assert _browser_requests(srv) == 1
    # the crawl itself met the challenge once (its first request), the browser once
    assert sum(1 for r in srv.requests if r.status == 521) == 2
    # after the solve every request carried the browser's cookie and User-Agent
    solved = [r for r in srv.requests if r.status != 521]
    assert all(HEADLESS_MARK in (r.header("user-agent") or "") for r in solved)

    # the next run starts with the kept cookie (it lives an hour) and the agent it is bound
    # to (the gate challenges the same cookie from another agent): no browser, no 521
    site.add_article(title="新发布的审查调查通报")
    srv.clear_log()
    result = run_cli("--config", str(config), "crawl", "local", timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 new" in result.stdout
    assert STARTED not in result.stderr
    assert [r.path for r in srv.requests if r.status == 521] == []
    assert srv.requests and all(
        HEADLESS_MARK in (r.header("user-agent") or "") for r in srv.requests
    )
    assert len(articles(config)) == 31

    # the link checker sends the kept agent with the kept cookie too: every page answers
    srv.clear_log()
    checked = run_cli("--config", str(config), "check-links", timeout=180)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    local = [r for r in srv.requests if r.path != "/robots.txt"]
    assert len(local) > 30 and [r.path for r in local if r.status == 521] == []


def test_cookies_that_stop_working_get_one_more_browser_start_and_no_third(
    tmp_path: Path, guarded: tuple[ChallengeGate, SiteServer, CcdiSite]
) -> None:
    gate, srv, _ = guarded
    gate.rotate_after = (12,)  # the clearance expires once mid-crawl
    config = ccdi_config(tmp_path, srv)
    result = run_cli("--config", str(config), "crawl", "local", timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(articles(config)) == 30
    assert result.stderr.count(STARTED) == 2, result.stderr

    gate.rotate_after = (gate.passed + 10, gate.passed + 20)  # twice: the second is one too many
    (tmp_path / "gw.db").unlink()  # a fresh database: every article is asked again
    result = run_cli("--config", str(config), "crawl", "local", timeout=180)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.count(STARTED) == 2, result.stderr
    with sqlite3.connect(tmp_path / "gw.db") as conn:
        messages = [m for (m,) in conn.execute("SELECT message FROM crawl_errors")]
    assert any("after 2 browser solves" in m for m in messages), messages


def test_the_browser_loads_nothing_the_address_policy_refuses(
    tmp_path: Path, guarded: tuple[ChallengeGate, SiteServer, CcdiSite]
) -> None:
    gate, srv, _ = guarded
    with SiteServer({}) as elsewhere:  # loopback, another origin: not the site's
        gate.head = (
            f'<script src="{elsewhere.url("/beacon.js")}"></script>'
            f'<iframe src="{elsewhere.url("/frame.html")}"></iframe>'
        )
        config = ccdi_config(tmp_path, srv)
        result = run_cli("--config", str(config), "crawl", "local", timeout=180)
        assert result.returncode == 0, result.stdout + result.stderr
        assert elsewhere.requests == []
    assert len(articles(config)) == 30
    assert f"refused {elsewhere.url('/beacon.js')}" in result.stderr


def test_challenge_off_is_blocked_and_no_browser_starts(
    tmp_path: Path, guarded: tuple[ChallengeGate, SiteServer, CcdiSite]
) -> None:
    _, srv, _ = guarded
    config = ccdi_config(tmp_path, srv, challenge='"off"')
    result = run_cli("--config", str(config), "crawl", "local")
    assert result.returncode == 1, result.stdout + result.stderr
    assert STARTED not in result.stderr
    assert _browser_requests(srv) == 0
    assert articles(config) == []
    with sqlite3.connect(tmp_path / "gw.db") as conn:
        errors = conn.execute("SELECT kind, status, message FROM crawl_errors").fetchall()
    assert errors and all(kind == "blocked" and status == 521 for kind, status, _ in errors)
    assert "challenge = 'off'" in errors[0][2]
    assert runs(tmp_path)[0][0] == "blocked"  # only the guard answered: blocked, not failed


@pytest.mark.parametrize("how", ["stalls", "reloads_for_ever"])
def test_challenge_that_never_passes_is_blocked_within_the_timeout(
    tmp_path: Path, guarded: tuple[ChallengeGate, SiteServer, CcdiSite], how: str
) -> None:
    gate, srv, _ = guarded
    if how == "stalls":
        gate.reload = False
    else:
        gate.never_pass = True
    config = ccdi_config(tmp_path, srv, extra="challenge_timeout_seconds = 3")
    started = time.monotonic()
    result = run_cli("--config", str(config), "crawl", "local", timeout=120)
    assert time.monotonic() - started < 60
    assert result.returncode == 1, result.stdout + result.stderr
    assert articles(config) == []
    with sqlite3.connect(tmp_path / "gw.db") as conn:
        kinds = {k for (k,) in conn.execute("SELECT kind FROM crawl_errors")}
    assert kinds == {"blocked"}
    # at most two solves for the host (the second after the first one's cookies failed)
    assert 1 <= result.stderr.count(STARTED) <= 2, result.stderr
    # a script that reloads for ever is not followed for ever: a few loads per browser start
    headless = [r for r in srv.requests if HEADLESS_MARK in (r.header("user-agent") or "")]
    assert len(headless) <= 2 * 10


def _marked_processes(marker: str) -> list[int]:
    """Processes (ours) whose environment holds ``marker``: the crawl and its descendants."""
    needle = marker.encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "environ").read_bytes():
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killing_the_crawl_mid_solve_leaves_no_chromium(
    tmp_path: Path, guarded: tuple[ChallengeGate, SiteServer, CcdiSite], signum: int
) -> None:
    gate, srv, _ = guarded
    gate.reload = False  # the browser waits on the challenge until the crawl is killed
    config = ccdi_config(tmp_path, srv, extra="challenge_timeout_seconds = 120")
    marker = f"GOVWATCH_TEST_MARK=browser-{uuid.uuid4().hex}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVWATCH_")}
    env[marker.split("=")[0]] = marker.split("=")[1]
    crawl = subprocess.Popen(
        [sys.executable, "-m", "scheduler", "--config", str(config), "crawl", "local"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert gate.browser_seen.wait(60), "the browser never reached the site"
        assert any(
            "chromium" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            for pid in _marked_processes(marker)
            if Path(f"/proc/{pid}").exists()
        )
        crawl.send_signal(signum)
        crawl.wait(timeout=30)
        deadline = time.monotonic() + 15
        left = _marked_processes(marker)
        while left and time.monotonic() < deadline:
            time.sleep(0.1)  # the kernel delivers the death signals; nothing to wait on
            left = _marked_processes(marker)
        assert left == [], [Path(f"/proc/{p}/cmdline").read_bytes() for p in left]
    finally:
        if crawl.poll() is None:
            crawl.kill()
            crawl.wait()
    if signum == signal.SIGTERM:  # a polite stop records the run
        assert runs(tmp_path)[0][0] != "running"
