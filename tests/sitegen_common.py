"""Values shared by the test site server and the fake-site builders.

``Page`` lives here (and is re-exported by ``tests.sitesrv``) so that the builders do not
import the server module and the server module can re-export the builders without an
import cycle.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

CST = timezone(timedelta(hours=8))  # Beijing time, as every site here shows it

# A 1x1 transparent PNG, for <img> targets that must exist.
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)

NGINX_404 = (
    b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
    b"<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


@dataclass
class Page:
    """One resource the server answers with.

    ``content_type`` is sent verbatim (it may omit the charset, or be ``""`` to send no
    Content-Type at all). ``headers`` are extra response headers (Location, ETag,
    Last-Modified, ...) and override the defaults case-insensitively.
    """

    body: bytes
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeArticle:
    """What a fake article page shows, i.e. the truth an extractor should recover.

    ``paragraphs`` are the body paragraphs as text (no indentation, no byline, no 引题);
    ``embeds`` are root-relative paths of iframes on the page (they may be dead);
    ``images`` are root-relative paths of images inside the body; ``revision`` counts
    edits (each edit moves Last-Modified and the ETag).
    """

    path: str
    title: str
    publish_time: datetime  # aware, +08:00, minute precision
    source: str  # 来源
    author: str | None
    paragraphs: list[str]
    encoding: str = "utf-8"  # "utf-8" or "gbk"
    kicker: str | None = None  # 引题, shown above the title
    embeds: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    revision: int = 0

    @property
    def body(self) -> str:
        """The body as the corpus truth writes it: one paragraph per line."""
        return "\n".join(self.paragraphs)

    @property
    def modified(self) -> datetime:
        return self.publish_time + timedelta(hours=self.revision)


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def http_date(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC), usegmt=True)


def static_headers(body: bytes, modified: datetime) -> dict[str, str]:
    """Last-Modified and an nginx-style ETag ("mtime-size" in hex), as for a static file."""
    etag = f'"{int(modified.timestamp()):x}-{len(body):x}"'
    return {"Last-Modified": http_date(modified), "ETag": etag}


def static_page(body: bytes, modified: datetime, content_type: str) -> Page:
    return Page(body=body, content_type=content_type, headers=static_headers(body, modified))


def asset_pages(modified: datetime, root: str = "/images/") -> dict[str, Page]:
    """Small stylesheet, script and image files the page chrome references."""
    css = b'body{margin:0;font-family:"Microsoft YaHei";}\n.clear{clear:both;}\n'
    js = b"function uaredirect(u){}\nfunction createPageHTML(n,c,p,s){}\n"
    files: dict[str, tuple[bytes, str]] = {
        "common.css": (css, "text/css"),
        "public.css": (css, "text/css"),
        "jquery.js": (js, "application/javascript"),
        "common.js": (js, "application/javascript"),
        "logo.png": (PNG_1X1, "image/png"),
        "favicon.ico": (PNG_1X1, "image/x-icon"),
    }
    return {
        root + name: static_page(body, modified, ctype) for name, (body, ctype) in files.items()
    }
