"""crawler.extract.decode: bytes in, text out, right every time."""

from __future__ import annotations

import codecs
import random

import pytest

from crawler.extract.decode import declared_charset, decode_html, normalise_charset

# 镕 and 堃 are in GBK/GB18030 but not in GB2312: a page "in GB2312" uses them anyway.
ARTICLE = "朱镕基同志与王堃同志座谈——中央纪委国家监委网站“清风”栏目"


def page(charset: str | None, body: str = ARTICLE) -> str:
    meta = (
        f'<meta http-equiv="Content-Type" content="text/html; charset={charset}">'
        if charset
        else ""
    )
    return f"<html><head>{meta}<title>{body}</title></head><body><p>{body}</p></body></html>"


def test_utf8_page_declared_in_meta() -> None:
    got = decode_html(page("utf-8").encode("utf-8"))
    assert got.encoding == "utf-8"
    assert got.reason == "meta"
    assert got.declared == "utf-8"
    assert ARTICLE in got.text


def test_gb2312_declared_page_with_gbk_only_characters_decodes_as_gb18030() -> None:
    raw = page("gb2312").encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("gb2312")  # the declared codec itself would fail on 镕/堃
    got = decode_html(raw)
    assert got.encoding == "gb18030"
    assert got.reason == "meta"
    assert got.declared == "gb2312"
    assert ARTICLE in got.text


def test_page_declaring_gb2312_but_utf8_is_read_as_utf8() -> None:
    got = decode_html(page("gb2312").encode("utf-8"))
    assert got.encoding == "utf-8"
    assert got.reason == "sniffed"
    assert got.declared == "gb2312"
    assert ARTICLE in got.text


def test_http_header_charset_is_used_when_it_fits_the_bytes() -> None:
    raw = page(None).encode("gbk")
    got = decode_html(raw, "text/html; charset=GBK")
    assert (got.encoding, got.reason, got.declared) == ("gb18030", "http-header", "GBK")
    assert ARTICLE in got.text


def test_http_header_that_lies_is_overruled_by_the_bytes() -> None:
    raw = page("gbk").encode("gbk")
    got = decode_html(raw, "text/html; charset=utf-8")
    assert got.encoding == "gb18030"
    assert ARTICLE in got.text


def test_utf8_bom_wins_over_a_wrong_declaration() -> None:
    raw = codecs.BOM_UTF8 + page("gbk").encode("utf-8")
    got = decode_html(raw)
    assert got.reason == "bom"
    assert got.encoding == "utf-8"
    assert not got.text.startswith("\ufeff")
    assert ARTICLE in got.text


def test_utf16_bom() -> None:
    raw = page("utf-16").encode("utf-16")
    got = decode_html(raw)
    assert got.reason == "bom"
    assert ARTICLE in got.text


def test_undeclared_gbk_is_sniffed() -> None:
    got = decode_html(page(None).encode("gbk"))
    assert (got.encoding, got.reason, got.declared) == ("gb18030", "sniffed", None)
    assert ARTICLE in got.text


def test_undeclared_utf8_is_sniffed() -> None:
    got = decode_html(page(None).encode("utf-8"))
    assert (got.encoding, got.reason) == ("utf-8", "sniffed")


def test_truncated_utf8_page_keeps_utf8_and_replaces_the_broken_character() -> None:
    raw = page("utf-8").encode("utf-8") + "尾".encode()[:2]
    got = decode_html(raw)
    assert got.encoding == "utf-8"
    assert ARTICLE in got.text
    assert got.text.endswith("\ufffd")


def test_utf8_page_with_a_stray_gbk_byte_sequence_is_still_utf8() -> None:
    long_text = ARTICLE * 50
    raw = page("utf-8", long_text).encode("utf-8").replace(b"</p>", "</p>错".encode("gbk"), 1)
    got = decode_html(raw)
    assert got.encoding == "utf-8"
    assert long_text in got.text


def test_latin1_declared_chinese_page_is_read_as_gbk() -> None:
    got = decode_html(page("iso-8859-1").encode("gbk"))
    assert got.encoding == "gb18030"
    assert ARTICLE in got.text


