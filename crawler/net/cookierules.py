"""Site-specific cookie rewrites, applied before every request to the site's hosts.

A rule is named in a site's config (``cookie_rule = "ccdi"``) and rewrites the value of the
cookies it names, the way the site's own scripts do in a browser before each navigation.
Rules are pure functions of the stored value: applying one twice gives the same value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

_HEX = "0123456789abcdefABCDEF"


@dataclass(frozen=True, slots=True)
class CookieRule:
    """A named rewrite of some cookies' values (``rewrite`` returns ``None``: leave as is)."""

    name: str
    cookies: frozenset[str]
    rewrite: Callable[[str, str], str | None]  # (cookie name, value) -> new value
    help: str


def ccdi_hoy_tr(name: str, value: str) -> str | None:
    """www.ccdi.gov.cn's ``HOY_TR`` rewrite: from ``csr,cnv,otr``, the first character of
    ``otr`` becomes ``csr[int(cnv[0], 16)]`` and ``,0`` is appended (``csr,cnv,otr',0``).

    A value already rewritten (four parts, ending in ``0``) is rewritten from its first
    three parts again, so the rule is idempotent.  A malformed value is left alone.
    """
    parts = value.split(",")
    if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3] != "0"):
        return None
    csr, cnv, otr = parts[:3]
    if not csr or not cnv or not otr or cnv[0] not in _HEX:
        return None
    index = int(cnv[0], 16)
    if index >= len(csr):
        return None
    return f"{csr},{cnv},{csr[index]}{otr[1:]},0"


RULES: dict[str, CookieRule] = {
    "ccdi": CookieRule(
        name="ccdi",
        cookies=frozenset({"HOY_TR"}),
        rewrite=ccdi_hoy_tr,
        help="www.ccdi.gov.cn: HOY_TR=csr,cnv,otr is sent as csr,cnv,otr',0",
    ),
}


def rule_problem(name: object) -> str | None:
    """Why ``name`` is not a known rule's name (for the configuration check), or ``None``."""
    if name in RULES:
        return None
    return f"unknown cookie rule; known rules: {', '.join(sorted(RULES))}"
