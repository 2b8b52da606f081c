"""Turn the bytes of an HTML page into text, choosing the encoding carefully.

Chinese sites lie about their charset often: pages declaring GB2312 are UTF-8, HTTP headers
disagree with ``<meta charset>``, a truncated page ends in half a character.  The order used
here:

1. a byte-order mark decides (``reason="bom"``);
2. otherwise the declared charset (HTTP ``Content-Type`` first, then ``<meta>``/XML
   declaration) is *checked* against the bytes, not trusted: bytes that are valid UTF-8 with
   non-ASCII text are UTF-8 whatever the declaration says (GBK text is practically never
   valid UTF-8), and a declaration that cannot decode the bytes is dropped.  Only text
   encodings of the web count as declarations (:mod:`crawler.extract.charsets`: ``rot13``,
   ``base64`` … are ignored); ``utf-16``/``utf-32`` without a byte-order mark mean UTF-8, as
   the HTML standard says of a ``<meta>`` declaring them.  A declared single-byte charset
   (windows-1251, koi8-r, iso-8859-x …) or Big5 loses to GB18030 when the bytes are valid
   GB18030 made mostly of common Chinese characters (GB2312 level-1 hanzi and punctuation)
   and, for Big5, clearly more so than they are common Big5 characters when read as Big5
   (:func:`gb_contradicts`);
3. with no usable declaration the bytes are sniffed: UTF-8 if valid, else GB18030;
4. whatever is chosen, decoding never raises: a stray bad byte becomes U+FFFD.

GB2312 and GBK are always decoded as GB18030, their superset (many characters in names, such
as 镕 or 堃, are not in GB2312).
"""

from __future__ import annotations

import codecs
import logging
import re

from crawler.extract.charsets import BIG5_FAMILY, SINGLE_BYTE, UTF16_32, codec_for_label
from crawler.extract.records import DecodedPage

log = logging.getLogger(__name__)

_UTF8 = "utf-8"
_GB18030 = "gb18030"

_CT_CHARSET_RE = re.compile(r"""charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_META_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_XML_DECL_RE = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([\w.:-]+)""", re.I)

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# How many undecodable sequences per 1,000 non-ASCII bytes still count as "UTF-8 with a few
# damaged bytes" rather than "not UTF-8".  Real GBK text fails on nearly every character.
_UTF8_DAMAGE_PER_MILLE = 5
_HIGH_BYTES = bytes(range(0x80, 0x100))


def _chars(codec: str, leads: range, trails: list[int]) -> frozenset[str]:
    raw = bytes(b for lead in leads for trail in trails for b in (lead, trail))
    return frozenset(raw.decode(codec, errors="replace")) - {"\ufffd"}


_GB_TRAILS = list(range(0xA1, 0xFF))
# The 3,755 hanzi of GB2312 level 1 (the common ones) and GB2312's punctuation rows.
_GB_COMMON = _chars(_GB18030, range(0xB0, 0xD8), _GB_TRAILS) | _chars(
    _GB18030, range(0xA1, 0xA4), _GB_TRAILS
)
# Big5's 5,401 frequent hanzi (0xA440-0xC67E) and its symbols (0xA140-0xA3BF).
_BIG5_TRAILS = [*range(0x40, 0x7F), *range(0xA1, 0xFF)]
_BIG5_COMMON = _chars("big5", range(0xA4, 0xC7), _BIG5_TRAILS) | _chars(
    "big5", range(0xA1, 0xA4), _BIG5_TRAILS
)
# How much of a page's non-ASCII text must be common GB2312 characters for GB18030 to beat
# a declared single-byte charset, and by how much GB18030 must beat a declared Big5.
_GB_EVIDENCE = 0.8
_GB_OVER_BIG5 = 0.15
_EVIDENCE_BYTES = 65536


def normalise_charset(name: str | None) -> str | None:
    """Return the Python codec name for a declared charset, or ``None`` if unknown.

    GB2312, GBK and their aliases become ``gb18030``; ``utf8`` becomes ``utf-8``; non-text
    codecs (``rot13``, ``idna`` …) are unknown.  See
    :func:`crawler.extract.charsets.codec_for_label`.
    """
    return codec_for_label(name)


def declared_charset(body: bytes, content_type: str | None = None) -> tuple[str | None, str]:
    """Return the raw charset declared for ``body`` and where it was declared.

    The second item is ``"http-header"``, ``"meta"`` or ``""`` when nothing was declared.
    A header label that names no usable encoding (``x-bogus``, ``rot13``) does not hide the
    page's own declaration (WHATWG: an unknown label is no declaration); when neither is
    usable, the header's label is returned.
    """
    header: str | None = None
    if content_type:
        m = _CT_CHARSET_RE.search(content_type)
        if m:
            header = m.group(1)
            if codec_for_label(header) is not None:
                return header, "http-header"
    head = body[:4096]
    mb = _XML_DECL_RE.search(head) or _META_CHARSET_RE.search(head)
    if mb:
        meta = mb.group(1).decode("ascii", "replace")
        if header is None or codec_for_label(meta) is not None:
            return meta, "meta"
    if header is not None:
        return header, "http-header"
    return None, ""


def _utf8_verdict(body: bytes) -> tuple[bool, bool, str | None]:
    """Return (is_utf8, has_non_ascii) for ``body``, tolerating a few damaged bytes, and its
    UTF-8 text (damaged bytes replaced) when it was decoded whole, so that a page is not
    decoded twice; None for a page cut off in its last character."""
    try:
        text = body.decode(_UTF8)
    except UnicodeDecodeError:
        pass
    else:
        return True, not body.isascii(), text
    for cut in (1, 2, 3):
        try:
            body[:-cut].decode(_UTF8)
        except UnicodeDecodeError:
            continue
        return True, True, None  # a page cut off in the middle of its last character
    non_ascii = len(body) - len(body.translate(None, _HIGH_BYTES))
    text = body.decode(_UTF8, errors="replace")
    damaged = text.count("\ufffd")
    return damaged * 1000 <= non_ascii * _UTF8_DAMAGE_PER_MILLE, True, text


