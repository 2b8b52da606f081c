#!/usr/bin/env python3
"""Where a crawl's memory goes: one ``govwatch crawl`` of bench/crawl.py's site, every process
of its tree sampled from /proc, and (``--trace``) what each process's Python heap holds.

Serves bench/crawl.py's generated ccdi-style site (``distinct`` articles, or ``copies``) and
runs one ``govwatch crawl`` of it into a fresh SQLite database, sampling every 0.1 s the
``smaps_rollup`` of every process of the tree (the crawl process, the extraction worker it
forks, the child preparing the database).  Prints, per process, its peak PSS and USS
(private pages: what the process alone costs) and its anonymous PSS, and the tree's peak
PSS with each process's share at that moment; then the same for a bare Scrapy spider.

``--report`` has every process of the tree write, when 10 %, 50 % and 90 % of the pages are
answered, its smaps_rollup, glibc's malloc figures (``mallinfo2``), its module count and its
objects by type (a SIGUSR1 handler installed by this script's ``--child`` mode, which then
runs the command line).  ``--trace`` runs the crawl with ``-X tracemalloc`` too, and adds
each process's largest Python allocations by line and by file to the reports.
tracemalloc's own bookkeeping inflates the sizes: use it for what holds the heap, the
plain run for the sizes.

    .venv/bin/python bench/crawl_memory.py --pages 3000
    .venv/bin/python bench/crawl_memory.py --pages 300 --trace
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

MALLINFO2_FIELDS = (
    *("arena", "ordblks", "smblks", "hblks", "hblkhd"),
    *("usmblks", "fsmblks", "uordblks", "fordblks", "keepcost"),
)
FIELDS = ("Rss", "Pss", "Pss_Anon", "Pss_File", "Private_Clean", "Private_Dirty")


def smaps(pid: int) -> dict[str, int]:
    """A process's smaps_rollup fields (kB), empty if it is gone."""
    values: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:  # noqa: PTH123
            for line in f:
                name, _, rest = line.partition(b":")
                key = name.decode()
                if key in FIELDS:
                    values[key] = int(rest.split()[0])
    except OSError:
        return {}
    return values


