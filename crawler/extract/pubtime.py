"""Publish times: parsing the ways Chinese pages write them, and choosing the right one.

Every datetime returned is timezone-aware: Beijing time (+08:00) unless the text carries its
own offset (ISO strings in meta tags sometimes do).

Formats understood: ``2024-06-30 10:06``, ``2024-06-30 10:06:33``, ``2024/6/30``,
``2024.06.30``, ``2024年06月30日 10:06``, ``2024年6月30日10时06分``, ``2024-06-30 下午3:05``
(15:05, with 上午/下午/晚上 …), ISO 8601 with ``T`` and an offset.  Dates in URLs:
``t20240630_123.html``, ``/2024-06/30/``, ``/20240630/``,
``/2024/0630/``, ``/2024-06-30/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

from crawler.extract.records import TimePrecision

BEIJING = timezone(timedelta(hours=8))

_DATETIME_RE = re.compile(
    r"(?<![\d.])(?P<y>(?:19|20)\d{2})\s*(?P<s1>[-/.]|年)\s*(?P<m>\d{1,2})\s*(?:[-/.]|月)\s*"
    r"(?P<d>\d{1,2})(?!\d)\s*(?:日|号)?"
    r"(?:\s*(?:T|,|，)?\s*(?:(?P<half>上午|下午|中午|晚上|早上|凌晨|傍晚)\s*)?"
    r"(?P<H>\d{1,2})\s*(?:[:：]|时|点)\s*"
    r"(?P<M>\d{1,2})(?:\s*(?:[:：]|分)\s*(?P<S>\d{1,2}))?(?:\.\d+)?"
    r"(?P<tz>Z|[+-]\d{2}:?\d{2})?)?"
)
# Labels that introduce the publish time on the page, best first.
# Labels that introduce a time on the page, by rank: publish labels first, plain 时间/日期
# next, update times, then document dates (成文日期) that are not the publish time.
_LABEL_RE = re.compile(
    r"(?P<r0>发布时间|发布日期|发表时间|发表日期|发稿时间|发文时间|发文日期|刊发时间|上线时间|"
    r"发布于|发表于|publish(?:ed)?(?:\s*(?:time|date|on))?)"
    r"|(?P<r2>更新时间|更新日期|修改时间|最后更新)"
    r"|(?P<r3>成文日期|成文时间|印发日期|生成日期|施行日期|实施日期|生效日期)"
    r"|(?P<r1>(?<![\u4e00-\u9fff])(?:时间|日期)|\b(?:time|date)\b)",
    re.I,
)
_MORNING = frozenset({"上午", "早上", "凌晨"})
_LABEL_TAIL_RE = re.compile(r"\s*[:：]?\s*")
_URL_DATE_RES = (
    re.compile(r"[/_]t?(?P<y>20\d{2})(?P<m>[01]\d)(?P<d>[0-3]\d)_\d+"),
    re.compile(r"/(?P<y>20\d{2})-(?P<m>[01]\d)/(?P<d>[0-3]\d)/"),
    re.compile(r"/(?P<y>20\d{2})-(?P<m>[01]?\d)-(?P<d>[0-3]?\d)/"),
    re.compile(r"/(?P<y>20\d{2})(?P<m>[01]\d)(?P<d>[0-3]\d)/"),
    re.compile(r"/(?P<y>20\d{2})/(?P<m>[01]\d)(?P<d>[0-3]\d)/"),
    re.compile(r"/(?P<y>20\d{2})/(?P<m>[01]\d)/(?P<d>[0-3]\d)/"),
    re.compile(r"/(?P<y>20\d{2})(?P<m>[01]\d)/(?P<d>[0-3]\d)/"),
    re.compile(r"/(?P<y>20\d{2})_(?P<m>[01]\d)_(?P<d>[0-3]\d)_"),
    re.compile(r"/(?P<y>20\d{2})(?P<m>[01]\d)(?P<d>[0-3]\d)[A-Z]\w+"),
)
_META_TIME_KEYS = (
    "article:published_time",
    "og:article:published_time",
    "og:release_date",
    "pubdate",
    "publishdate",
    "publish_date",
    "publishtime",
    "publish-time",
    "published_time",
    "firstpublishedtime",
    "datepublished",
    "dc.date.issued",
    "dc.date",
    "dcterms.created",
    "sailthru.date",
    "weibo:article:create_at",
    "article:modified_time",
    "lastmodifiedtime",
)


@dataclass(frozen=True, slots=True)
class FoundTime:
    """A time found in text: the value, whether it had hours and minutes, and where."""

    value: datetime
    has_clock: bool
    start: int
    labeled: bool = False
    rank: int = 9  # kind of label: 0 publish, 1 plain time/date, 2 update, 3 document date


def _build(m: re.Match[str]) -> FoundTime | None:
    try:
        year, month, day = int(m["y"]), int(m["m"]), int(m["d"])
        hour = _hour_of_day(int(m["H"]), m["half"]) if m["H"] is not None else 0
        if m["H"] is not None and int(m["H"]) > 23:
            return None  # 24:00, 25:10: no clock time
        minute = int(m["M"]) if m["M"] is not None else 0
        second = int(m["S"]) if m["S"] is not None else 0
        tz = BEIJING
        if m["tz"]:
            tz = _parse_offset(m["tz"])
        value = datetime(year, month, day, hour % 24, minute, second, tzinfo=tz)
        value += timedelta(days=hour // 24)  # 晚上12点: the midnight after the date
    except ValueError:
        return None
    if value.year < 1990 or value > datetime.now(BEIJING) + timedelta(days=2):
        return None
    return FoundTime(value=value, has_clock=m["H"] is not None, start=m.start())


def _hour_of_day(hour: int, half: str | None) -> int:
    """The 24-hour clock hour of ``hour`` said with 上午/下午 …: 下午3:05 is 15:05,
    上午12:30 is 00:30, 下午12:30 is 12:30, 晚上10点 is 22:00, 晚上12点 is 24 (the midnight
    that ends the day); a 24-hour hour is kept."""
    if half is None or hour > 12:
        return hour
    if half in _MORNING:
        return 0 if hour == 12 else hour
    if half == "中午":
        return hour + 12 if hour < 11 else hour  # 中午1点 is 13:00, 中午12点 is 12:00
    if half == "晚上" and hour == 12:
        return 24
    return hour if hour == 12 else hour + 12


def _parse_offset(text: str) -> timezone:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4])))


def find_times(text: str) -> list[FoundTime]:
    """Every plausible date or date-time written in ``text``, in order."""
    found = []
    for m in _DATETIME_RE.finditer(text):
        ft = _build(m)
        if ft is not None:
            found.append(ft)
    return found


def parse_time(text: str) -> datetime | None:
    """The first date or date-time in ``text``, or ``None``."""
    times = find_times(text)
    return times[0].value if times else None


def labeled_time(text: str) -> FoundTime | None:
    """The time that follows a label such as 发布时间/时间/日期 in ``text``, if any.

    When the text labels several times, the best label wins (发布时间 over 时间 over 更新时间
    over 成文日期); the result's ``rank`` says which kind of label it was.
    """
    best: FoundTime | None = None
    for lm in _LABEL_RE.finditer(text):
        start = _LABEL_TAIL_RE.match(text, lm.end())
        m = _DATETIME_RE.match(text, start.end() if start else lm.end())
        if not m:
            continue
        ft = _build(m)
        if ft is None:
            continue
        rank = next(int(k[1]) for k, v in lm.groupdict().items() if v is not None)
        if best is None or rank < best.rank:
            best = FoundTime(ft.value, ft.has_clock, ft.start, labeled=True, rank=rank)
    return best


def url_date(url: str) -> date | None:
    """The publish date encoded in an article URL, such as ``t20240630_123.html``."""
    for rx in _URL_DATE_RES:
        m = rx.search(url)
        if m:
            try:
                return date(int(m["y"]), int(m["m"]), int(m["d"]))
            except ValueError:
                continue
    return None


def meta_time(meta: dict[str, str]) -> FoundTime | None:
    """The publish time from meta tags (keys lower-cased), as a last resort."""
    for key in _META_TIME_KEYS:
        value = meta.get(key)
        if value:
            times = find_times(value)
            if times:
                return times[0]
    return None


def to_beijing(value: datetime) -> datetime:
    """``value`` as Beijing time (naive values are taken to be Beijing time already)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=BEIJING)
    return value.astimezone(BEIJING)


