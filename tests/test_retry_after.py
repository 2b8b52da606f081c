"""``Retry-After``: one parser (``httpvalues.retry_after``), read the same way by the crawler
(from a Scrapy response) and the digest channels (from a real HTTP answer)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from scrapy.http import Response

from crawler.guards.retry import retry_after
from digest.channels.http import Reply, post
from httpvalues.retry_after import retry_after_seconds
from tests.digest_helpers import Answer, Receiver

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
YEAR = 366 * 24 * 3600.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        (b"5", 5.0),
        ("0", 0.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        ("Sun, 01 Mar 2026 08:01:30 GMT", 90.0),
        ("Sunday, 01-Mar-26 08:01:30 GMT", 90.0),  # the obsolete forms HTTP still accepts
        ("Sun Mar  1 08:01:30 2026", 90.0),  # asctime: no zone, which in HTTP means GMT
        ("Sun, 01 Mar 2026 16:01:30 +0800", 90.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past: go ahead now
        ("9" * 400, YEAR),  # too large to be meant: finite, a year at most
        ("Fri, 31 Dec 9999 23:59:59 GMT", YEAR),
        ("²", None),  # a Unicode digit is not a delay (float("²") would raise)
        ("١٢", None),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("Mon, 99 Foo 2020 00:00:00 GMT", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_or_an_http_date(
    value: str | bytes | None, seconds: float | None
) -> None:
    assert retry_after_seconds(value, now=NOW) == seconds


@pytest.mark.parametrize("value", ["600", "²", "garbage", "0", "99999999999999999999999"])
def test_crawler_and_digest_channels_read_a_retry_after_alike(value: str) -> None:
    expected = retry_after_seconds(value)
    with Receiver([Answer(429, "slow down", (("Retry-After", value),))]) as receiver:
        reply = post(receiver.url(), b"{}", {}, 10.0)
    assert isinstance(reply, Reply) and reply.status == 429
    assert reply.retry_after == expected
    response = Response("http://127.0.0.1/", status=429, headers={"Retry-After": value})
    assert retry_after(response) == expected
