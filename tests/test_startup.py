"""Start-up: each command imports only what it uses (the import graph, not a stopwatch).

``govwatch --help`` must not import the database layer, Scrapy or numpy; ``status`` and
``check-config`` must not import Scrapy, Twisted, numpy or Alembic (a database already at
the newest schema is recognised without Alembic).  Each case runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from storage import migrate
from storage.database import Database
from storage.errors import SchemaError
from tests.conftest import run_code

REPO = Path(__file__).resolve().parents[1]
CRAWL_ONLY = {"scrapy", "twisted", "numpy", "alembic"}
DATABASE = {"sqlalchemy", "psycopg", "psycopg2"}
DIGEST_ONLY = {"jinja2", "apscheduler.schedulers", "aiohttp"}

# runs govwatch's main() with the arguments given, then prints the modules it imported
_PROBE = """
import contextlib, io, json, sys
from scheduler.cli import main
out = io.StringIO()
try:
    with contextlib.redirect_stdout(out):
        status = main(sys.argv[1:])
except SystemExit as exc:  # --help
    status = exc.code
print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""


def imported_by(*argv: str) -> tuple[int, set[str]]:
    """The exit status and the modules a ``govwatch`` command imported, in a fresh process."""
    probe, _ = run_probe(_PROBE, *argv)
    return probe["status"], set(probe["modules"])


def run_probe(script: str, *argv: str) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    """Run a probe ``script`` with ``argv`` in a fresh process: the JSON object it printed
    last, and the process."""
    result = run_code(script, *argv)
    result.check_returncode()
    return json.loads(result.stdout.strip().splitlines()[-1]), result


def loaded(modules: set[str], packages: set[str]) -> set[str]:
    """Which of ``packages`` (or their submodules) are among ``modules``."""
    return {p for p in packages if any(m == p or m.startswith(p + ".") for m in modules)}


def test_help_imports_neither_the_database_nor_the_crawler() -> None:
    status, modules = imported_by("--help")
    assert status == 0
    assert "scheduler.cli" in modules  # the probe did run the command line
    assert loaded(modules, CRAWL_ONLY | DATABASE | DIGEST_ONLY) == set()
    assert loaded(modules, {"scheduler.commands", "scheduler.config"}) == set()


def test_a_usage_error_imports_nothing_heavy() -> None:
    status, modules = imported_by("no-such-command")
    assert status == 2
    assert loaded(modules, CRAWL_ONLY | DATABASE) == set()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "govwatch.toml"
    path.write_text(
        f"""
[database]
url = "sqlite:///{tmp_path / "gw.db"}"

[[sites]]
name = "local"
start_urls = ["http://127.0.0.1:9/"]
article_url_pattern = 'content_\\d+'
""",
        encoding="utf-8",
    )
    return path


def test_status_on_a_current_database_imports_no_crawler_and_no_alembic(config: Path) -> None:
    status, modules = imported_by("--config", str(config), "init")
    assert status == 0
    assert "alembic" in modules  # creating the schema is Alembic's work
    status, modules = imported_by("--config", str(config), "status")
    assert status == 0
    assert "scheduler.status" in modules and "sqlalchemy" in modules
    assert loaded(modules, CRAWL_ONLY | DIGEST_ONLY) == set()
    # status reads with SQLAlchemy Core (storage.status_reads): no ORM, no models, and
    # neither APScheduler nor lxml for a configuration without cron schedules or selectors
    assert "storage.status_reads" in modules
    assert loaded(modules, STATUS_NEVER) == set()


STATUS_NEVER = {
    "sqlalchemy.orm",
    "storage.models",
    "storage.repository",
    "alembic",
    "apscheduler",
    "lxml",
    "crawler.extract.selectors",
}


def test_a_cron_schedule_or_a_selector_loads_what_checks_them(config: Path) -> None:
    with config.open("a", encoding="utf-8") as out:
        out.write('schedule = "0 8 * * *"\nlist_link_selector = "a.title"\n')
    status, modules = imported_by("--config", str(config), "check-config")
    assert status == 0
    assert {"apscheduler", "lxml"} <= loaded(modules, {"apscheduler", "lxml"})


def test_check_config_imports_no_crawler(config: Path) -> None:
    status, modules = imported_by("--config", str(config), "check-config")
    assert status == 0
    assert loaded(modules, CRAWL_ONLY | DIGEST_ONLY) == set()


def test_the_migration_files_heads_are_alembics() -> None:
    assert migrate.shipped_heads() == migrate.head_revisions()


def test_a_database_at_another_revision_is_left_to_alembic(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'gw.db'}")
    head = migrate.head_revision()
    assert migrate.upgrade(db) == (None, head)
    assert migrate.upgrade(db) == (head, head)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaError, match="newer than this govwatch knows"):
        migrate.upgrade(db)
    db.dispose()


