"""The digest JSON (webhook body, ``digest --dry-run --format json``) against the JSON Schema
shipped in ``digest/payload.schema.json`` and linked from the README, checked with
``jsonschema`` on real output: a delivered webhook body and the command's stdout."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from digest import outbox
from digest.subscription import WebhookChannel
from storage.database import Database
from tests.conftest import REPO, run_cli
from tests.digest_helpers import (
    Receiver,
    add_article,
    add_link_event,
    add_run,
    add_site,
    mark_copy,
)
from tests.test_digest_delivery import HEALTH, sub

SCHEMA_PATH = REPO / "digest" / "payload.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def errors(document: Any) -> list[str]:
    found = VALIDATOR.iter_errors(document)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in found]


def full(db: Database) -> None:
    """Every part of a digest: copies across sites, a dead and a recovered link, a failing
    site, an article without a source."""
    ccdi = add_site(db, "ccdi", "中央纪委国家监委网站")
    cqrb = add_site(db, "cqrb", "重庆日报")
    first = add_article(db, ccdi, 1, title="通报“三起”典型问题")
    copied = add_article(db, cqrb, 2, title="通报“三起”典型问题")
    mark_copy(db, copied, first)
    add_article(db, cqrb, 3, title="<b>无时间</b>", source=None)
    page = "https://site2.example.gov.cn/a/3.html"
    add_link_event(
        db, "https://jjc.example.gov.cn/map/baidu.js", "newly_dead", page_url=page, site_id=cqrb
    )
    add_link_event(
        db, "https://jjc.example.gov.cn/ok.png", "recovered", page_url=page, site_id=cqrb
    )
    for _ in range(3):
        add_run(db, cqrb, "failed", "HTTP 503")


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_the_readme_links_the_schema_and_lists_its_fields() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "(digest/payload.schema.json)" in readme
    section = readme.split("**Webhook payload.**", 1)[1].split("\n\n", 2)[1]
    documented = set()
    for row in section.splitlines()[2:]:
        documented |= {
            name.removesuffix("[]") for name in re.findall(r"`([a-z_\[\]]+)`", row.split(" | ")[0])
        }
    assert documented == set(SCHEMA["properties"])


def test_a_delivered_webhook_body_matches_the_schema(db: Database) -> None:
    full(db)
    with Receiver() as receiver:
        subscription = sub(WebhookChannel("webhook", receiver.url()))
        now = datetime.now(UTC)
        window, _ = outbox.open_window(
            db, subscription, now=now, sites=["ccdi", "cqrb"], health=HEALTH
        )
        assert window is not None
        (report,) = outbox.deliver_due(db, [subscription], now=now)
        assert report.outcome == "delivered", report.error
    body = receiver.requests[0].json()
    assert errors(body) == []
    counts = body["counts"]
    assert counts["dead_links"] == counts["recovered_links"] == counts["crawl_problems"] == 1
    assert any(a["also_published_by"] for a in body["articles"])
    assert any(a["source"] is None for a in body["articles"])


def test_the_dry_run_json_matches_the_schema(
    tmp_path: Path, db: Database, database_url: str
) -> None:
    full(db)
    config = tmp_path / "govwatch.toml"
    config.write_text(
        '[[digests]]\nname = "daily"\n[[digests.channels]]\ntype = "webhook"\n'
        'url = "http://127.0.0.1:9/"\n',
        encoding="utf-8",
    )
    result = run_cli(
        "--config",
        str(config),
        "digest",
        "daily",
        "--dry-run",
        "--format",
        "json",
        env={"GOVWATCH_DATABASE_URL": database_url},
    )
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["idempotency_key"] is None and body["articles"]
    assert errors(body) == []


def valid() -> dict[str, Any]:
    return {
        "version": 1,
        "idempotency_key": "k-1",
        "subscription": "daily",
        "subject": "govwatch: 1 new article — 2026-11-26",
        "window": {
            "after_article_id": 0,
            "upto_article_id": 1,
            "after_link_event_id": 0,
            "upto_link_event_id": 0,
        },
        "generated_at": "2026-11-26T00:00:00.123456+00:00",
        "counts": {"articles": 1, "dead_links": 0, "recovered_links": 0, "crawl_problems": 0},
        "articles": [
            {
                "id": 1,
                "site": "ccdi",
                "site_title": "中央纪委国家监委网站",
                "title": "标题",
                "url": "https://www.ccdi.gov.cn/yaowenn/202304/t20230411_257982.html",
                "publish_time": "2023-04-11T07:00:00+08:00",
                "publish_time_precision": "minute",
                "first_seen": "2026-11-26T00:00:00+00:00",
                "source": None,
                "excerpt": "",
                "also_published_by": [],
                "republished_from": None,
            }
        ],
        "dead_links": [],
        "recovered_links": [],
        "crawl_health": [],
        "include_dead_links": True,
    }


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("articles",), None),
        (("version",), 2),
        (("counts", "articles"), "1"),
        (("articles", 0, "publish_time"), "2023-04-11 07:00"),
        (("articles", 0, "publish_time"), "2023-04-11T07:00:00+00:00"),  # not Beijing time
        (("articles", 0, "publish_time_precision"), "second"),
        (("articles", 0, "url"), "javascript:alert(1)"),
        (("window", "upto_article_id"), -1),
        (("subscription",), "Daily Digest"),
    ],
)
def test_the_schema_refuses_what_the_readme_rules_out(path: tuple[Any, ...], value: Any) -> None:
    document = valid()
    assert errors(document) == []
    changed = copy.deepcopy(document)
    target = changed
    for step in path[:-1]:
        target = target[step]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    assert errors(changed), f"{path} = {value!r} passed"
