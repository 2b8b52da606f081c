"""The per-host pace policy (crawler.hostpace): pauses, growth after 420/429, slow decay."""

from __future__ import annotations

import pytest

from crawler.blocking import blocked_reason, pace_in, pace_note
from crawler.hostpace import HostPace


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
