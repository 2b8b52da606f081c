"""The tree walks of the extractor: the page's one recorded walk, lxml's iterwalk and the
recursive walk give the same lines.

``positioned_lines`` and ``body_lines`` walk the tree with ``lxml.etree.iterwalk``, which does
not report comments; a tree holding one (never one from ``parse_html``) takes the recursive
walk, which keeps the comment's tail text.  The extractor reads a page's lines from one
recorded walk (``crawler.extract.pagewalk``), replayed per element: it must give what the
walks give, on every element.  Also the other shortcuts the extractor takes for speed, each
against what it stands for.
"""

from __future__ import annotations

from difflib import SequenceMatcher

import lxml.etree
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.extract import body as body_module
from crawler.extract import dom, pagewalk
from crawler.extract.dom import parse_html, positioned_lines, text_lines
from crawler.extract.pagekind import is_readable
from storage.search_terms import sorted_unique

PAGE = """<html><head><title>t</title><style>p{}</style></head><body>
<div class="nav"><a href="/">首页</a> &gt; <a href="/list/">要闻</a></div>
<div class="content">
  <p style="text-align: center"><strong>标题重复</strong></p>
  <p>第一段<a href="/x">链接文字</a>之后的文字。<br>换行之后<span>内联</span>尾巴</p>
  <p style="display: none">看不见的段落</p>
  <div hidden>也看不见</div>
  <script>var x = 1;</script>
  <div class="share">分享到微信</div>
  <ul><li>一</li><li>二<em>强调</em></li></ul>
  <p aria-hidden="true">朗读器不读</p>尾文本
  <table><tr><td>格一</td><td>格二</td></tr></table>
  <div class="related_articles"><a href="/a">别的文章标题</a></div>
</div>
<footer>版权所有</footer>
</body></html>"""


def _lines(lines: list[body_module.Line]) -> list[tuple[str, int, bool, object]]:
    return [(ln.text, ln.link_chars, ln.emphasis, ln.block) for ln in lines]


def test_iterwalk_and_recursive_walks_agree_on_every_element() -> None:
    root = parse_html(PAGE)
    order = {el: i for i, el in enumerate(root.iter())}
    for el in root.iter():
        assert positioned_lines(el, order) == dom._positioned_lines_recursive(el, order)
        for skip in (False, True):
            fast = body_module.body_lines(el, skip_furniture_root=skip)
            slow = body_module._body_lines_recursive(el, skip)
            assert _lines(fast) == _lines(slow)


# Hidden and centred in every way the walks know, repeated attributes, a hidden body part
# holding a furniture block, nested links and emphasis, and text tails everywhere.
PAGE_2 = """<html><head><title>t</title><script>x</script></head><body>
<div id="a" class="mainNav">导航<a href="/">首页</a>尾</div>
<h1 align="center">标题<b>粗</b></h1>尾一
<div class="article_content" style="text-align:center"><p align=CENTER>居中段落。</p>
<div ALIGN="center">居中块<span aria-hidden="false">可见</span></div>
<p style="DISPLAY: NONE">隐藏</p><span hidden="">隐藏二</span>尾二
<section style="visibility:hidden"><div class="content"><p>隐藏区里的正文。</p></div></section>
<div class="page_info">第1页 共2页</div>
<div class="share-box">分享 <a href="/w">微信</a></div>
<div class="info">这是一段很长的正文，包含了足够多的文字以便被当作正文保留下来。</div>
<p><a href="/x"><strong>链接里的粗体</strong>链接</a>段尾<br/>换行后</p>
<table><tr><td class="time">2024-01-01</td><td>格</td></tr></table>
<p class="a" class="b" style="color:red" style="display:none">重复属性</p>
</div>
<footer class="footer">版权</footer>尾三
</body></html>"""


def _walked(root: lxml.etree._Element) -> pagewalk.PageWalk:
    walk = pagewalk.walk_page(root)
    assert walk is not None
    return walk


