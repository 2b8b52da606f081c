"""``govwatch``: the command line.  Thin: parse, set up logging, call a command, map errors.

Exit status: 0 success; 1 a command ran but something failed (a crawl run, the database);
2 bad configuration or bad command-line input.  Users see one line, never a traceback.

Start-up: this module imports nothing heavy, so ``govwatch --help`` (and a usage error)
answers at once; the configuration and the commands (SQLAlchemy, Scrapy, numpy …) are
imported once the arguments are parsed, each command importing only what it uses
(``tests/test_startup.py`` holds this).
"""

from __future__ import annotations

import argparse
import atexit
import gc
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from crawler.linkcheck.records import LINK_STATUSES
from scheduler.logs import setup_logging
from storage.errors import ConfigError, GovwatchError, UsageError
from storage.queue_records import QUEUE_NAMES

log = logging.getLogger(__name__)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit status 2)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="govwatch",
        description="Crawl and monitor Chinese disciplinary-commission and news sites.",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="config file (default: $GOVWATCH_CONFIG, else ./govwatch.toml, else built-in)",
    )
    parser.add_argument(
        "--log-level",
        default=None,
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level on stderr (default: WARNING; INFO for run)",
    )
    parser.add_argument(
        "--log-format", default="text", choices=["text", "json"], help="log line format"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="same as --log-level INFO")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    sub.add_parser("init", help="create or upgrade the database schema")
    check = sub.add_parser("check-config", help="validate the config and print it (secrets masked)")
    check.add_argument(
        "--strict",
        action="store_true",
        help="exit 2 when a *_env setting names an environment variable that is not set "
        "(default: a warning)",
    )

    crawl = sub.add_parser("crawl", help="crawl sites once, now")
    crawl.add_argument("sites", nargs="*", metavar="SITE", help="site names from the config")
    crawl.add_argument("--all", action="store_true", help="every enabled site")

    articles = sub.add_parser("articles", help="list stored articles")
    articles.add_argument("--site", help="only this site")
    articles.add_argument(
        "--since",
        metavar="DATE",
        help="published on or after: YYYY-MM-DD (Beijing time), an ISO time, or 7d / 12h ago",
    )
    articles.add_argument(
        "--search",
        metavar="TEXT",
        help="words that must all appear in the title or body (indexed; Chinese words of any "
        "length); title hits first, then newest",
    )
    articles.add_argument("--limit", type=_positive_int, default=50, help="at most N (default 50)")
    articles.add_argument(
        "--duplicates",
        choices=["hide", "show", "only"],
        default="hide",
        help="copies of a story stored earlier from another page: hide them (default, one "
        "entry per story), show them too, or show only them",
    )
    articles.add_argument(
        "--format", choices=["table", "json", "csv"], default="table", help="output format"
    )

    show = sub.add_parser("show", help="show one article in full")
    show.add_argument("id", type=_count(MAX_ID), metavar="ID")
    show.add_argument("--format", choices=["text", "json"], default="text")

    sub.add_parser("sites", help="configured sites with article counts and the last run")

    run = sub.add_parser("run", help="the background service: crawl every site on its schedule")
    run.add_argument(
        "--http",
        metavar="HOST:PORT",
        help="serve /healthz, /metrics and the web view there (default: [service] "
        "http_listen, else off)",
    )
    serve = sub.add_parser(
        "serve", help="the read-only web view: articles, dead links, sites, digests, Atom feeds"
    )
    serve.add_argument(
        "--bind",
        metavar="HOST:PORT",
        help="where to listen (default: [web] bind, 127.0.0.1:8080; port 0: any free port)",
    )
    worker = sub.add_parser(
        "worker",
        help='run the jobs govwatch run defers ([queue] backend = "procrastinate")',
    )
    worker.add_argument(
        "--concurrency",
        type=_count(100),
        metavar="N",
        help="jobs run at once (default: [queue] concurrency)",
    )
    worker.add_argument(
        "--queues",
        type=_queues,
        metavar="Q,Q",
        help="queues to take jobs from: crawl, links, digest (default: [queue] queues)",
    )
    status = sub.add_parser("status", help="the service, each site's last and next run, warnings")
    status.add_argument("--format", choices=["text", "json"], default="text")

    check_links = sub.add_parser("check-links", help="check the links that are due, now")
    check_links.add_argument("--site", help="only links found on this site's pages")
    check_links.add_argument("--limit", type=_positive_int, help="at most N links")
    links = sub.add_parser("links", help="list links found on crawled pages, by status")
    links.add_argument(
        "--status",
        choices=["broken", *LINK_STATUSES, "all"],
        default="broken",
        help="which links (default broken: dead and soft_404)",
    )
    links.add_argument("--site", help="only links found on this site's pages")
    links.add_argument("--limit", type=_positive_int, default=200, help="at most N (default 200)")
    links.add_argument(
        "--format", choices=["table", "json", "csv"], default="table", help="output format"
    )

    digest = sub.add_parser(
        "digest", help="a digest now: print it (--dry-run), write it (--preview), send it"
    )
    digest.add_argument("name", nargs="?", metavar="NAME", help="a [[digests]] name")
    digest.add_argument(
        "--dry-run", action="store_true", help="print what would be sent; records nothing"
    )
    digest.add_argument(
        "--format", choices=["text", "html", "json"], help="with --dry-run (default text)"
    )
    digest.add_argument("--send", action="store_true", help="build it and send it now")
    digest.add_argument("--preview", metavar="FILE.html", help="write its HTML to FILE")
    digest.add_argument(
        "--status", action="store_true", help="its recent digests and their deliveries"
    )
    digest.add_argument(
        "--due",
        action="store_true",
        help="build the digests whose schedule has come and send every delivery that is due "
        "(retries too); what the service runs every minute",
    )

    extract = sub.add_parser(
        "extract", help="extract articles from saved files or URLs and print them (offline)"
    )
    extract.add_argument("inputs", nargs="+", metavar="FILE_OR_URL")
    extract.add_argument(
        "--url", help="the page's address, for a saved file (URL dates, relative links)"
    )
    extract.add_argument("--site", help="use this configured site's selectors")
    extract.add_argument("--format", choices=["json", "text"], default="json")
    return parser


