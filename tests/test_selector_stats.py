"""Selector drift against a few misses (crawler.selector_stats): the thresholds."""

from __future__ import annotations

import pytest

from crawler.selector_stats import SelectorStats, selector_key

MISS = "title selector 'h2.tit' matched nothing"


def judged(pages: int, missed: int) -> tuple[list[str], list[str]]:
    stats = SelectorStats()
    for i in range(pages):
        stats.page("article", [MISS] if i < missed else [])
    return stats.judge()


@pytest.mark.parametrize(
    ("pages", "missed", "drift"),
    [
        (1, 1, True),  # matched on no page
        (12, 12, True),
        (12, 1, False),  # one page of another template
        (5, 3, True),  # matched on 2 of 5: under half
        (5, 2, False),
        (4, 3, False),  # under half, but fewer than 5 pages
        (10, 5, False),  # matched on exactly half
    ],
)
def test_drift_is_no_match_or_under_half_of_five_or_more(
    pages: int, missed: int, drift: bool
) -> None:
    warnings, counted = judged(pages, missed)
    line = f"{MISS} (on {missed} of {pages} article pages)"
    assert (warnings, counted) == (([line], []) if drift else ([], [line]))


def test_a_selector_counts_once_per_page_whatever_its_messages() -> None:
    stats = SelectorStats()
    usable = "title selector 'h2.tit' matched no usable title"
    stats.page("article", [MISS, usable])
    stats.page("article", [])
    stats.page("list", ["list_link_selector '.x' matched no links; fell back"])
    assert stats.judge() == (
        ["list_link_selector '.x' matched no links; fell back (on 1 of 1 list pages)"],
        [f"{MISS} (on 1 of 2 article pages)"],
    )
    assert selector_key(usable) == selector_key(MISS) == "title selector 'h2.tit'"
