#!/usr/bin/env python3
"""What a crawl costs the user: whole ``govwatch crawl`` processes against a whole bare
``scrapy runspider``-style process, same site, same politeness.

Serves a generated ccdi-style site (list pages with createPageHTML pagination, article pages
of 39-51 KB with realistic chrome) on 127.0.0.1 and times, alternating A B A B:

  A  ``bench/bare_spider.py``: a bare Scrapy spider that fetches the same list and article
     pages (robots.txt, one request per host at a time, no delay, the fastest reactor) and
     does nothing with them;
  B  ``govwatch crawl`` of the same site into a fresh database (SQLite; PostgreSQL too with
     --pg URL: a fresh schema per run, created and dropped here).

Both are whole processes, interpreter start-up and shutdown included (what the service pays:
it starts a process per crawl).  Sites: ``distinct`` (every article its own story) and
``copies`` (four in five articles a near-copy of another: the fingerprint path).  Per case:

- wall time, CPU time (the child's and the children it waited for, ``os.wait4``; not its
  ``ru_maxrss``: a child spawned by a large parent inherits the parent's high-water mark, so
  the 3,000-page site held here showed as every child's peak);
- the time to the first request and after the last one (the site server's own log), and
  the in-crawl time between them: the in-crawl ratio is that of the crawls alone;
- peak memory, sampled from /proc every 0.1 s: RSS of the largest single process, and of
  the whole process tree (crawl process, extraction workers) RSS summed (a
  page shared by several processes counts once per process) and PSS summed (a shared page
  divided among its processes: the tree's real share of memory);
- govwatch's per-stage seconds (the run's ``timings`` log line) and the copies it linked.

Then start-up alone: ``govwatch --help`` and ``govwatch status`` (whole processes).

    .venv/bin/python bench/crawl.py                           # 300 and 3,000 pages, SQLite
    .venv/bin/python bench/crawl.py --pg postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/crawl.py --pages 300 --sites distinct --pairs 5
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.sitegen_ccdi import CcdiSite, build_ccdi_site  # noqa: E402
from tests.sitegen_text import small_edit  # noqa: E402
from tests.sitesrv import SiteServer  # noqa: E402

PATTERN = r"/\d{6}/t\d{8}_\d+\.html$"
BARE_SPIDER = Path(__file__).resolve().parent / "bare_spider.py"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
COPIES_PER_STORY = 4  # the ``copies`` site: each story once, then four near-copies
# targets of issue 14 (whole-process ratio bare/govwatch, by backend and size)
RATIO_TARGET = {("sqlite", 300): 0.6, ("postgresql", 300): 0.5, ("sqlite", 3000): 0.6}
RSS_TARGET = 1.5  # govwatch's peak RSS at most this times bare Scrapy's
STARTUP_TARGET = 0.3  # seconds, govwatch --help
PIPELINE_STAGES = ("extract", "fingerprint", "terms", "store", "links")
PIPELINE_TARGET_MS = 4.0  # CPU per article in those stages


def child_env() -> dict[str, str]:
    """The environment of the timed processes: no GOVWATCH_* overrides, and bytecode caches
    written and read as on an installed system (a PYTHONDONTWRITEBYTECODE in the caller's
    environment made every govwatch process compile its ~100 modules again, ~0.3 s; the
    bare spider's Scrapy, in site-packages, has its caches)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVWATCH_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(REPO)
    return env


def compile_bytecode() -> None:
    """Write the bytecode caches of govwatch's packages before anything is timed."""
    import compileall

    for package in ("crawler", "storage", "scheduler", "digest"):
        if (REPO / package).is_dir():
            compileall.compile_dir(REPO / package, quiet=1)


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mb: float  # the largest single process, sampled
    tree_mb: float  # the whole process tree, sampled
    pss_mb: float  # the whole process tree's proportional set size, sampled
    first: float  # seconds from spawn to the first request answered
    last: float  # seconds from spawn to the last request answered
    requests: int
    output: str = field(repr=False)

    @property
    def in_crawl(self) -> float:
        return self.last - self.first

    @property
    def after(self) -> float:
        return self.wall - self.last


class TreeRss:
    """Peak summed RSS and PSS of a process and its descendants, sampled from /proc.

    RSS counts a page shared by several processes (a library's code, the crawl process's pages
    in its workers) once per process; PSS divides it among the processes sharing it.
    """

    def __init__(self, root: int, interval: float = 0.1) -> None:
        self.root, self.interval = root, interval
        self.peak = self.peak_pss = self.peak_one = 0  # tree RSS, tree PSS, largest process RSS
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            rss, pss, one = self.sample()
            self.peak, self.peak_pss = max(self.peak, rss), max(self.peak_pss, pss)
            self.peak_one = max(self.peak_one, one)
            self._stop.wait(self.interval)

    def sample(self) -> tuple[int, int, int]:
        parents: dict[int, int] = {}
        rss: dict[int, int] = {}
        for name in os.listdir("/proc"):  # noqa: PTH208
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as f:  # noqa: PTH123
                    fields = f.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            parents[int(name)] = int(fields[1])  # fields[0] is the state
            rss[int(name)] = int(fields[21]) * PAGE_SIZE
        tree, frontier = {self.root}, [self.root]
        children: dict[int, list[int]] = {}
        for pid, ppid in parents.items():
            children.setdefault(ppid, []).append(pid)
        while frontier:
            for child in children.get(frontier.pop(), []):
                if child not in tree:
                    tree.add(child)
                    frontier.append(child)
        sizes = [rss.get(pid, 0) for pid in tree]
        return sum(sizes), sum(_pss(pid) for pid in tree), max(sizes)

    def stop(self) -> tuple[float, float, float]:
        self._stop.set()
        self._thread.join()
        return self.peak / 2**20, self.peak_pss / 2**20, self.peak_one / 2**20


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:  # noqa: PTH123
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def spawn_into(argv: list[str], env: dict[str, str], fd: int) -> int:
    """Start ``argv`` with its stdout and stderr written to ``fd``; its pid."""
    return os.posix_spawn(
        argv[0],
        argv,
        env,
        file_actions=[(os.POSIX_SPAWN_DUP2, fd, 1), (os.POSIX_SPAWN_DUP2, fd, 2)],
    )


def run_child(argv: list[str], env: dict[str, str], srv: SiteServer | None) -> Sample:
    """Run ``argv`` as its own process; its wall, CPU, peak RSS and the server's log."""
    if srv is not None:
        srv.clear_log()
    with tempfile.TemporaryFile("w+") as out:
        started = time.monotonic()
        pid = spawn_into(argv, env, out.fileno())
        tree = TreeRss(pid)
        _, status, usage = os.wait4(pid, 0)
        wall = time.monotonic() - started
        tree_mb, pss_mb, one_mb = tree.stop()
        out.seek(0)
        text = out.read()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(argv[:6])} exited {code}:\n{text[-3000:]}")
    times = sorted(r.at for r in srv.requests) if srv is not None else []
    return Sample(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        rss_mb=one_mb,
        tree_mb=tree_mb,
        pss_mb=pss_mb,
        first=times[0] - started if times else float("nan"),
        last=times[-1] - started if times else float("nan"),
        requests=len(times),
        output=text,
    )


