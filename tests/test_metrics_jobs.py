"""``govwatch_jobs_running`` counts in-process digest runs as their own kind."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from scheduler.metrics import ServiceCollector, ServiceState, exposition


def _page(running: list[str], *, leader: bool = True) -> str:
    registry = CollectorRegistry(auto_describe=False)
    state = ServiceState(leader=leader, started_at=0.0, running=tuple(running))
    registry.register(ServiceCollector(lambda: state))
    return exposition(registry)


def test_jobs_running_counts_digests_apart_from_processes() -> None:
    text = _page(["crawl:ccdi", "crawl:cq", "digest:daily", "check-links"])
    assert 'govwatch_jobs_running{kind="crawl"} 2.0\n' in text
    assert 'govwatch_jobs_running{kind="digest"} 1.0\n' in text
    assert 'govwatch_jobs_running{kind="other"} 1.0\n' in text


def test_jobs_running_is_zero_for_each_kind_when_idle() -> None:
    text = _page([], leader=False)
    for kind in ("crawl", "digest", "other"):
        assert f'govwatch_jobs_running{{kind="{kind}"}} 0.0\n' in text