def tree_of(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):  # noqa: PTH208
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:  # noqa: PTH123
                    parents[int(name)] = int(f.read().rsplit(b")", 1)[1].split()[1])
            except OSError:
                continue
    tree, frontier = [root], [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree.append(pid)
                frontier.append(pid)
    return tree


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:  # noqa: PTH123
            return f.read().replace(b"\0", b" ").decode(errors="replace")[:60]
    except OSError:
        return "?"


@dataclass
class Peaks:
    """Per-process peaks and the tree's peak PSS, with each process's PSS at that moment."""

    root: int
    per_pid: dict[int, dict[str, int]] = field(default_factory=dict)
    first_seen: dict[int, float] = field(default_factory=dict)
    last_seen: dict[int, float] = field(default_factory=dict)
    tree_pss: int = 0
    at_tree_peak: dict[int, int] = field(default_factory=dict)
    samples: int = 0

    def sample(self) -> None:
        now: dict[int, int] = {}
        for pid in tree_of(self.root):
            values = smaps(pid)
            if not values:
                continue
            values["USS"] = values.get("Private_Clean", 0) + values.get("Private_Dirty", 0)
            self.first_seen.setdefault(pid, time.monotonic())
            self.last_seen[pid] = time.monotonic()
            peak = self.per_pid.setdefault(pid, {})
            for key, value in values.items():
                peak[key] = max(peak.get(key, 0), value)
            now[pid] = values.get("Pss", 0)
        self.samples += 1
        if sum(now.values()) > self.tree_pss:
            self.tree_pss, self.at_tree_peak = sum(now.values()), now


class Sampler:
    def __init__(self, root: int, interval: float = 0.1) -> None:
        self.peaks = Peaks(root)
        self._stop = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peaks.sample()
            self._stop.wait(self._interval)

    def stop(self) -> Peaks:
        self._stop.set()
        self._thread.join()
        return self.peaks


def role(pid: int, peaks: Peaks, names: dict[int, str]) -> str:
    if pid == peaks.root:
        return "crawl process"
    if pid in names:
        return names[pid]
    start = peaks.first_seen[pid] - peaks.first_seen[peaks.root]
    lived = peaks.last_seen[pid] - peaks.first_seen[pid]
    return f"child, +{start:.1f} s for {lived:.1f} s"


def print_peaks(title: str, peaks: Peaks, names: dict[int, str]) -> None:
    print(f"\n== {title}: {peaks.samples} samples ==")
    print(f"{'process':34}{'peak PSS':>10}{'USS':>9}{'anon PSS':>10}{'file PSS':>10}{'RSS':>9}")
    for pid, peak in peaks.per_pid.items():
        print(
            f"{role(pid, peaks, names)[:33]:34}"
            + "".join(
                f"{peak.get(k, 0) / 1024:{w}.1f}"
                for k, w in (("Pss", 10), ("USS", 9), ("Pss_Anon", 10), ("Pss_File", 10))
            )
            + f"{peak.get('Rss', 0) / 1024:9.1f}"
        )
    shares = ", ".join(
        f"{role(pid, peaks, names)[:20]} {kb / 1024:.1f}" for pid, kb in peaks.at_tree_peak.items()
    )
    print(f"tree peak PSS {peaks.tree_pss / 1024:.1f} MB ({shares})")


def run_measured(
    argv: list[str], env: dict[str, str], *, signal_at: list[int], srv: object, report_dir: Path
) -> tuple[Peaks, dict[int, str], str]:
    """Run ``argv``, sampling its tree; SIGUSR1 its tree as each number of requests in
    ``signal_at`` is answered."""
    from crawl import spawn_into  # bench/crawl.py (not imported by the measured --child)

    with tempfile.TemporaryFile("w+") as out:
        pid = spawn_into(argv, env, out.fileno())
        sampler = Sampler(pid)
        names: dict[int, str] = {}
        for at in signal_at:
            while len(srv.requests) < at:  # type: ignore[attr-defined]
                if os.waitpid(pid, os.WNOHANG) != (0, 0):
                    raise SystemExit("the crawl ended before it was signalled")
                time.sleep(0.05)
            for member in tree_of(pid):
                os.kill(member, signal.SIGUSR1)
        _, status = os.waitpid(pid, 0)
        peaks = sampler.stop()
        out.seek(0)
        text = out.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv[:4]} failed:\n{text[-3000:]}")
    for path in report_dir.glob("*.txt"):
        first = path.read_text(encoding="utf-8").split("\n", 1)[0]
        if first.startswith("role "):
            names[int(path.stem.split("-")[0])] = first[5:]
    return peaks, names, text


# --- the child: the command line with a report on SIGUSR1 -----------------------------------


def _rollup_line(pid: int) -> str:
    values = smaps(pid)
    uss = values.get("Private_Clean", 0) + values.get("Private_Dirty", 0)
    shown = {"RSS": values.get("Rss", 0), "PSS": values.get("Pss", 0), "USS": uss}
    return ", ".join(f"{k} {v / 1024:.1f}" for k, v in shown.items())


def _sqlite_line() -> str:
    """SQLite's own count of the memory it holds (``sqlite3_memory_used``), when loaded."""
    import ctypes

    if "_sqlite3" not in sys.modules:
        return "not loaded"
    try:
        lib = ctypes.CDLL("libsqlite3.so.0")
        lib.sqlite3_memory_used.restype = ctypes.c_int64
        lib.sqlite3_memory_highwater.restype = ctypes.c_int64
        used, high = lib.sqlite3_memory_used(), lib.sqlite3_memory_highwater(0)
    except (OSError, AttributeError):
        return "unavailable"
    return f"in use {used / 2**20:.1f}, high-water {high / 2**20:.1f}"


def _mallinfo_line() -> str:
    """glibc's ``mallinfo2``: the C heap's arena, what is in use, and free space it holds."""
    import ctypes

    class MallInfo2(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_size_t)
            for name in [
                "arena",
                "ordblks",
                "smblks",
                "hblks",
                "hblkhd",
                "usmblks",
                "fsmblks",
                "uordblks",
                "fordblks",
                "keepcost",
            ]
        ]

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = MallInfo2
        info = libc.mallinfo2()
    except (OSError, AttributeError):
        return "unavailable"
    mb = 2**20
    return (
        f"arena {info.arena / mb:.1f}, in use {info.uordblks / mb:.1f}, "
        f"free {info.fordblks / mb:.1f}, mmapped {info.hblkhd / mb:.1f}"
    )


