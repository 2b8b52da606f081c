"""``govwatch_jobs_running`` counts in-process digest runs as their own kind."""

from __future__ import annotations

from scheduler.metrics import render, service_families


def test_jobs_running_counts_digests_apart_from_processes() -> None:
    running = ["crawl:ccdi", "crawl:cq", "digest:daily", "check-links"]
    text = render(service_families(leader=True, started_at=0.0, running=running))
    assert 'govwatch_jobs_running{kind="crawl"} 2\n' in text
    assert 'govwatch_jobs_running{kind="digest"} 1\n' in text
    assert 'govwatch_jobs_running{kind="other"} 1\n' in text


def test_jobs_running_is_zero_for_each_kind_when_idle() -> None:
    text = render(service_families(leader=False, started_at=0.0, running=[]))
    for kind in ("crawl", "digest", "other"):
        assert f'govwatch_jobs_running{{kind="{kind}"}} 0\n' in text
