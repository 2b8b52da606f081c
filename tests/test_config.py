from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest

from crawler.linkcheck.records import LinkSettings
from crawler.site import CrawlSettings, auto_workers
from digest.subscription import ChatChannel, EmailChannel, HealthThresholds, WebhookChannel
from scheduler.config import (
    SECTIONS,
    SITE_KEYS,
    ServiceConfig,
    load_config,
    parse_config,
    render_config,
)
from scheduler.digests import health_thresholds
from scheduler.settings import CHANNEL_KEYS, DIGEST_KEYS, EMAIL_PORTS, Setting, default_of
from storage.errors import ConfigError
from tests.conftest import REPO, run_cli

GOOD_SITE = """
[[sites]]
name = "local"
title = "本地站"
start_urls = ["http://127.0.0.1:9/list/"]
article_url_pattern = '/\\d{6}/t\\d{8}_\\d+\\.html$'
max_list_pages = 2
delay_seconds = 0
schedule = "every 15m"
[sites.selectors]
title = "h2.tit"
body = "//div[@class='content']"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "govwatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_builtin_default_has_the_real_sites() -> None:
    config = load_config(None, {})
    assert config.source == "built-in default"
    names = [s.name for s in config.sites]
    assert {"ccdi", "ccdi-scdc", "cq-jjc", "cqrb"} <= set(names)
    ccdi = config.site("ccdi")
    assert ccdi is not None
    assert ccdi.is_article_url("https://www.ccdi.gov.cn/yaowenn/202304/t20230411_257982.html")
    assert not ccdi.is_article_url("https://www.ccdi.gov.cn/yaowenn/index_1.html")
    cq = config.site("cq-jjc")
    assert cq is not None
    assert cq.is_article_url("https://jjc.cq.gov.cn/html/2024-06/30/content_51234567.htm")
    assert config.database.url == "sqlite:///data/govwatch.db"


def test_file_values_and_selectors(tmp_path: Path) -> None:
    config = load_config(str(write(tmp_path, GOOD_SITE)), {})
    (site,) = config.sites
    assert site.title == "本地站"
    assert site.delay_seconds == 0.0
    assert site.max_list_pages == 2
    assert site.selectors.title == "h2.tit"
    assert site.selectors.source is None


def test_file_without_sites_uses_builtin_sites(tmp_path: Path) -> None:
    path = write(tmp_path, '[database]\nurl = "sqlite:///x.db"\n')
    config = load_config(str(path), {})
    assert config.database.url == "sqlite:///x.db"
    assert config.site("ccdi") is not None


def test_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = write(tmp_path, GOOD_SITE)
    monkeypatch.chdir(tmp_path)
    # ./govwatch.toml is found without being named
    assert load_config(None, {}).source == "govwatch.toml"
    other = tmp_path / "other.toml"
    other.write_text(GOOD_SITE.replace('"local"', '"other"'), encoding="utf-8")
    assert load_config(None, {"GOVWATCH_CONFIG": str(other)}).sites[0].name == "other"
    assert load_config(str(env_file), {"GOVWATCH_CONFIG": str(other)}).sites[0].name == "local"


def test_database_url_from_environment_is_masked(tmp_path: Path) -> None:
    env = {"GOVWATCH_DATABASE_URL": "postgresql+psycopg://u:s3cret@db:5432/gw"}
    config = load_config(str(write(tmp_path, GOOD_SITE)), env)
    assert config.database.url == env["GOVWATCH_DATABASE_URL"]
    rendered = render_config(config)
    assert "s3cret" not in rendered
    assert "postgresql+psycopg://u:***@db:5432/gw" in rendered
    assert "GOVWATCH_DATABASE_URL" in rendered


def test_rendered_config_reads_back_the_same(tmp_path: Path) -> None:
    config = load_config(None, {})
    again = load_config(str(write(tmp_path, render_config(config))), {})
    assert again.sites == config.sites
    assert again.crawl == config.crawl


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[databse]\nurl='x'\n", "databse: unknown section or key"),
        ("[crawl]\ntimeout = 3\n", "crawl.timeout: unknown key"),
        ("[crawl]\nretries = -1\n", "crawl.retries: must be at least 0"),
        ("[crawl]\nobey_robots_txt = 'yes'\n", "crawl.obey_robots_txt: expected true or false"),
        ('[database]\nurl = "mysql://x/y"\n', "database.url: unsupported database 'mysql'"),
        ('[database]\nurl = "postgresql://u@h:abc/db"\n', "port 'abc' in postgresql://u@h:abc/db"),
        (
            '[database]\nurl = "postgresql://u:pw@h:99999999999999999999/db"\n',
            "port '99999999999999999999' in postgresql://u:***@h:99999999999999999999/db is not",
        ),
        ('[database]\nurl = "postgresql://h:5432\\n/db"\n', "database.url: not a database URL"),
        ('[database]\nurl = "db.sqlite"\n', "database.url: not a database URL: 'db.sqlite'"),
        (GOOD_SITE.replace('name = "local"\n', ""), "sites[0].name: missing"),
        (GOOD_SITE.replace('"local"', '"Bad Name"'), "sites[0].name: 'Bad Name' is not a name"),
        (GOOD_SITE + GOOD_SITE, "sites[1].name: duplicate site name 'local'"),
        (
            GOOD_SITE.replace("'/\\d{6}", "'(/\\d{6}"),
            "sites[0] (local).article_url_pattern: invalid regex",
        ),
        (
            GOOD_SITE.replace("http://127.0.0.1:9/list/", "ftp://x/"),
            "sites[0] (local).start_urls[0]: 'ftp://x/' is not an absolute http(s) URL",
        ),
        (
            GOOD_SITE.replace("every 15m", "sometimes"),
            "sites[0] (local).schedule: 'sometimes' is neither",
        ),
        (
            GOOD_SITE.replace("every 15m", "61 * * * *"),
            "sites[0] (local).schedule: '61 * * * *': invalid cron expression",
        ),
        (GOOD_SITE.replace("max_list_pages = 2", "max_list_pages = 0"), "must be at least 1"),
        (GOOD_SITE.replace('title = "h2.tit"', 'title = "h2[["'), "invalid CSS selector"),
        (GOOD_SITE.replace('title = "h2.tit"', 'titel = "h2"'), "selectors.titel: unknown key"),
        (
            GOOD_SITE.replace("delay_seconds = 0", "delay_seconds = 0\nfoo = 1"),
            "sites[0] (local).foo: unknown key",
        ),
        ("[[sites]\n", "invalid TOML"),
    ],
)
def test_invalid_config_names_file_key_and_problem(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(str(path), {})
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_cli_bad_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_SITE.replace("every 15m", "whenever"))
    result = run_cli("--config", str(path), "check-config")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0] and "schedule" in lines[0]


def test_cli_missing_config_file(tmp_path: Path) -> None:
    result = run_cli("--config", str(tmp_path / "nope.toml"), "sites")
    assert result.returncode == 2
    assert "no such config file" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_check_config_prints_effective_config(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_SITE)
    result = run_cli(
        "--config",
        str(path),
        "check-config",
        env={"GOVWATCH_DATABASE_URL": "postgresql+psycopg://me:hunter2@h/db"},
    )
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout
    assert "name = 'local'" in result.stdout
    assert "me:***@h/db" in result.stdout


def readme_reference() -> dict[str, str]:
    """The README's configuration reference table: key -> its default column."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Reference", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if line.startswith("| `") and len(cells) >= 3:
            key = cells[0].strip("`")
            assert key not in rows, f"{key} documented twice"
            rows[key] = cells[1]
    return rows