def build_site(kind: str, pages: int) -> CcdiSite:
    # articles are dated about 1.6 days apart from ``start``: early enough that none of a
    # 3,000-page site lies in the future (the extractor rejects future publish times)
    site = build_ccdi_site(n_articles=pages, per_page=20, body_kb=30, start=date(2012, 1, 1))
    if kind == "copies":
        group = COPIES_PER_STORY + 1
        for i in range(len(site.articles)):
            if i % group:
                original = site.articles[i - i % group]
                site.edit_article(i, paragraphs=small_edit(original.paragraphs))
    return site


def write_config(
    directory: Path, start_url: str, db_url: str, max_pages: int, workers: str | None
) -> Path:
    path = directory / "bench.toml"
    crawl = f"[crawl]\nextract_workers = {workers}\n" if workers is not None else ""
    path.write_text(
        f"""
[database]
url = "{db_url}"

{crawl}
[[sites]]
name = "bench"
start_urls = ["{start_url}"]
article_url_pattern = '{PATTERN}'
list_link_selector = ".list_news_dl2 li a"
max_list_pages = {max_pages}
delay_seconds = 0
[sites.selectors]
title = "h2.tit"
publish_time = ".daty_con .e2"
source = ".daty_con .e1"
body = "div.content"
""",
        encoding="utf-8",
    )
    return path


