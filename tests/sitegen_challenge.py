"""Guarded mode (b): a 加速乐-style JavaScript challenge in front of a fake site.

Every request without the right ``__jsl_clearance`` cookie is answered 521 with a page whose
script computes the cookie (arithmetic and string building: the value never appears in the
page) and reloads.  With the cookie, the site behind (ccdi- or cq-style pages) is served.
Hook it into the server with ``SiteServer(site.pages, gate=ChallengeGate())``; the server's
log shows every request, its headers (User-Agent, Cookie) and the status answered.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from tests.sitegen_common import Page

COOKIE = "__jsl_clearance"
# What the script below computes: (7*6) + "clr" + "-" + (1000+234).toString(16)
CLEARANCE = "42clr-4d2"
HEADLESS_MARK = "HeadlessChrome"

_SCRIPT = """<html><head><meta charset="utf-8"></head><body>
<script>
var a = (7 * 6), parts = ["c", "l", "r"], t = (1000 + 234).toString(16);
document.cookie = "__jsl_clearance=" + a + parts.join("") + "-" + t + "; max-age=3600; path=/";
{reload}
</script>
</body></html>
"""


def challenge_521(reload: bool = True) -> Page:
    """The challenge answer: status 521, a script-only page (that never reloads: a stall)."""
    body = _SCRIPT.replace("{reload}", "location.reload();" if reload else "")
    return Page(body=body.encode(), status=521, content_type="text/html")


def cookies(header: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in (header or "").split(";"):
        name, eq, value = part.strip().partition("=")
        if eq:
            out[name] = value
    return out


@dataclass
class ChallengeGate:
    """Answers 521 + script until the request carries the computed cookie.

    ``clearance`` may be changed while serving (``rotate``): cookies got before then stop
    working, as when a WAF expires its clearance.
    """

    clearance: str = CLEARANCE
    enabled: bool = True
    reload: bool = True  # False: the script never reloads, the browser waits for ever
    browser_seen: threading.Event = field(default_factory=threading.Event)

    def __call__(self, path: str, headers: Mapping[str, str]) -> Page | None:
        if HEADLESS_MARK in (headers.get("User-Agent") or ""):
            self.browser_seen.set()
        if not self.enabled:
            return None
        if cookies(headers.get("Cookie")).get(COOKIE) == self.clearance:
            return None
        return challenge_521(self.reload)

    def rotate(self, script_value: str = CLEARANCE) -> None:
        """Accept only ``script_value`` from now on."""
        self.clearance = script_value
