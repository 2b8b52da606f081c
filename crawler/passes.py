"""Resumable crawls: which start URLs a run must walk past stored articles, and which it
completed.

``stop_at_known_page`` (and a list page answered ``304 Not Modified``) ends a start URL's
pagination only when the last pass over its list pages was complete.  A pass that was cut
short (a list page or an article that failed, a crawl killed or stopped) leaves a backlog:
the next runs walk on past list pages of stored articles, fetching only what is not stored,
until one of them completes a pass.  The run records the state through
``storage.repository.begin_passes`` / ``complete_pass``; this module only keeps the books.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from storage.records import PassState

# ``govwatch_start`` of requests that belong to no start URL (re-checks of stored articles).
NO_START = -1


@dataclass
class StartPass:
    """One start URL's pass in this run."""

    url: str  # canonical
    walk: bool  # the last pass was incomplete (or there was none): walk past stored articles
    backlog_run_id: int | None  # the run that first left it incomplete
    pages: int = 0  # list pages reached
    ended: bool = False  # pagination came to its end (last page, max_list_pages, known page)
    failed: bool = False  # a list page or an article of it failed


@dataclass
class PassBook:
    """The passes of one run over its site's start URLs."""

    starts: list[StartPass] = field(default_factory=list)
    article_start: dict[str, int] = field(default_factory=dict)  # canonical -> start index
    resumed: set[str] = field(default_factory=set)  # found past a former stopping point
    recovered: int = 0  # new articles stored from ``resumed``
    # requests asked for and not answered yet (key -> (start index, URL)): one that is never
    # answered (dropped as a duplicate after a redirect loop) is a failure too
    pending: dict[str, tuple[int, str]] = field(default_factory=dict)
    asked_keys: set[str] = field(default_factory=set)  # every request asked for, once

    @classmethod
    def from_states(cls, start_urls: Iterable[str], states: dict[str, PassState]) -> PassBook:
        starts = []
        for url in start_urls:
            state = states.get(url)
            complete = state is not None and state.complete
            backlog = state.backlog_run_id if state is not None else None
            starts.append(StartPass(url=url, walk=not complete, backlog_run_id=backlog))
        return cls(starts=starts)

    def walking(self, start: int) -> bool:
        return 0 <= start < len(self.starts) and self.starts[start].walk

    def reached(self, start: int, page_index: int) -> None:
        if 0 <= start < len(self.starts):
            sp = self.starts[start]
            sp.pages = max(sp.pages, page_index + 1)

    def end(self, start: int) -> None:
        if 0 <= start < len(self.starts):
            self.starts[start].ended = True

    def article(self, canonical_url: str, start: int, *, resumed: bool) -> None:
        """An article request of start URL ``start`` (``resumed``: past a stopping point)."""
        self.article_start.setdefault(canonical_url, start)
        if resumed:
            self.resumed.add(canonical_url)

    def ask(self, key: str, start: int, url: str) -> bool:
        """Note a request about to be made; False if this run asked for it already."""
        if key in self.asked_keys:
            return False
        self.asked_keys.add(key)
        self.pending[key] = (start, url)
        return True

    def answered(self, key: str | None) -> None:
        if key is not None:
            self.pending.pop(key, None)

    def unanswered(self) -> list[tuple[int, str]]:
        """``(start index, URL)`` of the requests that got neither a response nor an error."""
        return list(self.pending.values())

    def start_of(self, canonical_url: str) -> int | None:
        return self.article_start.get(canonical_url)

    def fail(self, start: int | None) -> None:
        """A page failed: of start URL ``start``; of an unknown one (None): all of them."""
        if start is None:
            for sp in self.starts:
                sp.failed = True
        elif 0 <= start < len(self.starts):
            self.starts[start].failed = True

    def stored(self, new_urls: Iterable[str]) -> None:
        """Articles newly stored: count those only a resumed walk found."""
        self.recovered += sum(1 for url in new_urls if url in self.resumed)

    def forget(self, urls: Iterable[str]) -> None:
        """Articles stored: their books are closed (the run keeps no state per article)."""
        for url in urls:
            self.article_start.pop(url, None)
            self.resumed.discard(url)

    def completed(self) -> list[StartPass]:
        """The start URLs whose pass completed (call only for a run that finished)."""
        return [sp for sp in self.starts if sp.ended and not sp.failed]

    def backlog_runs(self) -> list[int]:
        """The runs that had left a pass incomplete, oldest first."""
        return sorted({sp.backlog_run_id for sp in self.starts if sp.backlog_run_id is not None})