def fresh_pg_url(base: str) -> tuple[str, str]:
    """A URL of a new, empty PostgreSQL schema (and its name, to drop later)."""
    import psycopg

    schema = f"gw_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    url = base.replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{url}{sep}options=-csearch_path%3D{schema}", schema


def drop_pg_schema(base: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def log_messages(output: str) -> list[str]:
    messages = []
    for line in output.splitlines():
        if line.startswith("{"):
            try:
                messages.append(json.loads(line).get("message", ""))
            except json.JSONDecodeError:
                continue
    return messages


def stage_timings(output: str, line: str = "timings") -> dict[str, float]:
    """The run's per-stage seconds, from its ``timings`` (wall-clock) or ``cpu timings``
    log line."""
    marker = f": {line}: "
    for message in log_messages(output):
        if marker in message:
            return dict(json.loads(message.split(marker, 1)[1]))
    return {}


def copies_linked(output: str) -> int | None:
    for message in log_messages(output):
        m = re.search(r"(\d+) new \((\d+) copies of a stored story\)", message)
        if m:
            return int(m.group(2))
    return None


def govwatch_argv(config: Path, *command: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "scheduler",
        "--config",
        str(config),
        "--log-level",
        "INFO",
        "--log-format",
        "json",
        *command,
    ]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def run_case(
    kind: str, pages: int, backend: str, pg: str | None, args: argparse.Namespace, tmp: Path
) -> Path:
    """One site × size × backend: ``args.pairs`` alternating pairs; returns the last config."""
    site = build_site(kind, pages)
    list_pages = len(site.list_paths)
    env = child_env()
    bare: list[Sample] = []
    gov: list[Sample] = []
    timings: list[dict[str, float]] = []
    cpu_timings: list[dict[str, float]] = []
    copies: list[int | None] = []
    config = tmp / "none"
    recrawl: Sample | None = None
    with SiteServer(site.pages) as srv:
        start = srv.url(site.start_path)
        bare_argv = [sys.executable, str(BARE_SPIDER), start, str(list_pages + 1), PATTERN]
        for i in range(args.pairs):
            bare.append(run_child(bare_argv, env, srv))
            workdir = tmp / f"{kind}-{pages}-{backend}-{i}"
            workdir.mkdir()
            schema = None
            if pg:
                db_url, schema = fresh_pg_url(pg)
            else:
                db_url = f"sqlite:///{workdir / 'gw.db'}"
            config = write_config(workdir, start, db_url, list_pages + 1, args.workers)
            try:
                sample = run_child(govwatch_argv(config, "crawl", "bench"), env, srv)
                if i == args.pairs - 1:
                    recrawl = run_child(govwatch_argv(config, "crawl", "bench"), env, srv)
            finally:
                if schema and pg:
                    drop_pg_schema(pg, schema)
            gov.append(sample)
            timings.append(stage_timings(sample.output))
            cpu_timings.append(stage_timings(sample.output, "cpu timings"))
            copies.append(copies_linked(sample.output))
    assert recrawl is not None
    report(kind, pages, backend, list_pages, bare, gov, (timings, cpu_timings), copies, recrawl)
    return config


def report(
    kind: str,
    pages: int,
    backend: str,
    list_pages: int,
    bare: list[Sample],
    gov: list[Sample],
    stages: tuple[list[dict[str, float]], list[dict[str, float]]],
    copies: list[int | None],
    recrawl: Sample,
) -> None:
    site = "distinct articles" if kind == "distinct" else "near-copy-heavy"
    print(f"\n== {site}, {pages} pages (+{list_pages} lists), {backend}, {len(bare)} pairs ==")
    head = ("wall s", "cpu s", "to 1st", "in-crawl", "after", "peak MB", "tree MB", "tree PSS")
    print(f"{'':9}" + "".join(f"{h:>10}" for h in head))
    for name, samples in (("bare", bare), ("govwatch", gov)):
        cols = [
            median([s.wall for s in samples]),
            median([s.cpu for s in samples]),
            median([s.first for s in samples]),
            median([s.in_crawl for s in samples]),
            median([s.after for s in samples]),
            max(s.rss_mb for s in samples),
            max(s.tree_mb for s in samples),
            max(s.pss_mb for s in samples),
        ]
        print(f"{name:9}" + "".join(f"{c:10.2f}" for c in cols) + f"  {samples[-1].requests} req")
    bw, gw = median([s.wall for s in bare]), median([s.wall for s in gov])
    target = RATIO_TARGET.get((backend, pages))
    goal = f" (target >= {target})" if target else ""
    print(f"whole-process ratio bare/govwatch (median wall): {bw / gw:.2f}{goal}")
    crawl_ratio = median([s.in_crawl for s in bare]) / median([s.in_crawl for s in gov])
    print(f"in-crawl ratio (first to last request only): {crawl_ratio:.2f}")
    start_gap = median([s.first for s in gov]) - median([s.first for s in bare])
    print(f"govwatch's first request after bare's: {start_gap:+.2f} s (target <= 0.3)")
    rss = max(s.tree_mb for s in gov) / max(s.tree_mb for s in bare)
    pss = max(s.pss_mb for s in gov) / max(s.pss_mb for s in bare)
    print(
        f"peak memory govwatch/bare (process trees): RSS {rss:.2f}, PSS {pss:.2f}, largest "
        f"process {max(s.rss_mb for s in gov) / max(s.rss_mb for s in bare):.2f} "
        f"(target <= {RSS_TARGET})"
    )
    print(
        "pairs (bare, govwatch) wall:",
        ", ".join(f"({b.wall:.2f}, {g.wall:.2f})" for b, g in zip(bare, gov, strict=True)),
    )
    for name, timings in zip(("wall-clock", "CPU"), stages, strict=True):
        merged: dict[str, list[float]] = {}
        for t in timings:
            for key, value in t.items():
                merged.setdefault(key, []).append(value)
        if merged:
            pipeline = sum(median(merged.get(k, [])) for k in PIPELINE_STAGES if k in merged)
            every = sum(median(v) for k, v in merged.items() if k != "list")
            print(
                f"govwatch stages, {name} (median s): "
                + ", ".join(f"{k} {median(v):.3f}" for k, v in merged.items())
                + f"; {pipeline / pages * 1000:.1f} ms per article in "
                + " + ".join(PIPELINE_STAGES)
                + f" (target <= {PIPELINE_TARGET_MS} ms CPU); "
                + f"{every / pages * 1000:.1f} with lookup"
            )
    print(f"copies linked to a stored story: {', '.join(str(c) for c in copies)}")
    print(f"recrawl of the unchanged site: {recrawl.wall:.2f} s wall, {recrawl.requests} requests")


def startup(config: Path, runs: int) -> None:
    """``govwatch --help`` and ``govwatch status`` (on the last crawl's database)."""
    env = child_env()
    print(f"\n== start-up, {runs} runs each (median wall, peak RSS) ==")
    base = [sys.executable, "-m", "scheduler"]
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "govwatch --help": [*base, "--help"],
        "govwatch status": [*base, "--config", str(config), "status"],
    }
    for name, argv in commands.items():
        samples = []
        for _ in range(runs):
            started = time.monotonic()
            result = subprocess.run(argv, env=env, capture_output=True, check=True)
            samples.append(time.monotonic() - started)
            assert result.returncode == 0
        target = f" (target <= {STARTUP_TARGET} s)" if name.startswith("govwatch") else ""
        print(f"{name:18} {median(samples):6.3f} s{target}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--pages", type=int, nargs="+", default=[300, 3000])
    parser.add_argument("--sites", nargs="+", choices=["distinct", "copies"], default=None)
    parser.add_argument("--pairs", type=int, default=3, help="A/B pairs per case (default 3)")
    parser.add_argument("--workers", help="[crawl] extract_workers (default: govwatch's)")
    parser.add_argument(
        "--pg",
        default=os.environ.get("GOVWATCH_BENCH_PG"),
        help="PostgreSQL URL (postgresql://…) to measure as well",
    )
    args = parser.parse_args()
    sites = args.sites or ["distinct", "copies"]
    backends = [("sqlite", None)] + ([("postgresql", args.pg)] if args.pg else [])
    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start; "
        f"extract_workers = {args.workers or 'default'}"
    )
    compile_bytecode()
    with tempfile.TemporaryDirectory() as tmp:
        last = Path(tmp)
        for pages in args.pages:
            for kind in sites:
                for backend, pg in backends:
                    config = run_case(kind, pages, backend, pg, args, Path(tmp))
                    if backend == "sqlite":
                        last = config
        startup(last, 5)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
