"""The information line of an article page: where it is, and the time and source on it.

Chinese article pages print their metadata on a line right under (sometimes over) the
headline — "来源：重庆日报 时间：2024-06-30 10:06", "2024-05-13 08:49 来源：人民日报",
"发布时间：2019-05-18 来源：中国地理学会" — and some print it under the body instead
("发布日期：2019-03-06 责任编辑：…").  :func:`info_window` picks those lines out of the page's
positioned text lines; :func:`time_from_lines` and :func:`source_from_lines` read them.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from crawler.extract.byline import find_source, is_geo_label
from crawler.extract.dom import is_body_sentence
from crawler.extract.pubtime import FoundTime, find_times, labeled_time

_LINES_BEFORE_TITLE = 3
_LINES_AFTER_TITLE = 8
_LINES_AFTER_BODY = 8
# An unlabelled "date name" source is the information line: one of the lines just under the
# headline, not a dated item further down (a related article's title).
_UNLABELED_SOURCE_LINES = 3
_SENTENCE_PUNCT_RE = re.compile(r"[，。！？；]")
# "2019-05-17 · 苏皖城市报道", "2024-05-13 06:15 经济日报": a name right after the time, or
# run together with it ("2020-03-04 04:29:44 39健康网")
_UNLABELED_SOURCE_RE = re.compile(
    r"^(?:(?:19|20)\d{2}[-/.年]\d{1,2}[-/.月]\d{1,2}日?(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?)"
    r"\s*[·|丨｜/]?\s*(?P<v>\d{0,4}[^\s\d·|丨｜/:：，。][^\s·|丨｜/:：，。]{1,19})$"
)
# "人民日报 2024年05月13日", "新华网 | 2024-05-13 10:06": the name before the time
_SOURCE_THEN_TIME_RE = re.compile(
    r"^(?P<v>[^\s\d·|丨｜/:：，。][^\s·|丨｜/:：，。]{1,19})(?:\s+|\s*[·|丨｜/]\s*)"
    r"(?:19|20)\d{2}[-/.年]\d{1,2}[-/.月]\d{1,2}日?(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?$"
)
# Words of a label or a page's furniture, not of a source's name.
_NOT_SOURCE_RE = re.compile(
    r"时间|日期|发布|更新|浏览|点击|阅读|星期|周[一二三四五六日天]|首页|播报|朗读|收听|分享|打印|字号|"
    r"收藏|评论"
)


_BARE_LABEL_RE = re.compile(r"^\S{1,6}\s*[:：]$")


@dataclass(frozen=True, slots=True)
class InfoLines:
    """Lines near the headline (``near``) and just after the body (``tail``)."""

    near: list[str]
    tail: list[str]
    under_title: tuple[str, ...] = ()  # the headline's line and the few lines under it


def body_first_position(lines: list[tuple[int, str]], start: int, end: int) -> int:
    """Position of the first sentence-like line between ``start`` and ``end`` (the body)."""
    lo = bisect.bisect_left(lines, start, key=lambda ln: ln[0])
    for pos, text in lines[lo:]:
        if pos > end:
            break
        if is_body_sentence(text):
            return pos
    return start


def info_window(
    lines: list[tuple[int, str]], title_pos: int | None, body_span: tuple[int, int] | None
) -> InfoLines:
    """The lines around the headline (stopping where the body starts) and after the body."""
    near: list[str] = []
    under: list[str] = []
    body_first = body_span[0] if body_span is not None else None
    if title_pos is not None and title_pos >= 0:
        idx = bisect.bisect_left(lines, title_pos, key=lambda ln: ln[0])
        lo = max(0, idx - _LINES_BEFORE_TITLE)
        for pos, text in lines[lo : idx + 1 + _LINES_AFTER_TITLE]:
            if body_first is not None and pos >= body_first and pos > title_pos:
                break
            near.append(text)
        under = near[idx - lo : idx - lo + 1 + _UNLABELED_SOURCE_LINES]
    elif body_first is not None:
        idx = bisect.bisect_left(lines, body_first, key=lambda ln: ln[0])
        near = [t for _, t in lines[max(0, idx - _LINES_AFTER_TITLE) : idx]]
        under = near[-_UNLABELED_SOURCE_LINES:]
    tail: list[str] = []
    if body_span is not None:
        idx = bisect.bisect_right(lines, body_span[1], key=lambda ln: ln[0])
        tail = [t for _, t in lines[idx : idx + _LINES_AFTER_BODY]]
    return InfoLines(near=near, tail=tail, under_title=tuple(under))


def _joined_labels(lines: list[str]) -> list[str]:
    """Lines with a bare label ("发布日期：") joined to the value on the next line."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if i + 1 < len(lines) and _BARE_LABEL_RE.match(line):
            line = f"{line} {lines[i + 1]}"
            i += 1
        out.append(line)
        i += 1
    return out


def times_near_title(info: InfoLines) -> list[FoundTime]:
    """Labelled times on the lines near the headline (best label first), else the first
    unlabelled one."""
    lines = _joined_labels(info.near)
    labeled = [ft for line in lines if (ft := labeled_time(line)) is not None]
    if labeled:
        return sorted(labeled, key=lambda ft: ft.rank)
    for line in lines:
        if len(line) > 120:
            continue
        times = find_times(line)
        if times:
            return [times[0]]
    return []


def labeled_time_after_body(info: InfoLines) -> FoundTime | None:
    """A labelled time on the lines just after the body ("发布日期：2019-03-06")."""
    for line in _joined_labels(info.tail):
        ft = labeled_time(line)
        if ft is not None:
            return ft
    return None


def source_from_lines(info: InfoLines) -> str | None:
    """The 来源 on the lines near the headline, labelled or in the "date · name" form."""
    for line in info.near:
        found = find_source(line)
        if found:
            return found
    for line in info.under_title:
        m = _UNLABELED_SOURCE_RE.match(line)
        if m and not is_geo_label(m["v"]) and not _NOT_SOURCE_RE.search(m["v"]):
            return m["v"]
    return None


def source_before_time(info: InfoLines) -> str | None:
    """An unlabelled name just before the time under the headline ("人民日报 2024年05月13日")."""
    for line in info.under_title:
        m = _SOURCE_THEN_TIME_RE.match(line)
        if m and not is_geo_label(m["v"]) and not _NOT_SOURCE_RE.search(m["v"]):
            return m["v"]
    return None


def source_after_body(info: InfoLines) -> str | None:
    """A labelled 来源 on the short lines just after the body ("信息来源：内蒙古日报")."""
    for line in info.tail:
        if len(line) <= 80:
            found = find_source(line)
            if found:
                return found
    return None
