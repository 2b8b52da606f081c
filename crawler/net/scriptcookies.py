"""Cookies that a page's inline scripts set, read without running JavaScript.

Guarded sites (www.ccdi.gov.cn first) put a script in every HTML answer that sets cookies
the client must send back::

    document.cookie = "HOY_TR=UQMN…,8976…,vwhg…; max-age=31536000; path=/";

:func:`script_cookies` finds such assignments in inline ``<script>`` elements when the
assigned value is made of string literals (one, or several joined with ``+``; single or
double quotes) and returns each as the ``Set-Cookie``-style string it amounts to.  One
expression is understood beyond literals because ccdi uses it: an ``expires=`` attribute
whose value is ``D.toGMTString()`` (or ``toUTCString()``) of a date set with
``D.setTime(D.getTime() + MS)`` becomes ``Max-Age=MS/1000``.  Anything else that would need
JavaScript to be run is skipped: that is the browser solver's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SCRIPT = re.compile(rb"<script\b([^>]*)>(.*?)</script\s*>", re.I | re.S)
_SRC = re.compile(rb"\bsrc\s*=", re.I)
_ASSIGN = re.compile(r"document\s*\.\s*cookie\s*=(?!=)\s*")
_STRING = re.compile(r""""((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'""")
_DATE_CALL = re.compile(r"([A-Za-z_$][\w$]*)\s*\.\s*to(?:GMT|UTC)String\s*\(\s*\)")
_SET_TIME = r"{0}\s*\.\s*setTime\s*\(\s*{0}\s*\.\s*getTime\s*\(\s*\)\s*\+\s*(\d{{1,13}})\s*\)"
_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|(.))", re.S)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "0": "\0"}
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_BAD_VALUE = re.compile(r"[\x00-\x1f\x7f;\s\"\\]|[^\x00-\x7f]")
_BAD_ATTRIBUTES = re.compile(r"[\x00-\x1f\x7f]|[^\x00-\x7f]")
MAX_SCAN_BYTES = 2 * 1024 * 1024  # scripts past this much of a page are not looked at
MAX_COOKIES = 50  # per page
MAX_COOKIE_BYTES = 4096  # of name and value: what a browser keeps (RFC 6265 section 6.1)


@dataclass(frozen=True, slots=True)
class ScriptCookie:
    """One ``document.cookie`` assignment: the cookie's name and value, and the whole
    string (with its attributes) as a ``Set-Cookie`` header would carry it."""

    name: str
    value: str
    header: str


def script_cookies(body: bytes) -> list[ScriptCookie]:
    """The cookies inline scripts of the HTML page ``body`` set with literal strings."""
    head = body[:MAX_SCAN_BYTES]
    if b"cookie" not in head:
        return []
    found: list[ScriptCookie] = []
    for match in _SCRIPT.finditer(head):
        if _SRC.search(match.group(1)):
            continue
        script = match.group(2).decode("latin-1")  # cookies are ASCII; see _BAD_VALUE
        for assign in _ASSIGN.finditer(script):
            text = _assigned(script, assign.end())
            cookie = parse_cookie_string(text) if text is not None else None
            if cookie is not None:
                found.append(cookie)
                if len(found) >= MAX_COOKIES:
                    return found
    return found


def parse_cookie_string(text: str) -> ScriptCookie | None:
    """``NAME=VALUE; attr…`` as a :class:`ScriptCookie`, or ``None`` when it is not one."""
    pair, _, attributes = text.partition(";")
    name, eq, value = pair.partition("=")
    name, value = name.strip(), value.strip()
    if not eq or not _TOKEN.match(name) or _BAD_VALUE.search(value):
        return None
    if len(name) + len(value) > MAX_COOKIE_BYTES:  # ASCII: characters are bytes
        return None
    if _BAD_ATTRIBUTES.search(attributes):
        return None
    header = f"{name}={value}" + (f";{attributes}" if attributes.strip() else "")
    return ScriptCookie(name=name, value=value, header=header)


def _assigned(script: str, pos: int) -> str | None:
    """The string an assignment's right-hand side at ``pos`` evaluates to, when it is made of
    literals joined with ``+`` (and the ccdi ``expires=`` date); else ``None``."""
    parts: list[str] = []
    while True:
        pos = _skip_space(script, pos)
        literal = _STRING.match(script, pos)
        if literal is not None:
            raw = literal.group(1) if literal.group(1) is not None else literal.group(2)
            parts.append(_unescape(raw))
            pos = literal.end()
        else:
            date = _DATE_CALL.match(script, pos)
            if date is None or not "".join(parts).rstrip().lower().endswith("expires="):
                return None
            set_time = re.search(_SET_TIME.format(re.escape(date.group(1))), script[:pos])
            if set_time is None:
                return None
            joined = "".join(parts).rstrip()
            joined = joined[: -len("expires=")].rstrip().rstrip(";")
            parts = [f"{joined}; max-age={int(set_time.group(1)) // 1000}"]
            pos = date.end()
        after = _skip_space(script, pos)
        if after < len(script) and script[after] == "+":
            pos = after + 1
            continue
        if after >= len(script) or script[after] in ";})" or "\n" in script[pos:after]:
            return "".join(parts)
        return None


def _skip_space(script: str, pos: int) -> int:
    while pos < len(script) and script[pos] in " \t\r\n":
        pos += 1
    return pos


def _unescape(raw: str) -> str:
    if "\\" not in raw:
        return raw
    return _ESCAPE.sub(_unescape_one, raw)


def _unescape_one(match: re.Match[str]) -> str:
    code = match.group(1) or match.group(2)
    if code:
        return chr(int(code, 16))
    char = match.group(3)
    return _ESCAPES.get(char, char)
