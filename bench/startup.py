#!/usr/bin/env python3
"""What the quick commands cost as whole processes: ``python -c pass``, ``govwatch --help``,
``check-config``, ``status`` (SQLite and PostgreSQL) and ``articles``, alternating, N runs.

Usage (from the repository root):

    .venv/bin/python bench/startup.py [--runs N] [--postgres URL] [--compare DIR]

Each command is the installed ``govwatch`` console script (interpreter start-up and exit
included), with a configuration as a user's would be: the built-in sites (with their
selectors: lxml checks them) and a digest on the default cron schedule (APScheduler parses
it).  The databases hold some data: per site 100 finished crawl runs and 100 articles, a
service instance, its jobs, missed runs and digest deliveries.  With ``--postgres`` a schema
is created for the run and dropped after it.  Prints the median and best wall time and the
median CPU time (user + sys of the process, by ``os.wait4``) per command, the load average,
and whether ``status`` meets its target of 0.3 s (wall, median) on each database.  With
``--compare DIR`` (another version's source tree, e.g. ``git archive session-start-1201 | tar
-x -C DIR``) its ``status`` runs too, as ``python -m scheduler`` in DIR, beside this tree's
run the same way: the alternative, measured under the same load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import text  # noqa: E402

from storage import repository  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.records import RunTotals  # noqa: E402
from tests.digest_helpers import add_article  # noqa: E402

TARGET_SECONDS = 0.3


def write_config(path: Path, url: str) -> None:
    path.write_text(
        f"""
[database]
url = "{url}"

[[digests]]
name = "daily"
[[digests.channels]]
type = "webhook"
url = "http://127.0.0.1:9/hook"
""",
        encoding="utf-8",
    )


def govwatch() -> list[str]:
    script = Path(sys.executable).parent / "govwatch"
    return [str(script)] if script.exists() else [sys.executable, "-m", "scheduler"]


def fill(url: str, config: Path, env: dict[str, str]) -> None:
    """Create the schema (``govwatch init``) and store some history."""
    subprocess.run([*govwatch(), "--config", str(config), "init"], env=env, check=True)
    db = Database(url)
    now = datetime.now(UTC)
    with db.session() as s:
        site_ids = {name: id_ for name, id_ in s.execute(text("SELECT name, id FROM sites"))}
    n = 0
    for site_id in site_ids.values():
        with db.session() as s:
            for k in range(100):
                run = repository.start_run(s, site_id, pid=1, host="bench")
                totals = RunTotals(list_pages=3, article_pages=20, articles_found=20)
                outcome = "failed" if k % 10 == 9 else "succeeded"
                repository.finish_run(s, run, totals, outcome=outcome)
        for _ in range(100):
            n += 1
            add_article(db, site_id, n)
    with db.session() as s:
        instance = repository.start_instance(s, host="bench", pid=1)
        repository.stop_instance(s, instance)
        repository.sync_jobs(s, [("links", "every 1h"), ("digest:daily", "0 8 * * *")])
        for k in range(20):
            repository.record_missed(
                s,
                "links",
                reason="misfire",
                message="bench",
                scheduled_at=now - timedelta(minutes=k),
            )
    db.dispose()


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one process; ``argv[0]`` may be ``@DIR``: run it in DIR."""
    cwd = None
    if argv[0].startswith("@"):
        cwd, argv = argv[0][1:], argv[1:]
    began = time.perf_counter()
    child = subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - began
    assert child.stderr is not None
    err = child.stderr.read().decode(errors="replace")
    child.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {err.strip()}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each command")
    parser.add_argument("--postgres", help="e.g. postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--compare", type=Path, help="another version's source tree")
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVWATCH_")}
    with tempfile.TemporaryDirectory(prefix="govwatch-startup-") as tmp:
        work = Path(tmp)
        sqlite_config = work / "sqlite.toml"
        write_config(sqlite_config, f"sqlite:///{work / 'gw.db'}")
        fill(f"sqlite:///{work / 'gw.db'}", sqlite_config, env)
        cases: list[tuple[str, list[str]]] = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("govwatch --help", [*govwatch(), "--help"]),
            (
                "govwatch check-config",
                [*govwatch(), "--config", str(sqlite_config), "check-config"],
            ),
            ("govwatch status (SQLite)", [*govwatch(), "--config", str(sqlite_config), "status"]),
            (
                "govwatch articles --limit 20 (SQLite)",
                [*govwatch(), "--config", str(sqlite_config), "articles", "--limit", "20"],
            ),
        ]
        schema = None
        admin = None
        if args.postgres:
            schema = f"bench_startup_{uuid.uuid4().hex[:8]}"
            admin = Database(args.postgres)
            with admin.engine.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA {schema}"))
            base = args.postgres.replace("postgresql://", "postgresql+psycopg://", 1)
            pg_url = f"{base}?options=-csearch_path%3D{schema}"
            pg_config = work / "pg.toml"
            write_config(pg_config, pg_url)
            fill(pg_url, pg_config, env)
            cases.append(
                (
                    "govwatch status (PostgreSQL)",
                    [*govwatch(), "--config", str(pg_config), "status"],
                )
            )
        if args.compare:
            statuses = [(n, a) for n, a in cases if n.startswith("govwatch status")]
            for label, tree in (("this tree", REPO), ("compared", args.compare.resolve())):
                for name, argv in statuses:
                    module = [sys.executable, "-m", "scheduler", *argv[-3:]]
                    cases.append((f"{name} -m, {label}", ["@" + str(tree), *module]))
        try:
            results: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n, _ in cases}
            load_before = os.getloadavg()
            for _ in range(args.runs):
                for name, argv in cases:
                    wall, cpu = measure(argv, env)
                    results[name][0].append(wall)
                    results[name][1].append(cpu)
            load_after = os.getloadavg()
        finally:
            if admin is not None:
                with admin.engine.begin() as conn:
                    conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
                admin.dispose()

    print(f"{args.runs} runs of each command, alternating; seconds")
    print(f"{'command':50} {'wall median':>11} {'wall best':>9} {'CPU median':>10}")
    for name, _ in cases:
        walls, cpus = results[name]
        print(
            f"{name:50} {statistics.median(walls):>11.3f} {min(walls):>9.3f} "
            f"{statistics.median(cpus):>10.3f}"
        )
    print(
        "load average (1, 5, 15 min) before: "
        + ", ".join(f"{x:.2f}" for x in load_before)
        + "; after: "
        + ", ".join(f"{x:.2f}" for x in load_after)
    )
    verdicts = []
    for name, _ in cases:
        if name.startswith("govwatch status") and name.endswith(")"):
            median = statistics.median(results[name][0])
            verdict = "PASS" if median <= TARGET_SECONDS else "FAIL"
            verdicts.append(verdict)
            print(f"{verdict}: {name} {median:.3f} s (target ≤ {TARGET_SECONDS} s, wall median)")
    return 0 if all(v == "PASS" for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