@dataclass(frozen=True, slots=True)
class PublishTime:
    """The chosen publish time and how precisely it is known: ``minute`` when the page shows
    the time of day, ``day`` when it shows the date only, ``url`` when the date was only read
    from the URL.  For ``day`` and ``url`` the value is midnight, Beijing time: a time of
    day nobody stated, never to be shown."""

    value: datetime
    precision: TimePrecision


def _found(ft: FoundTime) -> PublishTime:
    return PublishTime(to_beijing(ft.value), "minute" if ft.has_clock else "day")


def choose_publish_time(
    near_title: list[FoundTime],
    labeled_elsewhere: FoundTime | None,
    in_url: date | None,
    in_meta: FoundTime | None,
) -> PublishTime | None:
    """Choose the publish time from the evidence, most trusted first.

    ``near_title`` are the times on the lines around the headline (labeled ones first);
    a visible time whose date disagrees with the URL's date by more than a day loses to one
    that agrees; the meta tags fill in only when nothing visible agrees; the URL's date alone
    comes last, marked as such.
    """
    candidates = [ft for ft in near_title]
    if labeled_elsewhere is not None:
        candidates.append(labeled_elsewhere)
    candidates.sort(key=lambda ft: (ft.rank, not ft.has_clock))
    if in_url is not None:
        agreeing = [ft for ft in candidates if abs((ft.value.date() - in_url).days) <= 1]
        if agreeing:
            return _found(agreeing[0])
        if in_meta is not None and in_meta.value.date() == in_url:
            return _found(in_meta)
        if not candidates:
            midnight = datetime(in_url.year, in_url.month, in_url.day, tzinfo=BEIJING)
            return PublishTime(midnight, "url")
    if candidates:
        return _found(candidates[0])
    if in_meta is not None:
        return _found(in_meta)
    return None
