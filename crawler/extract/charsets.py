"""Charset labels, as a page declares them, to the Python codec that decodes the page.

Only text encodings that a web page may be in are accepted: the encodings of the WHATWG
Encoding Standard (https://encoding.spec.whatwg.org/#names-and-labels).  Python's
``codecs.lookup`` also knows ``rot13``, ``idna``, ``base64``, ``hex``, ``zip``, ``punycode``,
``unicode_escape``, ``uu``, ``utf-7`` …; a page declaring one of them is read as if it had
declared nothing, since decoding with them is meaningless (``rot13`` is str→str and raises
on bytes) or dangerous (``utf-7`` is refused by browsers for script injection).

GB2312, GBK and their aliases are GB18030, their superset.  ``utf-16``/``utf-32`` labels are
returned as they are: :func:`crawler.extract.decode.decode_html` treats them as UTF-8 when
the body has no byte-order mark, as the HTML standard does for a ``<meta>`` declaring UTF-16.

Hand-written: ``w3lib.encoding.resolve_encoding`` resolves any Python codec (``rot13``
included) and remaps ``big5``/``latin-1``, so a whitelist is needed on top of it anyway, and
``webencodings`` is not a dependency.
"""

from __future__ import annotations

import codecs

__all__ = ["BIG5_FAMILY", "SINGLE_BYTE", "UTF16_32", "codec_for_label"]

GB18030 = "gb18030"
UTF8 = "utf-8"

# Single-byte encodings of the WHATWG list (by Python codec name): any byte string decodes.
SINGLE_BYTE = frozenset(
    {
        "ascii",
        "cp866",
        "cp874",
        "tis-620",
        "koi8-r",
        "koi8-u",
        "mac-roman",
        "mac-cyrillic",
        *(f"cp{n}" for n in range(1250, 1259)),
        *(f"iso8859-{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16)),
    }
)
BIG5_FAMILY = frozenset({"big5", "big5hkscs", "cp950"})
UTF16_32 = frozenset({"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"})
_MULTI_BYTE = frozenset(
    {UTF8, GB18030, "shift_jis", "cp932", "euc_jp", "iso2022_jp", "euc_kr", "cp949"}
)
_GB_FAMILY = frozenset({"gb2312", "gbk", "gb18030", "cp936", "hz"})
_ALLOWED = SINGLE_BYTE | BIG5_FAMILY | UTF16_32 | _MULTI_BYTE

# WHATWG labels that Python's codec registry does not know.
_EXTRA_LABELS = {
    "x-gbk": GB18030,
    "gb_2312-80": GB18030,
    "x-gb2312": GB18030,
    "csgb2312": GB18030,
    "unicode-1-1-utf-8": UTF8,
    "unicode11utf8": UTF8,
    "unicode20utf8": UTF8,
    "x-unicode20utf8": UTF8,
    "x-x-big5": "big5",
    "x-sjis": "shift_jis",
    "windows-31j": "cp932",
    "windows-949": "cp949",
    "windows-874": "cp874",
    "dos-874": "cp874",
    "x-mac-roman": "mac-roman",
    "x-mac-cyrillic": "mac-cyrillic",
    "x-mac-ukrainian": "mac-cyrillic",
    "koi8-ru": "koi8-u",
    "iso-8859-8-i": "iso8859-8",
    "csiso88598i": "iso8859-8",
    "logical": "iso8859-8",
    "ucs-2": "utf-16-le",
    "unicode": "utf-16-le",
    "csunicode": "utf-16-le",
    "iso-10646-ucs-2": "utf-16-le",
    "unicodefeff": "utf-16-le",
    "unicodefffe": "utf-16-be",
    **{f"x-cp{n}": f"cp{n}" for n in range(1250, 1259)},
}


def codec_for_label(label: str | None) -> str | None:
    """The Python codec for a declared charset ``label``, or ``None`` if it is not one.

    GB2312, GBK and their aliases become ``gb18030``; ``utf8`` becomes ``utf-8``; anything
    that is not a text encoding of the web (``rot13``, ``idna``, ``base64`` …) is ``None``.
    Never raises.
    """
    if not label:
        return None
    name = label.strip().strip("\"'").strip().lower()
    if not name or len(name) > 40:
        return None
    codec = _EXTRA_LABELS.get(name)
    if codec is None:
        try:
            codec = codecs.lookup(name).name
        except (LookupError, ValueError, TypeError):
            return None
    if codec in _GB_FAMILY:
        return GB18030
    return codec if codec in _ALLOWED else None
