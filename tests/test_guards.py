"""Guarded sites end to end (issue 12, items 3, 4 and 6): real ``govwatch crawl`` processes
against the test site's guarded modes (tests.sitegen_captcha).

A captcha is never solved: the run is ``blocked`` and says what to do, nothing is stored or
reported dead; a browser cookie named by ``cookie_env`` gets through until the site rejects
it.  A throttling answer pauses every request to its host.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text as sql

from digest.build import _crawl_health
from digest.subscription import HealthThresholds
from scheduler.metrics import service_text
from storage.database import Database
from tests.conftest import run_cli
from tests.linkcheck.test_links import check_now
from tests.sitegen_captcha import CaptchaGuard, ThrottleGuard
from tests.sitesrv import Logged, SiteServer, build_ccdi_site
from tests.test_crawl import ccdi_config

COOKIE_VAR = "GOVWATCH_LOCAL_COOKIE"


def _crawl(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = run_cli("--config", str(config), "crawl", "local", env=env)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _status(config: Path, env: dict[str, str]) -> tuple[str, dict[str, Any]]:
    text = run_cli("--config", str(config), "status", env=env).stdout
    data = json.loads(
        run_cli("--config", str(config), "status", "--format", "json", env=env).stdout
    )
    (site,) = data["sites"]
    return text, site


def _articles(config: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    out = run_cli("--config", str(config), "articles", "--format", "json", env=env).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _cookie_config(tmp_path: Path, srv: SiteServer) -> Path:
    return ccdi_config(tmp_path, srv, cookie_env=f'"{COOKIE_VAR}"')


def test_a_captcha_site_is_blocked_with_a_hint_and_nothing_is_stored(
    tmp_path: Path, database_url: str
) -> None:
    site = build_ccdi_site(n_articles=5, per_page=10, body_kb=1)
    env = {"GOVWATCH_DATABASE_URL": database_url}
    with SiteServer(site.pages) as srv:
        srv.guard = guard = CaptchaGuard()
        config = ccdi_config(tmp_path, srv)
        result = _crawl(config, env)
        assert guard.served >= 1
    assert result.returncode == 1, result.stdout + result.stderr
    assert "local: blocked" in result.stdout, result.stdout
    text, status = _status(config, env)
    assert "blocked: captcha" in text, text
    assert "cookie_env" in text and COOKIE_VAR in text, text  # what to do
    run = status["last_run"]
    assert run["outcome"] == "blocked" and run["blocked_reason"] == "captcha", run
    assert _articles(config, env) == []
    db = Database(database_url)
    try:  # the text /metrics serves, and the digest's crawl health
        metrics = service_text(db, leader=True, started_at=0.0, running=())
        with db.session() as session:
            health = _crawl_health(session, ["local"], datetime.now(UTC), HealthThresholds(3, 72.0))
    finally:
        db.dispose()
    ((problem),) = [(p.problem, p.detail) for p in health]
    assert problem[0] == "blocked" and problem[1].startswith("blocked: captcha: "), health
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics)
        for s in family.samples
    }
    blocked = ("govwatch_site_blocked", (("reason", "captcha"), ("site", "local")))
    assert samples.get(blocked) == 1, metrics
    runs = ("govwatch_crawl_runs_total", (("outcome", "blocked"), ("site", "local")))
    assert samples.get(runs) == 1, metrics
    links = run_cli("--config", str(config), "links", "--status", "all", env=env).stdout
    assert "dead" not in links and "soft_404" not in links, links


def test_a_browser_cookie_gets_through_and_a_rejected_one_is_cookie_expired(
    tmp_path: Path, database_url: str
) -> None:
    site = build_ccdi_site(n_articles=5, per_page=10, body_kb=1)
    env = {"GOVWATCH_DATABASE_URL": database_url}
    with SiteServer(site.pages) as srv:
        srv.guard = guard = CaptchaGuard()
        config = _cookie_config(tmp_path, srv)
        good = {**env, COOKIE_VAR: f"other=1; {guard.name}={guard.value}"}
        result = _crawl(config, good)
        assert result.returncode == 0, result.stdout + result.stderr
        assert guard.served == 0
        assert len(_articles(config, env)) == 5
        sent = [r for r in srv.requests if r.path != "/robots.txt"]
        assert sent and all(f"{guard.name}={guard.value}" in r.header("cookie", "") for r in sent)
        # the link checker has no cookie: it meets the captcha, and calls no link dead
        # (only the local links are checked: tests do not go to the internet)
        db = Database(database_url)
        try:
            with db.session() as session:
                session.execute(
                    sql("DELETE FROM links WHERE fetch_url NOT LIKE :local"),
                    {"local": srv.base_url + "/%"},
                )
            report = check_now(db)
        finally:
            db.dispose()
        assert report.checked > 0 and report.count("dead") == 0
        dead = run_cli("--config", str(config), "links", "--status", "broken", env=env).stdout
        assert srv.url("/") not in dead, dead
        blocked = run_cli("--config", str(config), "links", "--status", "blocked", env=env)
        assert srv.url("/yaowenn/") in blocked.stdout, blocked.stdout

        stale = {**env, COOKIE_VAR: f"{guard.name}=expired"}
        result = _crawl(config, stale)
    assert result.returncode == 1, result.stdout + result.stderr
    text, status = _status(config, env)
    assert f"blocked: cookie expired: copy a fresh one into ${COOKIE_VAR}" in text, text
    assert status["last_run"]["blocked_reason"] == "cookie expired"
    shown = run_cli("--config", str(config), "check-config", env=stale).stdout
    assert f"cookie_env = '{COOKIE_VAR}'  # set, " in shown, shown
    assert "expired" not in shown  # the value itself is never shown


def _gaps_after(log: list[Logged], status: int) -> tuple[float, list[float]]:
    """When the first ``status`` answer came, and the gaps from it to each later request."""
    pages = [r for r in log if r.path != "/robots.txt"]
    first = next(i for i, r in enumerate(pages) if r.status == status)
    t = pages[first].at
    return t, [r.at - t for r in pages[first + 1 :]]


def test_a_429_with_retry_after_pauses_every_request_to_the_host(
    tmp_path: Path, database_url: str
) -> None:
    site = build_ccdi_site(n_articles=4, per_page=10, body_kb=1)
    env = {"GOVWATCH_DATABASE_URL": database_url}
    with SiteServer(site.pages) as srv:
        # the 3rd request (an article; two more are queued) is told to wait 2 s
        srv.guard = ThrottleGuard(at=frozenset({3}), status=429, retry_after="2")
        config = ccdi_config(tmp_path, srv)
        result = _crawl(config, env)
        log = list(srv.requests)
    assert result.returncode == 0, result.stdout + result.stderr
    _, gaps = _gaps_after(log, 429)
    assert len(gaps) >= 3, log
    assert min(gaps) >= 2.0, gaps  # no request to the host during its pause
    assert len(_articles(config, env)) == 4


def test_repeated_420s_grow_the_host_delay_shown_by_status(
    tmp_path: Path, database_url: str
) -> None:
    site = build_ccdi_site(n_articles=4, per_page=10, body_kb=1)
    env = {"GOVWATCH_DATABASE_URL": database_url}
    with SiteServer(site.pages) as srv:
        srv.guard = ThrottleGuard(at=frozenset({2, 3}), status=420, retry_after="0")
        config = ccdi_config(tmp_path, srv, extra="retries = 3")
        config.write_text(config.read_text().replace("retries = 1\n", ""))
        result = _crawl(config, env)
        log = list(srv.requests)
    assert result.returncode == 0, result.stdout + result.stderr
    # logged with the site and run (the command line's log shows one line of a kind per
    # minute: the second growth, to 4.0s, is held back)
    grown = "site local run 1: host 127.0.0.1: delay between requests now 2.0s (after HTTP 420)"
    assert grown in result.stderr, result.stderr
    pages = [r for r in log if r.path != "/robots.txt"]
    last_420 = max(i for i, r in enumerate(pages) if r.status == 420)
    after = [b.at - a.at for a, b in zip(pages[last_420:], pages[last_420 + 1 :], strict=False)]
    # two 420s: the delay grew 1 s -> 2 s -> 4 s, then decays by a tenth per answer (Scrapy
    # varies each slot delay by up to half either way)
    assert after and min(after) >= 0.5 * 0.9 ** len(after) * 4.0, after
    assert len(_articles(config, env)) == 4
    text, status = _status(config, env)
    assert "127.0.0.1" in text and "after 2 x 420/429" in text, text
    assert "after 2 x 420/429" in status["last_run"]["host_delays"], status


def test_cookie_env_is_read_from_the_environment_only_and_never_shown(tmp_path: Path) -> None:
    with SiteServer({}) as srv:
        config = _cookie_config(tmp_path, srv)
        unset = run_cli("--config", str(config), "check-config")
        secret = "haplat_pass=s3cret-value; HOY_TR=abc"
        shown = run_cli("--config", str(config), "check-config", env={COOKIE_VAR: secret})
        strict = run_cli("--config", str(config), "check-config", "--strict")
        bad = run_cli("--config", str(config), "check-config", env={COOKIE_VAR: "a=1\x01"})
    assert unset.returncode == 0
    assert f"cookie_env: environment variable {COOKIE_VAR} is not set" in unset.stderr
    assert f"cookie_env = '{COOKIE_VAR}'  # not set" in unset.stdout
    assert shown.returncode == 0 and "s3cret" not in shown.stdout + shown.stderr
    assert f"cookie_env = '{COOKIE_VAR}'  # set, {len(secret)} characters" in shown.stdout
    assert strict.returncode == 2 and COOKIE_VAR in strict.stderr
    assert bad.returncode == 2 and "control characters" in bad.stderr, bad.stderr
