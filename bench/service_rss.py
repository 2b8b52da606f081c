#!/usr/bin/env python3
"""The service's memory with digests sent in-process: run ``govwatch run`` for N digest cycles
and print its RSS at the start, every 30 cycles and at the end (target: flat after warm-up).

Usage (from the repository root):

    .venv/bin/python bench/service_rss.py [--cycles N] [--digests K] [--database-url URL]

A cycle is one digest delivered (a delivery row ``delivered``).  The only jobs are K digests
``every 1s`` (``[service] min_schedule_seconds = 1``) sent by email to a local SMTP server
(aiosmtpd, as the tests use); a new article is stored every 10 cycles, so digests carry
articles now and then and are otherwise empty (``skip_empty`` off: sent anyway).  No site is
crawled and the link check waits for 1 January, so the service should start no process at all:
the bench counts the child processes it sees.  For comparison it also times one
``govwatch digest NAME --due`` process, what the service used to start every minute per digest.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.soak import children, count_rows, open_fds, proc_status  # noqa: E402
from storage.database import Database  # noqa: E402
from tests.digest_helpers import SmtpServer, add_article, add_site  # noqa: E402

WARM_UP = 30  # cycles before the memory is expected to level off
FLAT_MB = 0.5  # "flat": the RSS grows at most this much after the warm-up, over 300 cycles


def write_config(workdir: Path, url: str, smtp_port: int, digests: int) -> Path:
    blocks = [
        f"""
[[digests]]
name = "d{k}"
schedule = "every 1s"
[[digests.channels]]
type = "email"
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from = "govwatch <gw@example.org>"
to = ["a@example.org"]
"""
        for k in range(digests)
    ]
    path = workdir / "service_rss.toml"
    path.write_text(
        f"""
[database]
url = "{url}"

[service]
min_schedule_seconds = 1
jitter_seconds = 0
heartbeat_seconds = 1

[links]
schedule = "0 0 1 1 *"

[[sites]]
name = "ccdi"
start_urls = ["http://127.0.0.1:9/"]
article_url_pattern = 'a/\\d+'
enabled = false
{"".join(blocks)}""",
        encoding="utf-8",
    )
    return path


def delivered(db: Database) -> int:
    return count_rows(db, "SELECT count(*) FROM digest_deliveries WHERE state = 'delivered'")


def one_due_process(config: Path, env: dict[str, str]) -> tuple[float, float, int]:
    """Wall seconds and peak RSS (MB) of one ``govwatch digest d0 --due`` process."""
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "scheduler", "--config", str(config), "digest", "d0", "--due"],
        env=env,
        cwd=REPO,
        capture_output=True,
        check=False,
    )
    took = time.monotonic() - began
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return took, peak, done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=300, help="digests delivered to wait for")
    parser.add_argument("--digests", type=int, default=2, help="digest subscriptions")
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary directory")
    parser.add_argument(
        "--heaptrack",
        metavar="FILE",
        help="run the service under heaptrack, its record written to FILE (.zst added); "
        "the RSS is then the profiled process's, inflated by heaptrack",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="govwatch-rss-") as tmp, SmtpServer() as smtp:
        workdir = Path(tmp)
        url = args.database_url or f"sqlite:///{workdir / 'rss.db'}"
        config = write_config(workdir, url, smtp.port, args.digests)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOVWATCH_")}
        env["GOVWATCH_DATABASE_URL"] = url
        init = subprocess.run(
            [sys.executable, "-m", "scheduler", "--config", str(config), "init"],
            env=env,
            cwd=REPO,
            capture_output=True,
            check=False,
        )
        if init.returncode != 0:
            print(init.stderr.decode())
            return 1
        db = Database(url)
        site = add_site(db, "ccdi", "中央纪委国家监委网站")
        number = 1
        add_article(db, site, number)
        took, peak, status = one_due_process(config, env)
        print(
            f"one `govwatch digest d0 --due` process: {took:.2f} s, peak RSS {peak:.1f} MB "
            f"(exit status {status})"
        )
        log = (workdir / "service.log").open("wb")
        wrap = ["heaptrack", "-o", args.heaptrack] if args.heaptrack else []
        service = subprocess.Popen(
            [*wrap, sys.executable, "-m", "scheduler", "--config", str(config), "run"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=env,
            cwd=REPO,
        )
        print(f"service pid {service.pid}, {args.digests} digest(s) every 1s, {args.cycles} cycles")
        print(f"{'cycles':>6} {'seconds':>8} {'RSS MB':>8} {'HWM MB':>8} {'threads':>7} {'fds':>5}")
        started = time.monotonic()
        reported: int | None = None  # cycles at the last sample; None: none yet
        seen_children: set[int] = set()
        samples: list[tuple[int, float]] = []
        try:
            while reported is None or reported < args.cycles:
                if service.poll() is not None:
                    print(f"the service exited with status {service.returncode}; see its log:")
                    print((workdir / "service.log").read_text()[-3000:])
                    return 1
                seen_children.update(children(service.pid))
                done = delivered(db)
                if done >= number * 10:
                    number += 1
                    add_article(db, site, number)
                while done >= 1 and (
                    reported is None or (reported + 30 <= done and reported < args.cycles)
                ):
                    reported = done if reported is None else reported + 30
                    status_now = proc_status(service.pid)
                    rss_mb = status_now.get("VmRSS", 0) / 1024
                    samples.append((reported, rss_mb))
                    print(
                        f"{reported:>6} {time.monotonic() - started:>8.0f} {rss_mb:>8.1f} "
                        f"{status_now.get('VmHWM', 0) / 1024:>8.1f} "
                        f"{status_now.get('Threads', 0):>7} {open_fds(service.pid):>5}",
                        flush=True,
                    )
                time.sleep(0.1)
        finally:
            if args.heaptrack:  # the service is heaptrack's child (beside its interpreter)
                for child in children(service.pid):
                    if b"scheduler" in Path(f"/proc/{child}/cmdline").read_bytes():
                        os.kill(child, signal.SIGTERM)
            else:
                service.send_signal(signal.SIGTERM)
            try:
                service.wait(timeout=60)
            except subprocess.TimeoutExpired:
                service.kill()
            log.close()
            db.dispose()
        after = [rss for cycles, rss in samples if cycles >= WARM_UP]
        print(
            f"RSS at the first digest (cycle {samples[0][0]}): {samples[0][1]:.1f} MB; after "
            f"warm-up ({WARM_UP} cycles): {after[0]:.1f} MB; at the end ({samples[-1][0]} cycles): "
            f"{samples[-1][1]:.1f} MB; min {min(after):.1f}, max {max(after):.1f}"
        )
        growth = samples[-1][1] - after[0]
        span = samples[-1][0] - WARM_UP
        allowed = FLAT_MB * span / 300
        verdict = "PASS" if growth <= allowed else "FAIL"
        print(
            f"{verdict}: RSS grew {growth:+.2f} MB over the {span} cycles after the warm-up "
            f"({100 * growth / max(span, 1):+.2f} MB per 100 cycles); flat means at most "
            f"{FLAT_MB} MB per 300 cycles ({allowed:.2f} MB here)"
        )
        print(
            f"{len(smtp.messages)} emails received; child processes of the service seen: "
            f"{len(seen_children)}; service exit status {service.returncode}"
        )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
