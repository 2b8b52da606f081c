"""Selector drift: a configured selector that stopped matching, told apart from one that
misses on a few pages.

Each page a configured selector is tried on is counted, and each selector that missed on it
(the extractor's and the list parser's warnings name it).  A selector that matched on no page
of the run, or on under half of at least :data:`MIN_PAGES` pages, has drifted: a warning of
the run.  Fewer misses (a site with two templates, as ccdi has) are counted and shown by
``govwatch status``, not a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MIN_PAGES = 5
# "title selector 'h2.tit' matched nothing", "list_link_selector '.x' matched no links; …",
# "invalid selector 'x': …": the selector is named by the text up to its quoted value
_KEY = re.compile(r"^(.*?selector (['\"]).*?\2)")


def selector_key(message: str) -> str:
    match = _KEY.match(message)
    return match.group(1) if match else message


@dataclass
class _Misses:
    count: int
    message: str  # the first page's message


@dataclass
class SelectorStats:
    pages: dict[str, int] = field(default_factory=dict)  # page kind -> pages tried on
    misses: dict[tuple[str, str], _Misses] = field(default_factory=dict)

    def page(self, kind: str, warnings: tuple[str, ...] | list[str]) -> None:
        """One page of ``kind`` ("list", "article") and the selector warnings it gave."""
        self.pages[kind] = self.pages.get(kind, 0) + 1
        on_page: dict[str, str] = {}  # each selector once per page
        for message in warnings:
            on_page.setdefault(selector_key(message), message)
        for name, message in on_page.items():
            seen = self.misses.get((kind, name))
            if seen is None:
                self.misses[(kind, name)] = _Misses(1, message)
            else:
                seen.count += 1

    def judge(self) -> tuple[list[str], list[str]]:
        """``(drift warnings, misses to count)``, one line per selector."""
        drift: list[str] = []
        counted: list[str] = []
        for (kind, _), seen in self.misses.items():
            pages = self.pages[kind]
            matched = pages - seen.count
            line = f"{seen.message} (on {seen.count} of {pages} {kind} pages)"
            if matched == 0 or (pages >= MIN_PAGES and matched * 2 < pages):
                drift.append(line)
            else:
                counted.append(line)
        return drift, counted
