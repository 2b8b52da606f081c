"""``govwatch serve`` and ``govwatch run --http`` as users run them: real processes, real
signals; what they refuse, with one line and the right exit status."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from storage.database import Database
from tests.conftest import REPO, run_cli
from tests.test_service import (
    ServiceProcess,
    http_get,
    services,
    site_toml,
    wait_until,
    write_config,
)
from tests.webdata import fill

__all__ = ["services"]  # the fixture, used below


def config_file(tmp_path: Path, extra: str = "", name: str = "govwatch.toml") -> Path:
    path = tmp_path / name
    path.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "gw.db"}"\n{extra}'
        '[[sites]]\nname = "ccdi"\nstart_urls = ["http://127.0.0.1:9/"]\n'
        "article_url_pattern = 'x'\n",
        encoding="utf-8",
    )
    return path


def start_serve(
    config: Path, *args: str, env: dict[str, str] | None = None, log_level: str = "WARNING"
) -> tuple[subprocess.Popen[str], str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GOVWATCH_")}
    full_env.update(env or {})
    command = [sys.executable, "-m", "scheduler", "--log-level", log_level]
    proc = subprocess.Popen(
        [*command, "--config", str(config), "serve", *args],
        cwd=REPO,
        env=full_env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    lines = []
    for _ in range(5):  # at INFO, the log's lines come before
        lines.append(proc.stderr.readline())
        match = re.search(r"serving http://([^/\s]+)/", lines[-1])
        if match is not None:
            return proc, match.group(1)
    proc.kill()
    raise AssertionError("".join(lines) + proc.stderr.read())


def get(address: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"http://{address}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_serve_answers_until_sigterm_and_never_writes(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    assert run_cli("--config", str(config), "init").returncode == 0
    db = Database(f"sqlite:///{tmp_path / 'gw.db'}")
    fill(db, fillers=2)
    db.dispose()
    before = (tmp_path / "gw.db").stat().st_mtime_ns
    proc, address = start_serve(config, "--bind", "127.0.0.1:0")
    try:
        status, body = get(address, "/api/articles?q=%E8%BF%9D%E7%BA%AA")
        assert status == 200 and json.loads(body)["articles"]
        assert get(address, "/articles")[0] == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    assert proc.stderr is not None and "Traceback" not in proc.stderr.read()
    assert (tmp_path / "gw.db").stat().st_mtime_ns == before


def test_serve_refuses_what_it_must(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    missing = run_cli("--config", str(config), "serve", "--bind", "127.0.0.1:0")
    assert missing.returncode == 1
    assert missing.stderr.strip().endswith("create it with 'govwatch init'")
    assert not (tmp_path / "gw.db").exists()  # not created by the web view
    assert run_cli("--config", str(config), "init").returncode == 0
    cases = [
        (("--bind", "0.0.0.0:8080"), {}, "is not a loopback address: set web.token_env"),
        (("--bind", "localhost"), {}, "--bind: 'localhost' is not HOST:PORT"),
        (("--bind", "127.0.0.1:99999"), {}, "is not HOST:PORT"),
    ]
    for args, env, message in cases:
        result = run_cli("--config", str(config), "serve", *args, env=env)
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and len(result.stderr.splitlines()) == 1
    unset = config_file(tmp_path, '[web]\ntoken_env = "GW_TEST_WEB_TOKEN"\n', "unset.toml")
    result = run_cli("--config", str(unset), "serve", "--bind", "127.0.0.1:0")
    assert result.returncode == 2
    assert "GW_TEST_WEB_TOKEN is not set" in result.stderr
    busy_proc, address = start_serve(config, "--bind", "127.0.0.1:0")
    try:
        taken = run_cli("--config", str(config), "serve", "--bind", address)
        assert taken.returncode == 1 and "cannot listen on" in taken.stderr
    finally:
        busy_proc.send_signal(signal.SIGTERM)
        busy_proc.wait(timeout=30)


def test_a_token_opens_a_non_loopback_bind(tmp_path: Path) -> None:
    config = config_file(tmp_path, '[web]\ntoken_env = "GW_TEST_WEB_TOKEN"\n')
    assert run_cli("--config", str(config), "init").returncode == 0
    proc, address = start_serve(config, "--bind", "0.0.0.0:0", env={"GW_TEST_WEB_TOKEN": "tok"})
    port = address.rsplit(":", 1)[1]
    try:
        assert get(f"127.0.0.1:{port}", "/articles")[0] == 401
        ok = get(f"127.0.0.1:{port}", "/articles", {"Authorization": "Bearer tok"})
        assert ok[0] == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_run_http_serves_the_web_view_beside_healthz_and_metrics(
    tmp_path: Path, services: Callable[..., ServiceProcess]
) -> None:
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    sites = site_toml("news", "http://127.0.0.1:9/yaowenn/", enabled=False)
    config = write_config(tmp_path, url, sites)
    service = services(config, {}, "--http", "127.0.0.1:0")
    port = int(
        service.wait_for(r"web view, /healthz and /metrics on http://127\.0\.0\.1:(\d+)").group(1)
    )
    service.wait_for(r"leading \(pid")
    status, body = http_get(port, "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    status, body = http_get(port, "/metrics")
    assert status == 200 and "govwatch_service_leader 1" in body
    status, body = http_get(port, "/api/sites")
    assert status == 200 and [s["name"] for s in json.loads(body)["sites"]] == ["news"]
    assert http_get(port, "/articles")[0] == 200
    service.proc.send_signal(signal.SIGTERM)
    assert service.proc.wait(timeout=30) == 0
    assert "Traceback" not in service.text()


def _token_status(port: int, token: str) -> int:
    return get(f"127.0.0.1:{port}", "/api/articles", {"Authorization": f"Bearer {token}"})[0]


def test_sighup_gives_run_http_the_new_token_and_keeps_the_old_on_a_bad_config(
    tmp_path: Path, services: Callable[..., ServiceProcess]
) -> None:
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    sites = site_toml("news", "http://127.0.0.1:9/yaowenn/", enabled=False)

    def configure(web: str) -> Path:
        return write_config(tmp_path, url, f"\n[web]\n{web}\n{sites}")

    config = configure('token_env = "GW_TEST_OLD_TOKEN"')
    env = {"GW_TEST_OLD_TOKEN": "old-secret", "GW_TEST_NEW_TOKEN": "new-secret"}
    service = services(config, env, "--http", "127.0.0.1:0")
    port = int(
        service.wait_for(r"web view, /healthz and /metrics on http://127\.0\.0\.1:(\d+)").group(1)
    )
    service.wait_for(r"leading \(pid")
    kept = http.client.HTTPConnection("127.0.0.1", port, timeout=20)  # open across the reload
    kept.request("GET", "/api/sites", headers={"Authorization": "Bearer old-secret"})
    assert kept.getresponse().read() and _token_status(port, "old-secret") == 200
    assert _token_status(port, "new-secret") == 401

    configure('token_env = "GW_TEST_NEW_TOKEN"\npage_size = 7')
    service.proc.send_signal(signal.SIGHUP)
    service.wait_for(r"reload: the web view serves the new \[web\] settings")
    assert _token_status(port, "old-secret") == 401
    assert _token_status(port, "new-secret") == 200
    kept.request("GET", "/api/sites", headers={"Authorization": "Bearer new-secret"})
    assert kept.getresponse().status == 200  # the same connection, the same listening socket
    assert http_get(port, "/healthz")[0] == 200  # still exempt

    for bad, line in (
        ('token_env = "GW_TEST_UNSET_TOKEN"', r"the web view keeps the configuration in use: "),
        ("page_size = 500", r"reload failed, the configuration in use stays: "),
    ):
        configure(bad)
        before = service.text().count(line.split(":")[0].replace("\\", ""))
        service.proc.send_signal(signal.SIGHUP)
        wait_until(
            lambda line=line, before=before: (
                service.text().count(line.split(":")[0].replace("\\", "")) > before
            ),
            20,
            line,
            service,
        )
        assert _token_status(port, "new-secret") == 200
        assert _token_status(port, "old-secret") == 401
    log = service.text()
    assert "GW_TEST_UNSET_TOKEN is not set" in log
    assert "new-secret" not in log and "old-secret" not in log
    service.proc.send_signal(signal.SIGTERM)
    assert service.proc.wait(timeout=30) == 0
    assert "Traceback" not in service.text()


def test_sighup_gives_serve_the_new_token_and_keeps_the_old_on_a_bad_config(
    tmp_path: Path,
) -> None:
    config = config_file(tmp_path, '[web]\ntoken_env = "GW_TEST_OLD_TOKEN"\n')
    assert run_cli("--config", str(config), "init").returncode == 0
    env = {"GW_TEST_OLD_TOKEN": "old-secret", "GW_TEST_NEW_TOKEN": "new-secret"}
    proc, address = start_serve(config, "--bind", "127.0.0.1:0", env=env, log_level="INFO")
    port = int(address.rsplit(":", 1)[1])
    assert proc.stderr is not None
    try:
        assert _token_status(port, "old-secret") == 200
        assert _token_status(port, "new-secret") == 401
        config_file(tmp_path, '[web]\ntoken_env = "GW_TEST_NEW_TOKEN"\n')
        proc.send_signal(signal.SIGHUP)
        _read_until(proc, "reload: the web view serves the new [web] settings")
        assert _token_status(port, "old-secret") == 401
        assert _token_status(port, "new-secret") == 200
        config_file(tmp_path, '[web]\ntoken_env = "GW_TEST_UNSET_TOKEN"\n')
        proc.send_signal(signal.SIGHUP)
        line = _read_until(proc, "the web view keeps the configuration in use")
        assert "environment variable GW_TEST_UNSET_TOKEN is not set" in line
        assert _token_status(port, "new-secret") == 200
        config.write_text("[web\n", encoding="utf-8")  # not TOML
        proc.send_signal(signal.SIGHUP)
        _read_until(proc, "reload failed, the configuration in use stays: ")
        assert _token_status(port, "new-secret") == 200
        assert _token_status(port, "old-secret") == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    assert "Traceback" not in proc.stderr.read()


def _read_until(proc: subprocess.Popen[str], text: str) -> str:
    """The first line of ``proc``'s stderr holding ``text`` (the test's timeout bounds it)."""
    assert proc.stderr is not None
    for line in proc.stderr:
        if text in line:
            return line
    raise AssertionError(f"{text!r} never logged (exit {proc.wait()})")