def _decodes_cleanly(body: bytes, codec: str) -> bool:
    try:
        body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def decode_html(body: bytes, content_type: str | None = None) -> DecodedPage:
    """Decode the HTML ``body`` to text; ``content_type`` is the HTTP header, if known.

    Never raises on bad bytes; see the module docstring for the order of evidence.
    """
    for bom, codec in _BOMS:
        if body.startswith(bom):
            raw, _ = declared_charset(body[len(bom) :], content_type)
            text = body.decode(codec, errors="replace")
            name = _UTF8 if codec == "utf-8-sig" else codec
            return DecodedPage(text=text, encoding=name, declared=raw, reason="bom")

    raw, where = declared_charset(body, content_type)
    declared = normalise_charset(raw)
    if declared in UTF16_32:
        utf16 = _bomless_utf16(body)
        if utf16 is not None:
            return _page(body, utf16, raw, where)
        declared = _UTF8  # HTML standard: a page that says "utf-16" in ASCII is not UTF-16
    is_utf8, non_ascii, utf8_text = _utf8_verdict(body)

    if declared == _UTF8 and is_utf8:
        return _page(body, _UTF8, raw, where, utf8_text)
    if is_utf8 and non_ascii:
        # Declared something else (GB2312 most often) but the bytes are UTF-8.
        if declared is not None:
            log.debug("page declares %s but its bytes are UTF-8", raw)
        return _page(body, _UTF8, raw, "sniffed", utf8_text)
    if (
        declared is not None
        and declared != _UTF8
        and (declared == _GB18030 or _decodes_cleanly(body, declared))
    ):
        if gb_contradicts(body, declared):
            log.debug("page declares %s but its bytes are GB18030", raw)
            return _page(body, _GB18030, raw, "sniffed")
        return _page(body, declared, raw, where)
    if is_utf8:  # pure ASCII, or UTF-8 declared and at most a few damaged bytes
        return _page(body, _UTF8, raw, where or "sniffed", utf8_text)
    # Declared UTF-8 (or nothing, or a codec that fails) but the bytes are not UTF-8.
    if _decodes_cleanly(body, _GB18030) or _looks_gb(body):
        return _page(body, _GB18030, raw, "fallback" if raw else "sniffed")
    return _page(body, _UTF8, raw, "fallback")


def _bomless_utf16(body: bytes) -> str | None:
    """``utf-16-le``/``-be`` for a body that starts with ``<`` in UTF-16 without a BOM."""
    head = body[:2]
    if head == b"<\x00":
        return "utf-16-le"
    if head == b"\x00<":
        return "utf-16-be"
    return None


def _common_share(text: str, common: frozenset[str]) -> float:
    non_ascii = [c for c in text if ord(c) >= 0x80]
    if not non_ascii:
        return 0.0
    return sum(1 for c in non_ascii if c in common) / len(non_ascii)


def gb_contradicts(body: bytes, declared: str) -> bool:
    """True when ``body``, declared single-byte or Big5, is really GB18030 text.

    The evidence: the bytes decode as GB18030 with at most a few damaged sequences, at least
    80% of the non-ASCII characters so decoded are common GB2312 characters (level-1 hanzi
    and punctuation: GBK text), and, for Big5, that share beats the share of common Big5
    characters in the Big5 reading by 15 points.  Cyrillic or Latin text read as GB18030
    fails the first two tests (its odd-length words leave broken pairs, a letter after an
    accented one makes a rare GBK character); Big5 text read as GB18030 is mostly kana,
    symbols and rare hanzi.
    """
    if declared not in SINGLE_BYTE and declared not in BIG5_FAMILY:
        return False
    sample = body[:_EVIDENCE_BYTES]
    if sample.isascii():
        return False
    text = sample.decode(_GB18030, errors="replace")
    non_ascii = len(sample) - len(sample.translate(None, _HIGH_BYTES))
    if text.count("\ufffd") * 1000 > non_ascii * _UTF8_DAMAGE_PER_MILLE + 1000:
        return False  # one damaged character more: the sample may end inside one
    gb_share = _common_share(text, _GB_COMMON)
    if gb_share < _GB_EVIDENCE:
        return False
    if declared in BIG5_FAMILY:
        as_big5 = sample.decode(declared, errors="replace")
        return gb_share >= _common_share(as_big5, _BIG5_COMMON) + _GB_OVER_BIG5
    return True


def _looks_gb(body: bytes) -> bool:
    """True when ``body`` decoded as GB18030 is mostly CJK text."""
    text = body.decode(_GB18030, errors="replace")
    non_ascii = [c for c in text if ord(c) >= 0x80]
    if not non_ascii:
        return False
    cjk = sum(1 for c in non_ascii if "\u4e00" <= c <= "\u9fff" or "\u3000" <= c <= "\u303f")
    return cjk >= 0.6 * len(non_ascii)


def _page(
    body: bytes, codec: str, raw: str | None, reason: str, text: str | None = None
) -> DecodedPage:
    """``body`` decoded with ``codec`` (``text`` when the caller decoded it already)."""
    if text is None:
        text = body.decode(codec, errors="replace")
    return DecodedPage(text=text, encoding=codec, declared=raw, reason=reason)