def documented_value(cell: str) -> object:
    """A default column that is one code span, read as TOML (else as the bare word)."""
    match = re.fullmatch(r"`([^`]*)`", cell)
    if match is None:
        return NOT_A_VALUE
    try:
        return tomllib.loads(f"v = {match.group(1)}")["v"]
    except tomllib.TOMLDecodeError:
        return match.group(1)


NOT_A_VALUE = object()


def every_key() -> dict[str, Setting]:
    keys = {f"{section}.{k}": s for section, specs in SECTIONS.items() for k, s in specs.items()}
    keys |= {f"sites.{k}": s for k, s in SITE_KEYS.items()}
    keys |= {f"digests.{k}": s for k, s in DIGEST_KEYS.items()}
    keys |= {f"digests.channels.{k}": s for k, s in CHANNEL_KEYS.items()}
    return keys


def test_every_key_is_in_the_readme_with_its_default() -> None:
    documented = readme_reference()
    keys = every_key()
    assert sorted(set(keys) - set(documented)) == [], "keys missing from the README's reference"
    assert sorted(set(documented) - set(keys)) == [], "README documents keys that do not exist"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for key, spec in keys.items():
        cell = documented[key]
        if spec.env:
            assert spec.env in readme
        if spec.default is None:  # required, or computed: described in words, not a value
            assert documented_value(cell) is NOT_A_VALUE, f"{key}: no default, README: {cell}"
        elif spec.default == "":
            assert cell.startswith("empty"), f"{key}: default is empty, README: {cell}"
        else:
            value = documented_value(cell)
            assert type(value) is type(spec.default) or {type(value), type(spec.default)} <= {
                int,
                float,
            }, f"{key}: default {spec.default!r}, README: {cell}"
            assert value == spec.default, f"{key}: default {spec.default!r}, README: {cell}"


