"""Rendering the link inventory for ``govwatch links`` and ``govwatch check-links``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from crawler.extract.textclean import clean_text
from crawler.linkcheck.records import CheckReport
from scheduler.output import beijing, csv_row, fit, iso
from storage.link_records import LinkView
from storage.repository.links import MAX_REFS_PER_LINK

LINK_FIELDS = (
    "url",
    "status",
    "since",
    "last_checked",
    "next_check",
    "http_status",
    "detail",
    "redirect_url",
    "failures",
    "failing_since",
    "article_id",
    "page_count",
    "pages",
)
_SHOWN_PAGES = 3


def link_record(link: LinkView) -> dict[str, Any]:
    """A link as a JSON-ready dict; times in UTC."""
    return {
        "url": link.fetch_url,
        "canonical_url": link.url,
        "status": link.status,
        "since": iso(link.status_since),
        "last_checked": iso(link.last_checked_at),
        "next_check": iso(link.next_check_at),
        "http_status": link.http_status,
        "detail": link.detail,
        "redirect_url": link.redirect_url,
        "failures": link.consecutive_failures,
        "failing_since": iso(link.failing_since),
        "article_id": link.article_id,
        "page_count": link.ref_count,
        "pages": [
            {"url": r.page_url, "site": r.site, "kind": r.kind, "text": r.text} for r in link.refs
        ],
    }


def links_json(links: Sequence[LinkView]) -> str:
    return "".join(json.dumps(link_record(link), ensure_ascii=False) + "\n" for link in links)


def links_csv(links: Sequence[LinkView]) -> str:
    """One row per link; ``pages`` holds the referencing page URLs separated by spaces."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LINK_FIELDS, lineterminator="\n")
    writer.writeheader()
    for link in links:
        record = link_record(link)
        record["pages"] = " ".join(p["url"] for p in record["pages"])
        writer.writerow(csv_row({key: record[key] for key in LINK_FIELDS}))
    return buffer.getvalue()


def links_table(links: Sequence[LinkView]) -> str:
    """A line per link (status, since, last check, HTTP, URL, detail), then the pages that
    reference it, indented."""
    widths = (10, 16, 16, 4, 70, 30)
    header = ("STATUS", "SINCE (BEIJING)", "LAST CHECK", "HTTP", "URL", "DETAIL")
    lines = ["  ".join(fit(h, w) for h, w in zip(header, widths, strict=True)).rstrip()]
    for link in links:
        detail = link.detail
        if link.redirect_url and link.status in ("redirected", "soft_404"):
            detail = (
                f"{detail} → {link.redirect_url}" if link.redirect_url not in detail else detail
            )
        if link.article_id is not None:
            detail = f"{detail} (article {link.article_id})"
        cells = (
            link.status,
            beijing(link.status_since),
            beijing(link.last_checked_at) or "never",
            "" if link.http_status is None else str(link.http_status),
            link.fetch_url,
            detail,
        )
        lines.append("  ".join(fit(c, w) for c, w in zip(cells, widths, strict=True)).rstrip())
        for ref in link.refs[:_SHOWN_PAGES]:
            text = f" “{clean_text(ref.text)}”" if ref.text else ""
            lines.append(f"    on {ref.page_url} [{ref.site}, {ref.kind}]{text}")
        more = link.ref_count - min(len(link.refs), _SHOWN_PAGES)
        if link.ref_count >= MAX_REFS_PER_LINK:
            lines.append(f"    … and more than {more} other pages")
        elif more > 0:
            lines.append(f"    … and {more} more page(s)")
    return "\n".join(lines)


def describe_check(report: CheckReport) -> str:
    """The summary of a checker run, for ``govwatch check-links``."""
    if report.due == 0:
        return "no links due for a check"
    statuses = ", ".join(f"{status} {n}" for status, n in report.by_status) or "none stored"
    lines = [
        f"checked {report.checked} of {report.due} links in {report.seconds:.1f}s "
        f"({report.links_per_second:.1f} links/s): {statuses}",
        f"newly dead {report.newly_dead}, recovered {report.recovered}, "
        f"stored articles gone {report.articles_gone}",
    ]
    if report.message:
        lines.append(f"stopped early: {report.message}")
    return "\n".join(lines)
