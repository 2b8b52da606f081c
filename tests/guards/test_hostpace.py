"""The per-host pace policy (crawler.guards.hostpace): pauses, growth after 420/429, slow decay;
and one pace per host across the crawlers of one process (a real `govwatch crawl --all`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.guards.blocking import blocked_reason, pace_in, pace_note
from crawler.guards.hostpace import HostPace
from tests.conftest import run_cli
from tests.sitesrv import CcdiGuard, SiteServer, build_ccdi_site

N_EACH = 30


def test_a_throttling_answer_pauses_the_host_for_its_retry_after() -> None:
    pace = HostPace(base_delay=0.5, retry_after_max=600)
    assert pace.wait("a.example", 100.0) == 0.0
    assert pace.penalize("a.example", 100.0, 429, 2.0) == 2.0
    assert pace.wait("a.example", 100.0) == pytest.approx(2.0)
    assert pace.wait("a.example", 101.5) == pytest.approx(0.5)
    assert pace.wait("a.example", 102.0) == 0.0
    assert pace.wait("b.example", 100.0) == 0.0  # only that host


def test_retry_after_is_capped_and_a_missing_one_is_the_backoff() -> None:
    pace = HostPace(base_delay=0.0, retry_after_max=30, backoff=3.0)
    assert pace.penalize("h", 0.0, 503, 3600.0) == 30.0
    pace = HostPace(base_delay=0.0, retry_after_max=30, backoff=3.0, max_delay=10.0)
    assert pace.penalize("h", 0.0, 503, None) == 3.0
    assert pace.penalize("h", 0.0, 503, None, attempt=2) == 6.0  # doubling per attempt
    assert pace.penalize("h", 0.0, 503, None, attempt=5) == 10.0  # up to the cap


def test_repeated_420s_grow_the_delay_which_decays_slowly_to_the_configured_one() -> None:
    pace = HostPace(base_delay=1.0, max_delay=20.0)
    delays = []
    for i in range(6):
        pace.penalize("h", float(i), 420, 0.0)
        delays.append(pace.state("h").delay)
    assert delays == [2.0, 4.0, 8.0, 16.0, 20.0, 20.0]  # doubling, capped
    after = [pace.success("h") for _ in range(3)]
    assert after[0] == pytest.approx(1.0 + 19.0 * 0.9)
    assert after[0] > after[1] > after[2] > 1.0  # slowly
    for _ in range(200):
        last = pace.success("h")
    assert last == 1.0  # never below delay_seconds


def test_a_503_pauses_without_growing_the_delay() -> None:
    pace = HostPace(base_delay=1.0)
    pace.penalize("h", 0.0, 503, 1.0)
    assert pace.state("h").delay == 1.0
    assert pace.state("h").throttled == 0


def test_message_parts_name_the_reason_and_the_delays() -> None:
    assert blocked_reason("captcha: the site answered with a captcha") == "captcha"
    assert blocked_reason("cookie expired: copy a fresh one into $X") == "cookie expired"
    assert blocked_reason("3 page(s) failed") is None
    note = pace_note({"a.example": (4.0, 2), "b.example": (1.0, 0)})
    assert note == "per-host delay: a.example 4.0s after 2 x 420/429"
    assert pace_in(f"captcha: x; {note}") == "a.example 4.0s after 2 x 420/429"


def _two_sites_config(tmp_path: Path, srv: SiteServer) -> Path:
    sites = "".join(
        f"""
[[sites]]
name = "{name}"
start_urls = ["{srv.url(f"/{channel}/")}"]
article_url_pattern = '/{channel}/\\d{{6}}/t\\d{{8}}_\\d+\\.html$'
list_link_selector = ".list_news_dl2 li a"
cookie_rule = "ccdi"
delay_seconds = 0
"""
        for name, channel in (("ccdi-a", "yaowenn"), ("ccdi-b", "scdc"))
    )
    path = tmp_path / "govwatch.toml"
    path.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "gw.db"}"\n'
        f"[crawl]\nretries = 2\nretry_backoff_seconds = 0\n{sites}",
        encoding="utf-8",
    )
    return path


def test_two_sites_on_one_guarded_host_take_turns_across_crawlers(tmp_path: Path) -> None:
    """`crawl --all` runs both sites' crawlers in one process; ccdi's guard answers 420 to
    overlapping requests of one client (hold_ms keeps each in flight long enough to see)."""
    first = build_ccdi_site(n_articles=N_EACH, per_page=10, body_kb=1)
    second = build_ccdi_site(n_articles=N_EACH, per_page=10, body_kb=1, channel="scdc")
    pages = {**second.pages, **first.pages}
    with SiteServer(pages, guards=[CcdiGuard(hold_ms=15)]) as srv:
        config = _two_sites_config(tmp_path, srv)
        result = run_cli("--config", str(config), "crawl", "--all", timeout=300)
        answers = [r.status for r in srv.requests if r.path != "/robots.txt"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert 420 not in answers, answers
    # the second crawler's first request came without the first's cookies: one 412, replayed
    assert answers.count(412) <= 1, answers
    for name in ("ccdi-a", "ccdi-b"):
        out = run_cli(
            "--config",
            str(config),
            "articles",
            "--site",
            name,
            "--format",
            "json",
            "--limit",
            "500",
            "--duplicates",
            "show",
        )
        assert len(out.stdout.splitlines()) == N_EACH, (name, out.stdout[:500])