def _govwatch(*argv: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    command = ["-m", "scheduler"] if code is None else ["-c", code]
    return subprocess.run(
        [sys.executable, *command, *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_executable_skips_teardown_but_keeps_status_output_and_exit_handlers() -> None:
    assert _govwatch("--help").returncode == 0
    assert _govwatch("no-such-command").returncode == 2
    # piped stdout is block-buffered: all of it arrives, as it does without run()
    skipped = _govwatch("check-config")
    kept = _govwatch(
        "check-config", code="import sys; from scheduler.cli import main; sys.exit(main())"
    )
    assert skipped.returncode == kept.returncode == 0
    assert skipped.stdout == kept.stdout and len(skipped.stdout) > 1000
    # an exit handler registered while the command runs (as multiprocessing's is) still runs
    late = _govwatch(
        code="import atexit, scheduler.cli as cli\n"
        "command = cli.main\n"
        "def main():\n"
        "    atexit.register(print, 'late handler ran')\n"
        "    return command(['no-such-command'])\n"
        "cli.main = main\n"
        "cli.run()\n"
    )
    assert late.returncode == 2
    assert late.stdout == "late handler ran\n"


def _modules_after(code: str) -> set[str]:
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    return set(json.loads(result.stdout))


def test_an_extraction_worker_imports_neither_twisted_nor_the_database() -> None:
    # a worker unpickles crawler.extraction's functions, and warms up: that is all it loads
    modules = _modules_after("import crawler.extraction\ncrawler.extraction.warm_up()")
    assert "crawler.extract.article" in modules and "numpy" in modules
    assert loaded(modules, {"twisted", "scrapy", "alembic"} | DATABASE) == set()


def test_the_crawl_process_leaves_extraction_and_numpy_to_its_worker() -> None:
    modules = _modules_after("import crawler.runner, crawler.pipeline, crawler.spider")
    assert "scrapy" in modules and "crawler.extraction" in modules
    assert (
        loaded(modules, {"numpy", "crawler.extract.article", "crawler.extract.fingerprint"})
        == set()
    )


_FORK_PROBE = """
import json, os, sys
from scheduler.cli import main
forked = []
real_fork = os.fork
def fork():  # what the process had imported when it forked each child
    modules = sorted(sys.modules)
    pid = real_fork()
    if pid:
        forked.append(modules)
    return pid
os.fork = fork
status = main(sys.argv[1:])
print(json.dumps({"status": status, "forked": forked, "modules": sorted(sys.modules)}))
"""


def test_the_crawl_forks_its_children_first_and_never_imports_the_database_layer(
    tmp_path: Path,
) -> None:
    # The database child and the extraction worker are forked from a process that has read
    # the configuration only: they start at once (not after SQLAlchemy's import), and the
    # worker holds no SQLAlchemy, Scrapy or Twisted pages, copied as the crawl process touches
    # them.
    from tests.sitegen_ccdi import build_ccdi_site
    from tests.sitesrv import SiteServer
    from tests.test_crawl import ccdi_config

    with SiteServer(build_ccdi_site(n_articles=2, per_page=5).pages) as srv:
        config = ccdi_config(tmp_path, srv, extra="extract_workers = 1")
        probe, result = run_probe(_FORK_PROBE, "--config", str(config), "crawl", "local")
    assert probe["status"] == 0, result.stderr[-2000:]
    # the worker did extract the articles
    assert re.search(r"([1-9]\d*) articles found, \1 new", result.stdout), result.stdout
    assert len(probe["forked"]) >= 2, probe  # the database child and the worker
    for modules in probe["forked"]:
        assert "scheduler.config" in modules  # the configuration was read first
        assert loaded(set(modules), DATABASE | {"scrapy", "twisted"}) == set()
    # the database child made every database call: the crawl process imported no database
    # layer at all, start to end
    assert "scrapy" in probe["modules"]
    assert loaded(set(probe["modules"]), DATABASE | {"storage.repository", "alembic"}) == set()


_COLLECTOR_PROBE = """
import gc, json, sys
import crawler.extraction, crawler.offload, scheduler.cli as cli, scheduler.commands as commands
from scrapy.crawler import CrawlerProcess

def say(where):  # one line per observation, from whichever process makes it
    print("GC " + json.dumps([where, gc.isenabled(), gc.get_freeze_count() > 0]), flush=True)

real_extract = crawler.extraction.extract_page
def extract_page(*args):
    say("worker")
    return real_extract(*args)
extract_page.__qualname__ = "extract_page"  # pickled by name for the worker
crawler.extraction.extract_page = crawler.offload.extract_page = extract_page
real_start = CrawlerProcess.start
def start(self, *args, **kwargs):
    say("crawl")
    return real_start(self, *args, **kwargs)
CrawlerProcess.start = start
real_check = commands.COMMANDS["check-config"]
def check(*args):
    say("check-config")
    return real_check(*args)
commands.COMMANDS["check-config"] = check
say("start-up")
cli.run()
"""


def test_the_collector_is_off_while_a_command_starts_and_on_while_it_works(
    tmp_path: Path,
) -> None:
    # Start-up's objects live as long as the process: the collector's passes over them found
    # nothing (~0.1 s of a crawl).  It is off until the command is set up, then on, with what
    # start-up built frozen; the crawl's extraction worker, forked meanwhile, collects too.
    from tests.sitegen_ccdi import build_ccdi_site
    from tests.sitesrv import SiteServer
    from tests.test_crawl import ccdi_config

    def observed(*argv: str) -> dict[str, tuple[bool, bool]]:
        result = run_code(_COLLECTOR_PROBE, *argv)
        assert result.returncode == 0, result.stderr[-2000:]
        seen = [json.loads(line[3:]) for line in result.stdout.splitlines() if line[:3] == "GC "]
        return {where: (enabled, frozen) for where, enabled, frozen in seen}

    with SiteServer(build_ccdi_site(n_articles=2, per_page=5).pages) as srv:
        config = ccdi_config(tmp_path, srv, extra="extract_workers = 1")
        crawl = observed("--config", str(config), "crawl", "local")
    assert crawl["start-up"] == (True, False)  # before cli.run(): the interpreter's default
    assert crawl["crawl"] == (True, True)  # Scrapy set up: on, start-up frozen
    assert crawl["worker"][0] is True
    assert observed("--config", str(config), "check-config")["check-config"] == (True, True)


def test_creating_a_database_imports_no_orm(tmp_path: Path) -> None:
    # what the crawl's database child does beside the crawl's start: every migration, with
    # SQLAlchemy Core and Alembic only (the models and the repository took longer to import
    # than the migrations took to run)
    modules = _modules_after(
        "from storage import migrate\n"
        "from storage.database import Database\n"
        f"db = Database('sqlite:///{tmp_path / 'new.db'}')\n"
        "assert migrate.upgrade(db)[0] is None\n"
    )
    assert "alembic" in modules and "storage.search_build" in modules
    assert loaded(modules, {"sqlalchemy.orm", "storage.models", "storage.repository"}) == set()


def test_a_runs_first_comparisons_of_candidate_copies_load_no_numpy() -> None:
    # a site of distinct articles meets a few false candidates: comparing them must not load
    # numpy into the process that stores the crawl (11-16 MB); a site of copies loads it after
    # PURE_COMPARISONS comparisons, for speed, with the same answers
    code = (
        "from crawler.store.local import PURE_COMPARISONS, LocalStore\n"
        "from tests.sitegen_cq import SAMPLE_PARAGRAPHS as P\n"
        "r = LocalStore(db=None)\n"
        "a, b = '\\n'.join(P), '\\n'.join(P[:-1])\n"
        "answers = [r.same_story(a, b), r.same_story(a, P[0] * 3)]\n"
        "answers += [r.same_story(a, a) for _ in range(PURE_COMPARISONS - 2)]\n"
        "assert answers[:2] == [True, False] and all(answers[2:]), answers\n"
        "assert 'numpy' not in sys.modules\n"
        "assert r.same_story(a, b) and not r.same_story(a, P[0] * 3)"
    )
    modules = _modules_after(code)
    assert "crawler.extract.story" in modules
    assert "numpy" in modules  # after PURE_COMPARISONS
    pure = _modules_after(code.rsplit("\n", 1)[0])
    assert loaded(pure, {"numpy", "crawler.extract.fingerprint"}) == set()


def test_the_executable_with_stdout_closed_ends_without_a_traceback() -> None:
    # `govwatch --help >&-`: sys.stdout is None; the exit handler must not fail on it
    result = subprocess.run(
        [sys.executable, "-m", "scheduler", "--help"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=lambda: os.close(1),
    )
    assert result.returncode == 0
    assert "Traceback" not in result.stderr and "atexit" not in result.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_output_lost_at_exit_is_not_a_success() -> None:
    # `govwatch --help > /dev/full`: the help is lost at the final flush; not exit 0
    with Path("/dev/full").open("w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "scheduler", "--help"],
            cwd=REPO,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
            env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
        )
    assert result.returncode == 120


def test_only_the_service_imports_prometheus_client(config: Path) -> None:
    """``/metrics`` is the service's: other commands do not pay for its import."""
    for argv in (("check-config",), ("status",)):
        status, modules = imported_by("--config", str(config), *argv)
        assert status == 0, argv
        assert loaded(modules, {"prometheus_client", "scheduler.metrics"}) == set(), argv
