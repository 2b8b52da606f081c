"""Guarded mode (b): a 加速乐-style JavaScript challenge in front of a fake site.

Every request without the right ``__jsl_clearance`` cookie is answered 521 with a page whose
script computes the cookie (arithmetic and string building: the value never appears in the
page) and reloads.  With the cookie, the site behind (ccdi- or cq-style pages) is served.
As real WAFs do, the cookie is bound to the User-Agent it was computed for: the page carries
a number derived from the asking agent, which the script puts in the cookie, so the same
cookie sent with another agent is challenged again.  Hook it into the server with
``SiteServer(site.pages, guard=ChallengeGate())``; the server's log shows every request,
its headers (User-Agent, Cookie) and the status answered.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from tests.sitegen_common import Page

COOKIE = "__jsl_clearance"
SEED = 7
HEADLESS_MARK = "HeadlessChrome"

_SCRIPT = """<html><head><meta charset="utf-8">{head}</head><body>
<script>
var a = ({seed} * 6), parts = ["c", "l", "r"], t = (1000 + 234).toString(16), u = {agent};
document.cookie = "__jsl_clearance=" + a + parts.join("") + "-" + t + "." + (u + 1)
  + "; max-age=3600; path=/";
{reload}
</script>
</body></html>
"""


def agent_number(agent: str) -> int:
    """The number a challenge page served to ``agent`` carries."""
    return zlib.crc32(agent.encode()) % 100_000


def clearance(seed: int, agent: str) -> str:
    """What the script computes for ``seed`` served to ``agent``:
    (seed*6) + "clr" + "-" + (1000+234).toString(16) + "." + (agent_number + 1)."""
    return f"{seed * 6}clr-4d2.{agent_number(agent) + 1}"


def challenge_521(seed: int = SEED, reload: bool = True, head: str = "", agent: str = "") -> Page:
    """The challenge answer to ``agent``: status 521, a script-only page (that never
    reloads: a stall).

    ``head`` is markup put in its ``<head>`` (a script from elsewhere, say)."""
    body = _SCRIPT.replace("{reload}", "location.reload();" if reload else "")
    body = body.replace("{head}", head)
    body = body.replace("{seed}", str(seed))
    body = body.replace("{agent}", str(agent_number(agent)))
    return Page(body=body.encode(), status=521, content_type="text/html")


def cookies(header: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in (header or "").split(";"):
        name, eq, value = part.strip().partition("=")
        if eq:
            out.setdefault(name, value)  # the first one counts, as for most servers
    return out


@dataclass
class ChallengeGate:
    """Answers 521 + script until the request carries the computed cookie.

    The seed may be changed while serving (:meth:`rotate`): cookies got before then stop
    working, as when a WAF expires its clearance.
    """

    seed: int = SEED
    enabled: bool = True
    reload: bool = True  # False: the script never reloads, the browser waits for ever
    browser_seen: threading.Event = field(default_factory=threading.Event)
    # rotate after this many requests passed (counted over the gate's life)
    rotate_after: tuple[int, ...] = ()
    passed: int = 0
    head: str = ""  # markup in the challenge page's <head>
    never_pass: bool = False  # refuse every cookie: the script reloads for ever

    def __call__(self, path: str, headers: Mapping[str, str]) -> Page | None:
        """``headers``: lower-cased names (``tests.sitesrv``'s ``guard`` hook)."""
        agent = headers.get("user-agent") or ""
        if HEADLESS_MARK in agent:
            self.browser_seen.set()
        if not self.enabled:
            return None
        sent = cookies(headers.get("cookie")).get(COOKIE)
        if sent == clearance(self.seed, agent) and not self.never_pass:
            self.passed += 1
            if self.passed in self.rotate_after:
                self.rotate()
            return None
        return challenge_521(self.seed, self.reload, self.head, agent)

    def rotate(self) -> None:
        """From now on only a newly computed cookie passes."""
        self.seed += 1
