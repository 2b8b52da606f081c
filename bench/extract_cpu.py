#!/usr/bin/env python3
"""The extraction worker's CPU per page: extract + fingerprint + terms of the bench site's pages.

Generates the article pages of ``bench/crawl.py``'s site (ccdi-style, 39-51 KB each, the same
generator and selectors), then runs :func:`crawler.extraction.extract_page` (what an
extraction worker does for each page: extract, fingerprint, search terms) over all of them
``--rounds`` times in this one process, and prints the CPU time per page
(``time.thread_time`` of each step, as the crawl's ``cpu timings`` line counts it), best
round and median.  The first round
is a warm-up (imports, caches) and is not counted.

CPU time, not wall time: the machine is shared.  For instruction counts run it under
``valgrind --tool=callgrind`` with ``--pages 20 --rounds 2`` (a warm-up and a counted round)
and subtract the same with ``--rounds 0`` (the pages generated and the modules imported, no
round run).

    .venv/bin/python bench/extract_cpu.py                       # 300 distinct pages, 5 rounds
    .venv/bin/python bench/extract_cpu.py --site copies --pages 100
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from crawl import PATTERN, build_site  # noqa: E402

from crawler.extract.records import Selectors  # noqa: E402
from crawler.extraction import extract_page, warm_up  # noqa: E402

# the selectors bench/crawl.py's config gives its site
SELECTORS = Selectors(
    title="h2.tit", publish_time=".daty_con .e2", source=".daty_con .e1", body="div.content"
)
TARGET_MS = 1.5  # issue 14: extract + fingerprint + terms per page


def article_pages(kind: str, count: int) -> list[tuple[str, bytes, str]]:
    import re

    site = build_site(kind, count)
    pattern = re.compile(PATTERN)
    return [
        (f"http://127.0.0.1:8000{path}", page.body, page.content_type)
        for path, page in sorted(site.pages.items())
        if pattern.search(path)
    ]


def run_round(pages: list[tuple[str, bytes, str]], selectors: Selectors | None) -> dict[str, float]:
    totals = {"extract": 0.0, "fingerprint": 0.0, "terms": 0.0}
    for url, body, content_type in pages:
        done = extract_page(body, url, content_type, selectors)
        for step in totals:
            totals[step] += done.cpu[step]
    return totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--site", choices=("distinct", "copies"), default="distinct")
    parser.add_argument("--generic", action="store_true", help="no site selectors")
    args = parser.parse_args()
    pages = article_pages(args.site, args.pages)
    selectors = None if args.generic else SELECTORS
    warm_up()
    if args.rounds == 0:  # the pages and the imports only: the baseline of an instruction count
        print(f"{len(pages)} {args.site} pages generated, no round run")
        return 0
    run_round(pages, selectors)  # warm-up round
    rounds = [run_round(pages, selectors) for _ in range(max(1, args.rounds - 1))]
    n = len(pages)
    print(f"{n} {args.site} pages, {len(rounds)} counted rounds, CPU ms per page (thread time)")
    for step in ("extract", "fingerprint", "terms"):
        values = [r[step] * 1000 / n for r in rounds]
        print(f"  {step:12s} best {min(values):6.3f}  median {statistics.median(values):6.3f}")
    both = [sum(r.values()) * 1000 / n for r in rounds]
    print(
        f"  {'all three':12s} best {min(both):6.3f}  median {statistics.median(both):6.3f}"
        f"  (target {TARGET_MS})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
