#!/usr/bin/env python3
"""Guarded sites: what passing a JavaScript challenge in the browser costs.

Serves a ccdi-style site behind guarded mode (b) (``tests/sitegen_challenge.py``: 521 and a
script that computes ``__jsl_clearance``) on 127.0.0.1 and runs one browser solve
(:class:`crawler.browser.Solve`: the helper process, Playwright's driver, Debian's Chromium),
``--solves`` times.  For each: wall seconds from starting the helper to having the cookies,
and the peak memory of the whole process tree, sampled from ``/proc`` every 20 ms: the sum
of the RSS of every process whose environment holds this run's marker (RSS counts shared
pages once per process, so the sum overstates what the tree really holds; PSS is given too).

    .venv/bin/python bench/guarded.py               # 3 solves
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from crawler import browser  # noqa: E402
from crawler.addresses import origin  # noqa: E402
from tests.sitegen_challenge import ChallengeGate  # noqa: E402
from tests.sitesrv import SiteServer, build_ccdi_site  # noqa: E402

MARK = "GOVWATCH_BENCH_MARK"


def _tree_memory(marker: bytes) -> tuple[int, int]:
    """(RSS, PSS) in KiB summed over the processes whose environment holds ``marker``."""
    rss = pss = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or entry.name == str(os.getpid()):
            continue
        try:
            if marker not in (entry / "environ").read_bytes():
                continue
            for line in (entry / "smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            continue
    return rss, pss


def one_solve(url: str) -> tuple[float, int, int]:
    """Seconds, peak RSS and peak PSS (KiB) of one solve of ``url``."""
    marker = f"solve-{uuid.uuid4().hex}"
    os.environ[MARK] = marker
    peak = [0, 0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            rss, pss = _tree_memory(marker.encode())
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    request = browser.SolveRequest(url, 30.0, [list(origin(url))], [])
    try:
        solved = browser.Solve.start(request).wait()
    finally:
        done.set()
        sampler.join()
        del os.environ[MARK]
    assert solved.cookies, "the browser passed without a cookie"
    return time.monotonic() - started, peak[0], peak[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--solves", type=int, default=3)
    args = parser.parse_args()
    why_not = browser.missing()
    if why_not is not None:
        print(why_not, file=sys.stderr)
        return 2
    site = build_ccdi_site(n_articles=10)
    seconds, rss, pss = [], [], []
    with SiteServer(site.pages, gate=ChallengeGate()) as srv:
        for i in range(args.solves):
            s, r, p = one_solve(srv.url("/yaowenn/"))
            print(f"solve {i + 1}: {s:.2f} s, peak RSS {r / 1024:.0f} MiB, PSS {p / 1024:.0f} MiB")
            seconds.append(s)
            rss.append(r)
            pss.append(p)
    print(
        f"browser solve (median of {args.solves}): {statistics.median(seconds):.2f} s, "
        f"peak memory of the process tree: RSS {statistics.median(rss) / 1024:.0f} MiB, "
        f"PSS {statistics.median(pss) / 1024:.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
