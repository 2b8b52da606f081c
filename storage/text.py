"""Text that is safe to store and to print: no terminal control sequences, no bidi spoofing.

A page's title or body can carry C0/C1 control characters (``ESC ] 0;…BEL`` retitles a
terminal, ``ESC [2J`` clears it) and bidirectional overrides (U+202E turns ``exe.txt`` into
``txt.exe`` on screen).  :func:`clean_text` removes them from extracted text before it is
stored, and the command line and the digest templates run stored text through it again when
printing or rendering, for rows stored before it existed (it lives in ``storage``, the leaf,
so that ``digest`` can use it without importing ``crawler``).

Kept: newline and tab.  A carriage return (alone or in CRLF) becomes a newline: on a terminal
a bare CR moves back to the start of the line and lets the rest overwrite what was shown.
Vertical tab, form feed and NEL (U+0085) become a newline too; every other C0 control, DEL,
every C1 control, the bidi embeddings/overrides/isolates (U+202A–U+202E, U+2066–U+2069) and
the Arabic letter mark (U+061C) are removed.

Hand-written: it is one ``str.translate`` table; no library does exactly this cut (``w3lib``
removes HTML entities and tags, not control characters).
"""

from __future__ import annotations

import re

__all__ = ["clean_optional", "clean_text", "escape_controls"]

_NEWLINE = "\n"
_KEEP = {0x09, 0x0A}
_TO_NEWLINE = {0x0B, 0x0C, 0x0D, 0x85}
_BIDI = [0x061C, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]

_TABLE: dict[int, str | None] = {}
for _code in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), *_BIDI]:
    if _code in _KEEP:
        continue
    _TABLE[_code] = _NEWLINE if _code in _TO_NEWLINE else None


# Any character the table changes: a text without one is returned as it is.  Searching is
# done in C at memory speed; ``str.translate`` of a 10,000-character Chinese body costs ~0.1 ms.
_CHANGED_RE = re.compile("[" + "".join(re.escape(chr(code)) for code in sorted(_TABLE)) + "]")


def clean_text(text: str) -> str:
    """``text`` without control characters and bidi overrides (newline and tab kept)."""
    if text.isascii() and text.isprintable():
        return text  # the common case of a short ASCII field, without a copy
    if _CHANGED_RE.search(text) is None:
        return text  # nothing to remove (a CR is in the table: no CRLF either)
    return text.replace("\r\n", "\n").translate(_TABLE)


def clean_optional(text: str | None) -> str | None:
    """:func:`clean_text` for an optional field: ``None`` stays ``None``."""
    return None if text is None else clean_text(text)


_ESCAPES = {code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" for code in _TABLE}
_ESCAPES[0x0A] = "\\n"
_ESCAPES[0x09] = "\\t"


def escape_controls(text: str) -> str:
    """``text`` with every control character and bidi override written as an escape
    (``\\x1b``, ``\\u202e``; newline and tab too): for a one-line diagnostic that names a
    hostile URL or message, shown as it was rather than silently changed."""
    if text.isascii() and text.isprintable():
        return text
    return text.translate(_ESCAPES)
