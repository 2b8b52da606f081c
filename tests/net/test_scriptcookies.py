"""The inline-script cookie scanner and the named cookie rules (pure functions)."""

from __future__ import annotations

import pytest

from crawler.net.cookierules import RULES, ccdi_hoy_tr, rule_problem
from crawler.net.scriptcookies import parse_cookie_string, script_cookies

CSR = "UQMNRSXOICWYAHVD"
CNV = "8976ABC354DEF012"
OTR = "vwhgujlopfbmcine"
HOY = f"{CSR},{CNV},{OTR}"


def _page(script: str, attrs: str = "") -> bytes:
    return f"<html><head><script{attrs}>{script}</script></head><body>x</body></html>".encode()


def test_ccdi_inline_script_sets_both_cookies_with_their_lifetimes() -> None:
    script = (
        f'(function () {{ document.cookie = "HOY_TR={HOY}; max-age=31536000; path=/";'
        'document.cookie = "HBB_HC=62113c25a9; max-age=86400; path=/"; })()'
    )
    found = script_cookies(_page(script))
    assert [(c.name, c.value) for c in found] == [("HOY_TR", HOY), ("HBB_HC", "62113c25a9")]
    assert found[0].header == f"HOY_TR={HOY}; max-age=31536000; path=/"


def test_concatenated_literals_single_quotes_and_escapes() -> None:
    script = (
        "document.cookie = 'A=' + \"b1\" +\n  '; max-age=60; path=/'\n"
        "document.cookie='Q=x\\'y; path=/';"  # a quote is a cookie octet
        'document.cookie = "C=d\\u0041"; '
    )
    found = script_cookies(_page(script))
    assert [(c.name, c.value) for c in found] == [("A", "b1"), ("Q", "x'y"), ("C", "dA")]
    assert found[0].header == "A=b1; max-age=60; path=/"


def test_ccdi_expires_from_settime_becomes_max_age() -> None:
    script = (
        "(function () { var exp = new Date(); exp.setTime(exp.getTime() + 86400000); "
        'document.cookie = "HMY_JC=d0a4,"+"; expires="+exp.toGMTString()+"; path=/"; })()'
    )
    (cookie,) = script_cookies(_page(script))
    assert cookie.name == "HMY_JC"
    assert cookie.value == "d0a4,"
    assert cookie.header == "HMY_JC=d0a4,; max-age=86400; path=/"


@pytest.mark.parametrize(
    "script",
    [
        'document.cookie = "A=" + compute() + "; path=/";',  # needs JavaScript
        "document.cookie = name + '=1';",
        'var c = "A=1"; document.cookie = c;',
        'if (document.cookie == "A=1") {}',  # a comparison, not an assignment
        'document.cookie = "A=1" * 2;',
        'document.cookie = "=1; path=/";',  # no name
        'document.cookie = "A B=1";',  # not a token
        'document.cookie = "A=1\\r\\nX: y";',  # header injection
        'document.cookie = "A=\u4e2d";',  # not ASCII
        'document.cookie = "A=1; expires=" + new Date(0).toGMTString();',
    ],
)
def test_what_needs_javascript_or_is_no_cookie_is_skipped(script: str) -> None:
    assert script_cookies(_page(script)) == []


def test_only_inline_scripts_are_read() -> None:
    text = 'document.cookie = "A=1; path=/";'
    assert script_cookies(_page(text, ' src="/x.js"')) == []
    body = f"<html><body><p>{text}</p><pre>{text}</pre></body></html>".encode()
    assert script_cookies(body) == []
    assert [c.name for c in script_cookies(_page(text, ' type="text/javascript"'))] == ["A"]


def test_gbk_page_and_no_script() -> None:
    body = (
        '<html><head><meta charset="gbk"><title>通报</title></head><body>'
        '<script>document.cookie = "A=1";</script>据通报</body></html>'
    ).encode("gbk")
    assert [c.name for c in script_cookies(body)] == ["A"]
    assert script_cookies(b"<html><body>nothing</body></html>") == []


def test_parse_cookie_string() -> None:
    cookie = parse_cookie_string("N=v; Max-Age=5")
    assert cookie is not None
    assert (cookie.name, cookie.value, cookie.header) == ("N", "v", "N=v; Max-Age=5")
    assert parse_cookie_string("novalue") is None


def test_ccdi_rule_rewrites_hoy_tr() -> None:
    # cnv[0] = "8": otr's first character becomes csr[8] = "I"
    assert ccdi_hoy_tr("HOY_TR", HOY) == f"{CSR},{CNV},Iwhgujlopfbmcine,0"
    # ccdi_16.html: csr[8] of UQRVOEXPGTCYIKNA is "G"
    assert (
        ccdi_hoy_tr("HOY_TR", "UQRVOEXPGTCYIKNA,89A035C4B67DEF12,vwunosldzkfmpygc")
        == "UQRVOEXPGTCYIKNA,89A035C4B67DEF12,Gwunosldzkfmpygc,0"
    )
    # hex digits above 9
    assert ccdi_hoy_tr("HOY_TR", "0123456789ABCDEF,b,zz") == "0123456789ABCDEF,b,Bz,0"


def test_ccdi_rule_is_idempotent_and_leaves_malformed_values() -> None:
    once = ccdi_hoy_tr("HOY_TR", HOY)
    assert once is not None
    assert ccdi_hoy_tr("HOY_TR", once) == once
    for bad in ("", "a,b", "abc,x1,zz", "ab,f,zz", ",1,zz", "ab,1,", "a,1,b,1", "a,1,b,0,0"):
        assert ccdi_hoy_tr("HOY_TR", bad) is None, bad


def test_rule_registry() -> None:
    assert RULES["ccdi"].cookies == {"HOY_TR"}
    assert rule_problem("ccdi") is None
    problem = rule_problem("nope")
    assert problem is not None and "ccdi" in problem


def test_a_cookie_larger_than_a_browser_keeps_is_skipped() -> None:
    # a browser keeps at most 4096 bytes of name and value; a page's 100 kB cookie would be
    # sent with every later request to its host (and kept in host_cookies)
    body = b'<script>document.cookie = "big=' + b"A" * 100_000 + b'; path=/";</script>'
    assert script_cookies(body) == []
    assert parse_cookie_string("ok=" + "A" * 4000) is not None
    assert parse_cookie_string("big=" + "A" * 4094) is None
