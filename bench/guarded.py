#!/usr/bin/env python3
"""The cost of cookie replay: a guarded crawl against an unguarded crawl of the same site.

Serves one generated ccdi-style site on 127.0.0.1 and times whole ``govwatch crawl``
processes, alternating A B A B, each into a fresh SQLite database:

  A  the site unguarded, the crawl without a cookie rule;
  B  the site behind the ccdi cookie guard (``tests.sitegen_guarded.CcdiGuard``: inline
     ``HOY_TR``/``HBB_HC`` scripts on every page, 412 without the rewritten cookie), the
     crawl with ``cookie_rule = "ccdi"``.  A new guard per attempt, so its first request
     is served as a new client's.

Prints median wall and CPU seconds and peak RSS of each, the A/B wall-time ratio (target
>= 0.9), and checks that B stored every article with no 412/420 answered.

    .venv/bin/python bench/guarded.py                # 300 articles, 3 pairs
    .venv/bin/python bench/guarded.py --pages 1000 --pairs 5
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.crawl import ChildRusage, Sample, govwatch_argv, write_config  # noqa: E402
from tests.sitesrv import CcdiGuard, SiteServer, build_ccdi_site  # noqa: E402


def attempt(
    srv: SiteServer, workdir: Path, start: str, max_pages: int, env: dict[str, str], rule: bool
) -> tuple[Sample, int]:
    """One crawl into a fresh database; returns its sample and the articles it stored."""
    workdir.mkdir()
    db = workdir / "gw.db"
    config = write_config(workdir, start, f"sqlite:///{db}", max_pages)
    if rule:
        text = config.read_text(encoding="utf-8")
        config.write_text(
            text.replace("delay_seconds = 0\n", 'delay_seconds = 0\ncookie_rule = "ccdi"\n'),
            encoding="utf-8",
        )
    sample = ChildRusage.run(govwatch_argv(config), env, srv)
    with sqlite3.connect(db) as conn:
        (stored,) = conn.execute("SELECT count(*) FROM articles").fetchone()
    return sample, int(stored)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=300, help="article pages (default 300)")
    parser.add_argument("--per-page", type=int, default=20, help="articles per list page")
    parser.add_argument("--pairs", type=int, default=3, help="A/B pairs (>= 3)")
    parser.add_argument("--body-kb", type=int, default=30, help="article body size in KiB")
    args = parser.parse_args()

    site = build_ccdi_site(
        n_articles=args.pages, per_page=args.per_page, body_kb=args.body_kb, start=date(2012, 1, 1)
    )
    list_pages = len(site.list_paths)
    print(f"site: {args.pages} article pages, {list_pages} list pages; {args.pairs} A/B pairs")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVWATCH_")}
    env["PYTHONPATH"] = str(REPO)
    plain: list[Sample] = []
    guarded: list[Sample] = []
    blocked = 0
    with SiteServer(site.pages) as srv, tempfile.TemporaryDirectory() as tmp:
        start = srv.url(site.start_path)
        for i in range(args.pairs):
            srv.guards = []
            sample, stored = attempt(srv, Path(tmp) / f"a{i}", start, list_pages + 1, env, False)
            plain.append(sample)
            assert stored == args.pages, f"unguarded run {i} stored {stored}"
            srv.guards = [CcdiGuard(seed=i)]
            sample, stored = attempt(srv, Path(tmp) / f"b{i}", start, list_pages + 1, env, True)
            guarded.append(sample)
            blocked += sum(1 for r in srv.requests if r.status in (412, 420))
            assert stored == args.pages, f"guarded run {i} stored {stored}"
    print(f"{'':10} {'wall s':>8} {'cpu s':>8} {'peak MB':>8} {'requests':>9}")
    for name, samples in (("unguarded", plain), ("guarded", guarded)):
        print(
            f"{name:10} {statistics.median(s.wall for s in samples):8.2f} "
            f"{statistics.median(s.cpu for s in samples):8.2f} "
            f"{max(s.rss_mb for s in samples):8.0f} {samples[-1].requests:9d}"
        )
    ratio = statistics.median(s.wall for s in plain) / statistics.median(s.wall for s in guarded)
    print(f"ratio unguarded/guarded (median wall): {ratio:.2f} (target >= 0.9)")
    print(f"412/420 answers in the guarded runs: {blocked}")
    print(
        "pairs (unguarded, guarded):",
        ", ".join(f"({a.wall:.2f}, {b.wall:.2f})" for a, b in zip(plain, guarded, strict=True)),
    )
    return 0 if blocked == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
