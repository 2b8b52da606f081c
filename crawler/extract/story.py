"""Whether two bodies are one story: the normalisation of a body and the exact comparison.

The crawl process compares a new article with the stored candidates its fingerprints found
(``storage.repository.dedupe``); the fingerprints themselves are computed in the extraction
worker with numpy (:mod:`crawler.extract.fingerprint`).  This module needs no numpy, so the
crawl process does not load it (numpy cost the crawl process 11-16 MB of RSS, as soon as one
candidate was compared).

The comparison is exactly :mod:`crawler.extract.fingerprint`'s: the Jaccard similarity of
the sets of character 3-grams of the normalised bodies.  The fingerprint hashes each 3-gram
``(a, b, c)`` (code points) as ``mix((a * C + b) * C + c)`` in 64-bit arithmetic; the inner
value stays below 2**62 (code points < 2**21, C < 2**20), so it never wraps, and ``mix`` is a
bijection: two 3-grams get the same hash exactly when they get the same inner value.  That
is the same as the 3-grams being equal while every code point is below C (U+F4243): then the
sets of 3-gram *strings* compared here have the same sizes and intersections as the hash
sets, and for the rare body beyond it (the supplementary private use planes) the inner
values are compared instead.  ``tests/test_dedupe.py`` checks both against the hashes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Hashable
from functools import lru_cache

THRESHOLD = 0.75  # Jaccard similarity of 3-gram sets at or above which two bodies are one story
MIN_CHARS = 60  # shorter normalised bodies are too small to compare: never linked
META_LINE_MAX = 40  # characters: longer lines are never dropped as bylines
SHINGLE_BASE = 1_000_003  # C: a 3-gram's value is (a * C + b) * C + c
_BELOW_BASE = chr(SHINGLE_BASE)  # a body whose code points are all below C: strings will do
# bodies whose 3-grams are kept for the next comparison: a story's copies arrive close
# together, and each one is compared with the same few stored bodies.  (The key is the body
# itself: 256 bodies and their 3-gram sets held 20-30 MB on a site of copies.)
CACHED_BODIES = 16

# Lines that are bylines, credits or page controls rather than the story.
_META_LINE = re.compile(
    r"^[\s(（\[【]*(来源|稿源|责任编辑|责编|编辑|主编|作者|记者|通讯员|校对|审核|审校|终审|"
    r"摄影|摄像|图片来源|原标题|字号|分享到|打印|关闭|纠错|点击|阅读)\s*[:：]?"
)
_BRACKETED_LINE = re.compile(r"^\s*([【\[][^】\]]{0,12}[】\]]\s*)+$")
# A dateline before the lead: 新华社北京6月30日电 / 本报讯（记者 …） / 中新网重庆6月30日电
_DATELINE = re.compile(
    r"^\s*((新华社|中新社|中新网|人民网|央视网|新华网)[^，。,.]{0,16}?电|本报讯|本网讯)"
    r"\s*([（(][^）)]{0,30}[）)])?\s*"
)
_NOT_WORD = re.compile(r"[\W_]+")


def words_only(text: str) -> str:
    """``text`` with letters and digits only (what ``[\\W_]`` does not match)."""
    return _NOT_WORD.sub("", text)


def normalize_body(body: str, words: Callable[[str], str] = words_only) -> str:
    """The body reduced to what identifies the story: words and digits, no layout.

    ``words``: the cut to letters and digits (the fingerprint passes a faster one that
    gives the same text)."""
    lines = [line for line in body.lower().splitlines() if line.strip()]
    kept = [line for line in lines if not _is_meta_line(line)]
    if kept:
        kept[0] = _DATELINE.sub("", kept[0], count=1)
    text = words("".join(kept))
    # NFKC after dropping punctuation: full-width punctuation is most of what is not yet
    # normalised in Chinese text, and normalising a whole 10k-character body cost ~0.9 ms.
    if not unicodedata.is_normalized("NFKC", text):
        text = _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).lower())
    return text


def _is_meta_line(line: str) -> bool:
    """A byline, credit or page-control line (short: a long line is story text)."""
    if len(line) > META_LINE_MAX:
        return False
    return bool(_META_LINE.match(line) or _BRACKETED_LINE.match(line))


def similarity(body_a: str, body_b: str) -> float:
    """Jaccard similarity of the two bodies' 3-gram sets (0.0 when either is too short)."""
    a, b = _cached_shingles(body_a), _cached_shingles(body_b)
    if not a or not b:
        return 0.0
    if isinstance(next(iter(a)), str) != isinstance(next(iter(b)), str):
        # one body reaches beyond U+F4243: compare both by value
        a, b = _shingle_values(normalize_body(body_a)), _shingle_values(normalize_body(body_b))
    common = len(a & b)
    return common / (len(a) + len(b) - common)


def is_same_story(body_a: str, body_b: str) -> bool:
    """Whether two bodies are one story: near-identical text after normalisation."""
    return similarity(body_a, body_b) >= THRESHOLD


@lru_cache(maxsize=CACHED_BODIES)
def _cached_shingles(body: str) -> frozenset[Hashable]:
    """The 3-grams of the normalised body (empty when it is too short to compare): strings,
    or their values (see the module's docstring) for a body reaching beyond U+F4243."""
    normalized = normalize_body(body)
    if len(normalized) < MIN_CHARS:
        return frozenset()
    if max(normalized) < _BELOW_BASE:
        return frozenset([normalized[i : i + 3] for i in range(len(normalized) - 2)])
    return _shingle_values(normalized)


def _shingle_values(normalized: str) -> frozenset[Hashable]:
    points = [ord(c) for c in normalized]
    return frozenset(
        [
            (a * SHINGLE_BASE + b) * SHINGLE_BASE + c
            for a, b, c in zip(points, points[1:], points[2:], strict=False)
        ]
    )