def child_main(report_dir: str, argv: list[str]) -> None:
    import atexit
    import gc
    import tracemalloc

    crawl_pid = os.getpid()

    def report(tag: str) -> None:
        me = os.getpid()
        name = "crawl process" if me == crawl_pid else "worker or child"
        modules = sorted(sys.modules)
        lines = [f"role {name}", f"pid {me} {tag}", f"modules {len(modules)}"]
        counts: dict[str, int] = {}
        for obj in gc.get_objects():
            counts[type(obj).__name__] = counts.get(type(obj).__name__, 0) + 1
        top_types = sorted(counts.items(), key=lambda kv: -kv[1])[:15]
        lines.append(f"smaps_rollup (MB): {_rollup_line(me)}")
        lines.append(f"malloc (MB): {_mallinfo_line()}")
        lines.append(f"sqlite (MB): {_sqlite_line()}")
        lines.append("gc objects by type: " + ", ".join(f"{k} {v}" for k, v in top_types))
        if tracemalloc.is_tracing():
            snap = tracemalloc.take_snapshot().filter_traces(
                [tracemalloc.Filter(False, tracemalloc.__file__)]
            )
            current, peak = tracemalloc.get_traced_memory()
            lines.append(f"traced {current / 2**20:.1f} MB, peak {peak / 2**20:.1f} MB")
            for kind in ("filename", "lineno"):
                lines.append(f"-- top by {kind}")
                for stat in snap.statistics(kind)[:25]:
                    frame = stat.traceback[0]
                    lines.append(
                        f"{stat.size / 1024:9.0f} kB {stat.count:7d}  "
                        f"{frame.filename.split('site-packages/')[-1]}:{frame.lineno}"
                    )
        lines.append("-- modules")
        lines.extend(modules)
        path = Path(report_dir) / f"{me}-{tag}.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    count = iter(range(1, 100))
    signal.signal(signal.SIGUSR1, lambda *_: report(f"at-{next(count)}"))
    atexit.register(lambda: report("end") if os.getpid() == crawl_pid else None)
    sys.argv = ["govwatch", *argv]
    from scheduler.cli import run

    run()


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child_main(sys.argv[2], sys.argv[3:])
        return 0
    from crawl import (  # bench/crawl.py
        BARE_SPIDER,
        PATTERN,
        build_site,
        child_env,
        compile_bytecode,
        write_config,
    )

    from tests.sitesrv import SiteServer

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--site", choices=["distinct", "copies"], default="distinct")
    parser.add_argument("--trace", action="store_true", help="tracemalloc reports (see above)")
    parser.add_argument(
        "--report", action="store_true", help="the reports of --trace without tracemalloc"
    )
    parser.add_argument("--no-bare", action="store_true", help="skip the bare spider")
    parser.add_argument("--keep", help="write the reports to this directory")
    args = parser.parse_args()
    compile_bytecode()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    site = build_site(args.site, args.pages)
    env = child_env()
    with tempfile.TemporaryDirectory() as tmp, SiteServer(site.pages) as srv:
        work = Path(tmp)
        reports = Path(args.keep) if args.keep else work / "reports"
        reports.mkdir(parents=True, exist_ok=True)
        start = srv.url(site.start_path)
        lists = len(site.list_paths) + 1
        config = write_config(work, start, f"sqlite:///{work / 'gw.db'}", lists, None)
        argv = [sys.executable]
        if args.trace:
            argv += ["-X", "tracemalloc=1"]
        argv += [str(Path(__file__).resolve()), "--child", str(reports)]
        argv += ["--config", str(config), "--log-level", "INFO", "crawl", "bench"]
        srv.clear_log()
        signal_at = [args.pages * k // 10 for k in (1, 5, 9)] if args.trace or args.report else []
        peaks, names, text = run_measured(
            argv, env, signal_at=signal_at, srv=srv, report_dir=reports
        )
        summary = [line for line in text.splitlines() if line.startswith("bench:")]
        print("\n".join(summary[-1:]))
        print_peaks(f"govwatch crawl, {args.pages} {args.site} pages, SQLite", peaks, names)
        if not args.no_bare:
            srv.clear_log()
            bare = [sys.executable, str(BARE_SPIDER), start, str(lists), PATTERN]
            peaks, names, _ = run_measured(bare, env, signal_at=[], srv=srv, report_dir=work)
            print_peaks("bare Scrapy spider", peaks, names)
        if args.trace or args.report:
            for path in sorted(reports.glob("*.txt")):
                print(f"\n---- {path.name}")
                text = path.read_text(encoding="utf-8")
                print(text.split("\n-- modules\n", 1)[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