MAX_LIMIT = 1_000_000  # --limit: rows listed or links checked at most
MAX_ID = 2**63 - 1  # article ids are 64-bit integers


def _count(maximum: int) -> Callable[[str], int]:
    """An argparse type: a whole number from 1 to ``maximum``."""

    def parse(text: str) -> int:
        stripped = text.strip()
        if not stripped.isdigit() or not stripped.isascii() or len(stripped) > 30:
            raise argparse.ArgumentTypeError(f"not a whole number: {text[:40]!r}")
        value = int(stripped)
        if not 0 < value <= maximum:
            raise argparse.ArgumentTypeError(f"must be from 1 to {maximum}: {text[:40]!r}")
        return value

    return parse


_positive_int = _count(MAX_LIMIT)


def _queues(text: str) -> tuple[str, ...]:
    """An argparse type: a comma-separated list of queue names."""
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    bad = [n for n in names if n not in QUEUE_NAMES]
    if not names or bad:
        shown = bad[0][:40] if bad else text[:40]
        raise argparse.ArgumentTypeError(
            f"not a queue: {shown!r} (queues: {', '.join(QUEUE_NAMES)})"
        )
    return names


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        return _fail(exc, 2)
    service = args.command in ("run", "worker")
    level = args.log_level or ("INFO" if args.verbose or service else "WARNING")
    setup_logging(level, args.log_format)
    try:
        from scheduler import commands
        from scheduler.config import load_config

        config = load_config(args.config)
        return commands.run(args, config)
    except (ConfigError, UsageError) as exc:
        return _fail(exc, 2)
    except GovwatchError as exc:
        return _fail(exc, 1)
    except KeyboardInterrupt:
        print("govwatch: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line for users, the traceback in the debug log
        log.debug("unexpected error", exc_info=True)
        print(
            f"govwatch: internal error: {type(exc).__name__}: {exc} "
            "(run with --log-level DEBUG for the traceback)",
            file=sys.stderr,
        )
        return 1


_exit_status = 1  # what the process exits with if main() never returns


def run() -> NoReturn:
    """The ``govwatch`` executable (and ``python -m scheduler``): :func:`main`, then exit
    without tearing the interpreter's heap down.

    A crawl process's teardown, freeing every object one by one, took 0.3-0.9 s: a fifth of
    a 300-page crawl's whole process.  Every exit handler still runs (multiprocessing's and
    the thread pools' clean-up, registered later, run earlier); logging and the standard
    streams are flushed; only the freeing of memory the process hands back anyway is skipped.
    """
    global _exit_status
    # No collector during start-up: imports build hundreds of thousands of objects, all kept
    # for the process's life, and the collector's passes over them (~0.1 s of a crawl's
    # start) find nothing.  The command turns it back on once started (commands.run; a
    # crawl once Scrapy is set up, crawler.runner), with the start-up's objects frozen.
    gc.disable()
    # numpy's OpenBLAS starts a thread per core on import, which then took ~5 % of an
    # extraction worker's CPU beside it; govwatch multiplies no matrices (an operator's own
    # setting is kept).  Set here, before any process of the command imports numpy.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    atexit.register(_end_process)  # registered first, so it runs after every other handler
    try:
        _exit_status = main()
    except SystemExit as exc:  # argparse's --help
        code = exc.code
        _exit_status = code if isinstance(code, int) else (0 if code is None else 1)
        raise
    except KeyboardInterrupt:  # before main() could catch it
        _exit_status = 130
        raise
    sys.exit(_exit_status)


def _end_process() -> None:
    status = _exit_status
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        if stream is None:  # its descriptor was closed when the process started
            continue
        try:
            stream.flush()
        except BrokenPipeError:  # a reader that stopped early (`| head -1`)
            pass
        except OSError:  # output lost (a full disk): not a success, as CPython's 120
            status = status or 120
        except ValueError:  # closed
            pass
    os._exit(status)


def _fail(exc: BaseException, status: int) -> int:
    print(f"govwatch: error: {exc}", file=sys.stderr)
    return status


if __name__ == "__main__":
    run()
