"""``/metrics``: the hand-written exposition (main at eaa9a15) against prometheus_client.

Both render the service's whole page from one SQLite database of ``--sites`` sites with runs,
articles and missed runs, alternating old and new ``--rounds`` times; figures are CPU time
per scrape (``time.process_time``, less noisy than wall time on a shared machine).  Then the
CPU time of a fresh process importing each module (whole processes: what ``govwatch run``
pays once).

    .venv/bin/python bench/metrics.py [--sites 40] [--rounds 200]
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from storage import migrate, repository  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.records import RunTotals, SiteInfo  # noqa: E402

BASE = "eaa9a15"


def old_module(tmp: Path) -> tuple[ModuleType, Path]:
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{BASE}:scheduler/metrics.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = tmp / "old_metrics.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("old_metrics", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_metrics"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module, path


def fill(db: Database, sites: int) -> None:
    with db.session() as s:
        ids = repository.sync_sites(s, [SiteInfo(f"site{n}", f"站点{n}") for n in range(sites)])
        for n, site_id in enumerate(ids.values()):
            for outcome in ("succeeded", "failed", "warning", "blocked"):
                run = repository.start_run(s, site_id)
                message = "captcha page" if outcome == "blocked" else outcome
                totals = RunTotals(articles_found=3, articles_new=n % 5)
                repository.finish_run(s, run, totals, outcome=outcome, message=message)
            repository.record_missed(
                s,
                f"crawl:site{n}",
                reason="overlap",
                message="busy",
                scheduled_at=repository.utcnow(),
            )


def import_seconds(code: str, rounds: int = 5) -> float:
    """CPU seconds (user + system) of a whole ``python -c code`` process, median."""
    times = []
    for _ in range(rounds):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    from scheduler import metrics as new

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        old, old_path = old_module(tmp)
        db = Database(f"sqlite:///{tmp / 'm.db'}")
        migrate.upgrade(db)
        fill(db, args.sites)
        kwargs = {"leader": True, "started_at": 1.7e9, "running": ("crawl:site1", "links")}
        cpu: dict[str, list[float]] = {"hand-written (eaa9a15)": [], "prometheus_client": []}
        sizes = {}
        for _ in range(args.rounds):
            for name, module in (("hand-written (eaa9a15)", old), ("prometheus_client", new)):
                start = time.process_time()
                text = module.service_text(db, **kwargs)
                cpu[name].append(time.process_time() - start)
                sizes[name] = len(text)
        db.dispose()
        print(f"/metrics of {args.sites} sites, {args.rounds} scrapes each, alternating")
        print(f"{'':24} {'CPU ms/scrape (median)':>24} {'mean':>8} {'bytes':>7}")
        for name, values in cpu.items():
            print(
                f"{name:24} {statistics.median(values) * 1000:24.2f} "
                f"{statistics.mean(values) * 1000:8.2f} {sizes[name]:7}"
            )
        load_old = (
            "import importlib.util as u, sys; "
            f"s = u.spec_from_file_location('m', {str(old_path)!r}); "
            "m = sys.modules['m'] = u.module_from_spec(s); s.loader.exec_module(m)"
        )
        base = import_seconds("import storage.database, crawler.guards.blocking")
        print(
            "\nimport in a fresh process, median of 5 (CPU s; "
            f"storage + crawler.guards.blocking alone: {base:.3f})"
        )
        print(f"{'hand-written (eaa9a15)':24} {import_seconds(load_old):.3f}")
        print(f"{'prometheus_client':24} {import_seconds('import scheduler.metrics'):.3f}")


if __name__ == "__main__":
    main()