def test_the_recorded_walk_gives_the_walks_lines_on_every_element() -> None:
    hidden_body = PAGE.replace("<body>", '<body style="display:none">')
    for page, least in ((PAGE, 25), (PAGE_2, 25), (hidden_body, 3)):
        root = parse_html(page)
        order = {el: i for i, el in enumerate(root.iter())}
        walk = _walked(root)
        assert walk.order == order
        recorded = 0
        for el in root.iter():
            if not walk.has(el):  # inside an element that hides its subtree
                assert any(walk.has(a) and walk.hides[walk.index[a]] for a in el.iterancestors())
                continue
            recorded += 1
            assert walk.positioned_lines(el) == positioned_lines(el, order)
            for skip in (False, True):
                replayed = walk.body_lines(el, skip_furniture_root=skip)
                assert _lines(replayed) == _lines(
                    body_module.body_lines(el, skip_furniture_root=skip)
                )
        assert recorded >= least


def test_the_recorded_walk_is_refused_for_a_tree_with_comments() -> None:
    root = parse_html(PAGE)
    root.find(".//div").append(lxml.etree.Comment("note"))
    assert pagewalk.walk_page(root) is None


def test_walks_read_what_they_should() -> None:
    root = parse_html(PAGE)
    content = root.find(".//div[@class='content']")
    lines = [ln.text for ln in body_module.body_lines(content)]
    assert lines == [
        "标题重复",
        "第一段链接文字之后的文字。",
        "换行之后内联尾巴",
        "一",
        "二强调",
        "尾文本",
        "格一",
        "格二",
    ]
    assert text_lines(root.find("body"))[:2] == ["首页 > 要闻", "标题重复"]


def test_a_comments_tail_is_kept() -> None:
    root = parse_html("<html><body><div><p>一</p>前<b>粗</b>后</div></body></html>")
    div = root.find(".//div")
    comment = lxml.etree.Comment("note")
    comment.tail = "注释之后"
    div.insert(1, comment)
    assert dom.has_unwalked_nodes(div)
    # <div><p>一</p>前<!--note-->注释之后<b>粗</b>后</div>
    assert text_lines(div) == ["一", "前注释之后粗后"]
    assert [ln.text for ln in body_module.body_lines(div)] == text_lines(div)


def test_sorted_unique_is_numpys_unique() -> None:
    rng = np.random.default_rng(14)
    for size in (0, 1, 2, 5, 100, 10_000):
        values = rng.integers(0, 50, size=size, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        expected = np.unique(values)
        assert np.array_equal(sorted_unique(values.copy()), expected)


def test_remembered_verdicts_are_bounded() -> None:
    calls: list[str] = []

    def compute(text: str) -> bool:
        calls.append(text)
        return "none" in text

    hides = dom.remembered(compute, size=2)
    assert hides("display:none") and hides("display:none")
    assert calls == ["display:none"]  # the second answer was remembered
    long_style = "color:red;" * 100  # longer than what is kept
    assert not hides(long_style) and not hides(long_style)
    assert calls.count(long_style) == 2
    hides("a")
    hides("b")  # a third text: the memo was full and starts again
    hides("display:none")
    assert calls.count("display:none") == 2


# What the extractor's shortcuts must keep: the counts and ratios they stand for.
_READABLE_ALPHABET = st.sampled_from(list("中文a1，。 _-\n\ufffd\ue000é"))


@settings(max_examples=300, deadline=None)
@given(st.lists(_READABLE_ALPHABET, max_size=6000).map("".join))
def test_is_readable_counts_letters_as_str_isalnum_does(text: str) -> None:
    sample = "".join(text[:5000].split())
    letters = sum(c.isalnum() for c in sample)
    noise = sum(c == "\ufffd" or c == "\ue000" for c in sample)
    expected = bool(sample) and 0 < letters >= 0.3 * len(sample) and noise <= 0.1 * len(sample)
    assert is_readable(text) == expected


@settings(max_examples=300, deadline=None)
@given(st.text("标题纪委监委会议abc", max_size=30), st.text("标题纪委监委会议abc", max_size=30))
def test_headline_similarity_is_sequence_matchers_ratio(a: str, b: str) -> None:
    assert body_module._similar(a, b) == (SequenceMatcher(None, a, b).ratio() >= 0.8)


@pytest.mark.parametrize("zero_width", ["\u200b", "\u200c", "\u200d", "\ufeff", ""])
def test_collapse_ws_drops_zero_width_spaces(zero_width: str) -> None:
    assert dom.collapse_ws(f" 中{zero_width}文\u3000 a ") == ("中 文 a" if zero_width else "中文 a")
