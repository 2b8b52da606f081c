"""The service's log stays short when the same thing fails many times (issue 11, item 9)."""

from __future__ import annotations

import logging

from scheduler.logs import Repeats


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(message: str, *args: object, level: int = logging.WARNING) -> logging.LogRecord:
    return logging.LogRecord("scheduler.service", level, __file__, 1, message, args, None)


def test_the_same_failure_is_one_line_per_window_with_a_count() -> None:
    clock = Clock()
    repeats = Repeats(window=60, clock=clock)
    passed = []
    for second in range(300):  # a heartbeat failing every 0.5 s for 150 s
        clock.now = second / 2
        item = record("heartbeat: database error on %s: connection refused", "db:5432")
        if repeats.filter(item):
            passed.append(item.getMessage())
    assert len(passed) == 3  # at 0 s, 60 s and 120 s
    assert passed[0] == "heartbeat: database error on db:5432: connection refused"
    assert passed[1].endswith("(and 119 more like it in the last 60s)")


def test_numbers_aside_other_failures_and_info_lines_go_through() -> None:
    repeats = Repeats(window=60, clock=Clock())
    assert repeats.filter(record("site a run %d: interrupted", 1))
    assert not repeats.filter(record("site a run %d: interrupted", 2))  # same kind
    assert repeats.filter(record("site b run %d: interrupted", 3))  # another site
    assert repeats.filter(record("site a run 4: interrupted", level=logging.ERROR))  # level
    for pid in range(5):
        assert repeats.filter(record("crawl started (pid %d)", pid, level=logging.INFO))


def test_a_database_error_is_one_kind_whatever_page_it_hit() -> None:
    repeats = Repeats(window=60, clock=Clock())
    line = "site news run 1: storage %s: database error on postgresql://db/gw: refused"
    assert repeats.filter(record(line, "http://example.org/a.html"))
    assert not repeats.filter(record(line, "http://example.org/b.html"))
    other = "site news run 1: http %s: 404"  # not a database error: each page is news
    assert repeats.filter(record(other, "http://example.org/a.html"))
    assert repeats.filter(record(other, "http://example.org/b.html"))
