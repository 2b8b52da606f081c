"""Is a response body an HTML (or XHTML) document?  Only those are extracted.

A server may answer an article URL with a PDF, an image, a ZIP or a megabyte of random bytes
labelled ``application/octet-stream``; none of them is an article, and decoding one as GB18030
turns noise into "Chinese" text.  :func:`not_html_reason` decides from the ``Content-Type``
and the first bytes, after the basics of WHATWG MIME sniffing:

- a byte-order mark (or ``<`` in UTF-16) says how to read the bytes (UTF-16 HTML is full of
  NUL bytes): the rules below then apply to the text so read, where "binary" means control
  characters, U+FFFD, surrogates, private-use and unassigned code points (random bytes after
  ``\xff\xfe`` read as UTF-16 are a quarter of them);  an empty body is left to the caller
  (an empty list page is a warning, an empty article page an error);
- a known file signature (``%PDF``, PNG, JPEG, GIF, ZIP, RAR, gzip …) is not HTML, whatever
  the header says;
- ``Content-Type`` ``image/*``, ``audio/*``, ``video/*``, ``font/*``, ``application/pdf``,
  ``application/zip`` … is not HTML;
- bytes that are binary (more than 5% "binary data bytes", the C0 controls other than
  whitespace and ESC, in the sniffed head: random bytes hold about 10%) are not HTML;
- ``text/html`` and ``application/xhtml+xml`` are HTML; any other type
  (``application/octet-stream``, ``text/plain``, none) is HTML only when an HTML tag starts
  the document or a complete tag appears in its first 8 KB.

Hand-written: Scrapy's ``responsetypes`` guesses a response class and would call random
bytes ``text``; the rules needed here are these few lines of the WHATWG algorithm.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["not_html_reason"]

_SNIFF_BYTES = 1445  # as many bytes as the WHATWG algorithm reads
# Byte-order marks, and "<" in UTF-16 without one (crawler.extract.decode reads them all): the codec
# reading what follows (UTF-32 first: its little-endian mark starts with UTF-16's).
_TEXT_STARTS: tuple[tuple[bytes, str, int], ...] = (  # (start, codec, bytes of the mark)
    (b"\xff\xfe\x00\x00", "utf-32-le", 4),
    (b"\x00\x00\xfe\xff", "utf-32-be", 4),
    (b"\xef\xbb\xbf", "utf-8", 3),
    (b"\xff\xfe", "utf-16-le", 2),
    (b"\xfe\xff", "utf-16-be", 2),
    (b"<\x00", "utf-16-le", 0),
    (b"\x00<", "utf-16-be", 0),
)
_JUNK_CATEGORIES = frozenset({"Cs", "Co", "Cn"})  # surrogates, private use, unassigned
_TEXT_CONTROLS = frozenset("\t\n\x0c\r\x1b")
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"RIFF", "a RIFF (WebP/WAV/AVI) file"),
    (b"PK\x03\x04", "a ZIP archive (or Office document)"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x1f\x8b\x08", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office document"),
    (b"ID3", "an MP3 file"),
    (b"OggS\x00", "an Ogg file"),
    (b"\x1aE\xdf\xa3", "a WebM/Matroska file"),
    (b"wOFF", "a web font"),
    (b"wOF2", "a web font"),
)
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_NOT_HTML_PREFIXES = ("image/", "audio/", "video/", "font/", "model/")
_NOT_HTML_TYPES = frozenset(
    {
        "application/pdf",
        "application/zip",
        "application/gzip",
        "application/x-gzip",
        "application/x-rar-compressed",
        "application/vnd.rar",
        "application/x-7z-compressed",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/json",
        "application/javascript",
        "text/javascript",
        "text/css",
        "text/csv",
    }
)
# WHATWG "binary data byte": C0 controls other than TAB, LF, FF, CR and ESC.
_BINARY = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)])
# Binary bytes per 1,000 sniffed bytes above which a document is binary.  Random bytes hold
# about 100; real pages hold a few (yahoo.cn's ad comments separate fields with \x02).
_BINARY_PER_MILLE = 50
# WHATWG's "scriptable MIME type" tag patterns, plus a few tags that open real pages; an
# end tag (``</p>``) counts too, so that broken HTML is still HTML.
_TAG_RE = re.compile(
    rb"</?(?:!doctype\s+html|html|head|body|script|iframe|h1|div|font|table|a|style|title|b|br|p|"
    rb"meta|link|!--|\?xml)[\s>/]",
    re.IGNORECASE,
)
# Any complete tag (``<span class="x">``, ``</li>``), looked for in the first bytes of a
# document that does not start with one of the above.
_ANY_TAG_RE = re.compile(rb"</?[a-z][a-z0-9]{0,15}(?:\s[^<>]{0,500})?/?>", re.IGNORECASE)
_EARLY_TAG_BYTES = 8192


def _media_type(content_type: str | None) -> str:
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def _binary_count(head: bytes) -> int:
    return len(head) - len(head.translate(None, _BINARY))


def _junk_count(text: str) -> int:
    """Characters of ``text`` that no text holds: the "binary data bytes" of decoded text."""
    return sum(
        1
        for c in text
        if c == "\ufffd"
        or (c < " " and c not in _TEXT_CONTROLS)
        or ("\x7f" <= c < "\xa0")
        or (c > "\x7f" and unicodedata.category(c) in _JUNK_CATEGORIES)
    )


def _marked_text_reason(body: bytes, codec: str, start: int, media: str) -> str | None:
    """:func:`not_html_reason` for a body that starts with a byte-order mark (or UTF-16 ``<``)."""
    head = body[start : start + _SNIFF_BYTES].decode(codec, errors="replace")
    head = head[: len(head) - 1] if len(body) > start + _SNIFF_BYTES else head  # a cut char
    if not head.strip():
        return None
    if _junk_count(head) * 1000 > len(head) * _BINARY_PER_MILLE:
        return f"binary bytes served as {media or 'an unknown type'}"
    if media.startswith(_NOT_HTML_PREFIXES) or media in _NOT_HTML_TYPES:
        return f"served as {media}"
    return None  # text: read by crawler.extract.decode, judged readable or not by the extractor


def not_html_reason(body: bytes, content_type: str | None = None) -> str | None:
    """Why ``body`` (served with ``content_type``) is not an HTML page, or ``None`` if it is."""
    head = body[:_SNIFF_BYTES]
    media = _media_type(content_type)
    for mark, codec, start in _TEXT_STARTS:
        if head.startswith(mark):
            return _marked_text_reason(body, codec, start, media)
    stripped = head.lstrip(b" \t\r\n\x0c")
    if not stripped:
        return None  # nothing to sniff: an empty page is the caller's case, not a file type
    for magic, what in _SIGNATURES:
        if stripped.startswith(magic):
            return what
    if media.startswith(_NOT_HTML_PREFIXES) or media in _NOT_HTML_TYPES:
        return f"served as {media}"
    if _binary_count(head) * 1000 > len(head) * _BINARY_PER_MILLE:
        return f"binary bytes served as {media or 'an unknown type'}"
    if media in _HTML_TYPES:
        return None
    if _TAG_RE.match(stripped) or _ANY_TAG_RE.search(body, 0, _EARLY_TAG_BYTES):
        return None
    return f"no HTML markup in a document served as {media or 'an unknown type'}"