def test_unknown_charset_name_is_ignored() -> None:
    got = decode_html(page("x-no-such-charset").encode("utf-8"))
    assert got.encoding == "utf-8"
    assert ARTICLE in got.text


@pytest.mark.parametrize("seed", range(20))
def test_random_bytes_never_raise(seed: int) -> None:
    rng = random.Random(seed)
    raw = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 3000)))
    got = decode_html(b"<html><meta charset=gb2312>" + raw, "text/html; charset=utf-8")
    assert isinstance(got.text, str)
    assert got.encoding


def test_empty_bytes() -> None:
    got = decode_html(b"")
    assert got.text == ""


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("GB2312", "gb18030"),
        ("gbk", "gb18030"),
        ("x-gbk", "gb18030"),
        ("GB18030", "gb18030"),
        ("cp936", "gb18030"),
        ("UTF8", "utf-8"),
        ("utf-8", "utf-8"),
        ("big5", "big5"),
        ("bogus-charset", None),
        ("", None),
        (None, None),
    ],
)
def test_normalise_charset(name: str | None, codec: str | None) -> None:
    assert normalise_charset(name) == codec


def test_declared_charset_reads_meta_charset_attribute_and_xml_declaration() -> None:
    assert declared_charset(b'<meta charset="GBK">') == ("GBK", "meta")
    assert declared_charset(b'<?xml version="1.0" encoding="gb2312"?><html>') == (
        "gb2312",
        "meta",
    )
    assert declared_charset(b"<html>", 'text/html;charset="utf-8"') == ("utf-8", "http-header")
    assert declared_charset(b"<html>") == (None, "")


# --- lying and hostile declarations (issue 11) --------------------------------------------

RUSSIAN = "Москва является столицей России и крупнейшим по численности населения городом страны."
GERMAN = "Größere Änderungen für die Straßenbahn: öffentliche Verkehrsmittel fahren häufiger."
TRADITIONAL = "中華民國總統府新聞稿：總統今日接見外賓，並就兩岸關係發表談話。行政院會議通過預算案。"


@pytest.mark.parametrize(
    "charset",
    [
        "big5",
        "big5-hkscs",
        "windows-1251",
        "koi8-r",
        "iso-8859-5",
        "iso-8859-2",
        "macintosh",
        "ibm866",
        "windows-1252",
        "x-mac-cyrillic",
    ],
)
@pytest.mark.parametrize("where", ["meta", "http-header"])
def test_gbk_bytes_declared_single_byte_or_big5_decode_as_gb18030(charset: str, where: str) -> None:
    if where == "meta":
        got = decode_html(page(charset).encode("gbk"))
    else:
        got = decode_html(page(None).encode("gbk"), f"text/html; charset={charset}")
    assert got.encoding == "gb18030", (charset, got)
    assert ARTICLE in got.text


@pytest.mark.parametrize(
    ("text", "charset", "codec"),
    [
        (RUSSIAN, "windows-1251", "cp1251"),
        (RUSSIAN, "koi8-r", "koi8-r"),
        (RUSSIAN, "iso-8859-5", "iso8859-5"),
        (GERMAN, "iso-8859-1", "iso8859-1"),
        (GERMAN, "windows-1252", "cp1252"),
        (TRADITIONAL, "big5", "big5"),
        ("通報", "big5", "big5"),
        ("總統府", "big5", "big5"),
    ],
)
def test_honest_single_byte_and_big5_pages_keep_their_charset(
    text: str, charset: str, codec: str
) -> None:
    got = decode_html(page(charset, text).encode(codec))
    assert got.encoding == codec
    assert text in got.text


@pytest.mark.parametrize("charset", ["utf-16", "UTF-16LE", "utf-16be", "utf-32", "unicode"])
def test_utf16_and_utf32_declarations_without_bom_mean_utf8(charset: str) -> None:
    got = decode_html(page(charset).encode("utf-8"))
    assert got.encoding == "utf-8"
    assert ARTICLE in got.text
    header = decode_html(page(None).encode("utf-8"), f"text/html; charset={charset}")
    assert header.encoding == "utf-8" and ARTICLE in header.text
    gbk = decode_html(page(charset).encode("gbk"))
    assert gbk.encoding == "gb18030" and ARTICLE in gbk.text


