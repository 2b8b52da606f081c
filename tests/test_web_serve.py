"""``govwatch serve`` and ``govwatch run --http`` as users run them: real processes, real
signals; what they refuse, with one line and the right exit status."""

from __future__ import annotations

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
from tests.test_service import ServiceProcess, http_get, services, site_toml, write_config
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
    config: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GOVWATCH_")}
    full_env.update(env or {})
    proc = subprocess.Popen(
        [sys.executable, "-m", "scheduler", "--config", str(config), "serve", *args],
        cwd=REPO,
        env=full_env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    match = re.search(r"serving http://([^/\s]+)/", line)
    if match is None:
        proc.kill()
        raise AssertionError(line + proc.stderr.read())
    return proc, match.group(1)


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
