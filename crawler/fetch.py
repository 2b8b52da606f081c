"""Fetch one page outside a crawl (``govwatch extract URL``): polite, bounded, one request."""

from __future__ import annotations

from dataclasses import dataclass

import requests

from crawler.site import CrawlSettings
from storage.errors import FetchError


@dataclass(frozen=True, slots=True)
class FetchedPage:
    url: str  # final URL, after redirects
    status: int
    content_type: str | None
    body: bytes


def fetch_page(url: str, settings: CrawlSettings) -> FetchedPage:
    """GET ``url`` with govwatch's User-Agent, timeout and size limit.

    Raises :class:`FetchError` (one line) for network failures, HTTP errors and oversize pages.
    """
    try:
        with requests.get(
            url,
            headers={"User-Agent": settings.user_agent},
            timeout=settings.timeout_seconds,
            stream=True,
        ) as response:
            body = b""
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > settings.max_page_bytes:
                    raise FetchError(f"{url}: larger than {settings.max_page_bytes} bytes")
            if response.status_code >= 400:
                raise FetchError(f"{url}: HTTP {response.status_code}")
            return FetchedPage(
                url=response.url,
                status=response.status_code,
                content_type=response.headers.get("Content-Type"),
                body=body,
            )
    except requests.RequestException as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FetchError(f"{url}: {reason}") from exc