def test_bomless_utf16_body_is_still_read() -> None:
    got = decode_html(page(None).encode("utf-16-le"), "text/html; charset=utf-16")
    assert got.encoding == "utf-16-le"
    assert ARTICLE in got.text


NON_TEXT_CODECS = [
    "rot13",
    "rot_13",
    "idna",
    "base64",
    "base64_codec",
    "hex",
    "zip",
    "zlib",
    "bz2",
    "punycode",
    "unicode_escape",
    "raw_unicode_escape",
    "uu",
    "quopri",
    "utf-7",
    "x-user-defined",
    "replacement",
    "undefined",
    "mbcs",
    "oem",
    "palmos",
    "string_escape",
]


@pytest.mark.parametrize("charset", NON_TEXT_CODECS)
def test_non_text_codecs_are_ignored(charset: str) -> None:
    assert normalise_charset(charset) is None
    for raw in (page(charset).encode("utf-8"), page(charset).encode("gbk")):
        got = decode_html(raw)
        assert got.encoding in {"utf-8", "gb18030"}
        assert ARTICLE in got.text
        assert ARTICLE in decode_html(raw, f"text/html; charset={charset}").text


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("x-gbk", "gb18030"),
        ("windows-1251", "cp1251"),
        ("x-mac-cyrillic", "mac-cyrillic"),
        ("windows-31j", "cp932"),
        ("ks_c_5601-1987", "euc_kr"),
        ("iso-8859-8-i", "iso8859-8"),
        ("unicode-1-1-utf-8", "utf-8"),
        ("utf-16", "utf-16"),
        ("  'GBK'  ", "gb18030"),
        ("a" * 200, None),
    ],
)
def test_whatwg_labels(name: str, codec: str | None) -> None:
    assert normalise_charset(name) == codec


_FUZZ_CHARSETS = [
    *NON_TEXT_CODECS,
    "utf-8",
    "gbk",
    "gb2312",
    "big5",
    "utf-16",
    "utf-32",
    "shift_jis",
    "euc-kr",
    "iso-2022-jp",
    "koi8-r",
    "windows-1251",
    "latin1",
    "hz",
    "",
    "x",
    "../../etc",
    "utf-8\x00",
    "\u202e",
    "💥",
]


@pytest.mark.parametrize("seed", range(40))
def test_decoder_never_raises_on_random_bytes_and_random_declarations(seed: int) -> None:
    rng = random.Random(1000 + seed)
    for _ in range(25):
        raw = rng.randbytes(rng.randrange(0, 2000))
        meta_cs = rng.choice(_FUZZ_CHARSETS)
        header_cs = rng.choice([None, *_FUZZ_CHARSETS])
        body = f"<meta charset={meta_cs}>".encode("utf-8", "replace") + raw
        if rng.random() < 0.3:
            body = rng.choice([codecs.BOM_UTF16_LE, codecs.BOM_UTF8, codecs.BOM_UTF32_BE]) + body
        content_type = None if header_cs is None else f"text/html; charset={header_cs}"
        got = decode_html(body, content_type)
        assert isinstance(got.text, str)
        assert normalise_charset(got.encoding) is not None


@pytest.mark.parametrize(
    "content_type",
    [
        "text/html; charset=x-bogus",
        "text/html; charset=rot13",
        "text/html; charset=utf-7",
        'text/html; charset="',
        "text/html; charset=",
    ],
)
def test_an_unusable_header_charset_leaves_the_meta_declaration_in_force(
    content_type: str,
) -> None:
    """WHATWG: a header label that names no encoding is no declaration; ``<meta>`` decides.

    A windows-1251 page whose header said ``charset=x-bogus`` was read as GB18030 mojibake.
    """
    text = "Привет, как дела? Это обычный текст новостей. " * 20
    html = f'<html><head><meta charset="windows-1251"><title>x</title></head><body>{text}'
    got = decode_html(html.encode("cp1251"), content_type)
    assert got.encoding == "cp1251", got
    assert text in got.text
    gbk = page("gbk").encode("gbk")
    assert decode_html(gbk, content_type).encoding == "gb18030"