def test_computed_channel_defaults_are_documented_as_the_code_has_them() -> None:
    documented = readme_reference()
    email = default_of(EmailChannel, "timeout_seconds")
    others = {default_of(c, "timeout_seconds") for c in (WebhookChannel, ChatChannel)}
    assert len(others) == 1
    assert documented["digests.channels.timeout_seconds"] == (
        f"`{email:g}` email, `{others.pop():g}` others"
    )
    ports = "; ".join(f"`{port}` with `{security}`" for security, port in EMAIL_PORTS.items())
    assert documented["digests.channels.port"] == ports


def test_the_readme_check_catches_a_drifted_default() -> None:
    assert documented_value("`72`") == 72 != 48
    assert documented_value("`every 1h`") == "every 1h"
    assert documented_value("`[]`") == []
    assert documented_value("`true`") is True
    assert documented_value("(required)") is NOT_A_VALUE


def test_dataclass_defaults_are_the_settings_defaults() -> None:
    """The dataclasses that carry the values default to the rows (read from one place)."""
    defaults = parse_config({"sites": []}, "test", {})
    assert defaults.crawl == CrawlSettings()
    assert defaults.service == ServiceConfig()
    assert defaults.links == LinkSettings()
    assert health_thresholds(defaults) == HealthThresholds(
        SECTIONS["service"]["failing_runs_warning"].default,
        SECTIONS["service"]["zero_articles_warning_hours"].default,
    )


@pytest.mark.parametrize(("given", "workers"), [("'auto'", None), ("0", 0), ("3", 3)])
def test_extract_workers_a_count_or_auto(tmp_path: Path, given: str, workers: int | None) -> None:
    config = load_config(str(write(tmp_path, f"[crawl]\nextract_workers = {given}\n")), {})
    expected = auto_workers() if workers is None else workers
    assert config.crawl.extraction_workers() == expected
    again = load_config(str(write(tmp_path, render_config(config))), {})
    assert again.crawl == config.crawl


def test_extract_workers_auto_is_the_default_and_leaves_the_crawl_a_core() -> None:
    assert load_config(None, {}).crawl.extract_workers == "auto"
    assert [auto_workers(cores) for cores in (1, 2, 3, 8)] == [1, 1, 2, 7]
    assert auto_workers() == max(1, len(os.sched_getaffinity(0)) - 1)


@pytest.mark.parametrize("given", ["'many'", "-1", "65", "true", "1.5"])
def test_extract_workers_rejects_other_values(tmp_path: Path, given: str) -> None:
    with pytest.raises(ConfigError, match=r"crawl\.extract_workers"):
        load_config(str(write(tmp_path, f"[crawl]\nextract_workers = {given}\n")), {})


def test_check_config_shows_what_auto_workers_means(tmp_path: Path) -> None:
    result = run_cli("--config", str(write(tmp_path, GOOD_SITE)), "check-config")
    assert result.returncode == 0, result.stderr
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("extract_workers"))
    assert line == f"extract_workers = 'auto'  # {auto_workers()} on this machine"
