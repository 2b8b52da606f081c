"""One walk over a parsed page, recorded for every later reader of it.

The extractor reads the same tree several times: the document position of every element,
the page's text lines (for the headline, the information line and the page's kind), the
lines of the ``<body>`` that find the body container, then the container's own lines.  Each
walk read the same attributes (``style``, ``hidden``, ``aria-hidden``, ``class``, ``id``,
``align``) and texts of the same elements, and in lxml those reads, not the walks' logic,
are most of the cost (``el.get`` alone is ~2,300 instructions).  :func:`walk_page` walks the
tree once with ``lxml.etree.iterwalk``, reading each element's attributes in one call
(``el.items()``) and its text and tail once, and records per element what the readers need
(tag, whether it hides its subtree, its furniture strength, whether it sets its text off,
text, tail) beside the sequence of start and end events.  :meth:`PageWalk.positioned_lines`
and :meth:`PageWalk.body_lines` replay the events of any element's subtree from that record
without touching lxml, giving exactly what :func:`crawler.extract.dom.positioned_lines` and
:func:`crawler.extract.body.body_lines` give for it (``tests/extract/test_walks.py`` compares
them on every element of pages).

Written by hand: lxml has no API for a visible-text walk with per-element verdicts, and the
readers' rules (what is a block, what is furniture) are the extractor's own.
"""

from __future__ import annotations

from dataclasses import dataclass

import lxml.etree
from lxml.html import HtmlElement

from crawler.extract.body import EMPHASIS_TAGS, SKIP_TAGS, Line, LineCutter, centered_by
from crawler.extract.dom import (
    BLOCK_TAGS,
    INVISIBLE_TAGS,
    collapse_ws,
    has_unwalked_nodes,
    hidden_by,
)
from crawler.extract.furniture import furniture_by_text, strength_by

_NO_ATTRIBUTES: dict[str, str] = {}


@dataclass(slots=True)
class PageWalk:
    """A page's elements in document order (index ``i`` is the element's position in
    ``root.iter()``) with what the extractor's readers need of each, and the walk's events:
    ``i`` for the start of element ``i``, ``~i`` for its end."""

    nodes: list[HtmlElement]
    tags: list[str]  # lower-case
    hides: list[bool]  # an invisible tag, or hidden by its attributes: its subtree is not shown
    strength: list[int]  # furniture strength of its class/id (crawler.extract.furniture)
    emphasis: list[bool]  # an emphasis tag (strong, b, headings) or centred
    texts: list[str | None]
    tails: list[str | None]
    events: list[int]
    start_at: list[int]  # index in ``events`` of each element's start
    end_at: list[int]  # ... and of its end
    order: dict[HtmlElement, int]  # every element's position in ``root.iter()``
    index: dict[HtmlElement, int]  # the recorded elements' index in these lists

    def has(self, el: HtmlElement) -> bool:
        """Whether ``el``'s lines can be read from the record (an element of the page, not
        inside one that hides its subtree)."""
        return el in self.index

    def positioned_lines(self, el: HtmlElement) -> list[tuple[int, str]]:
        """:func:`crawler.extract.dom.positioned_lines` of ``el`` with positions from
        ``order``: its visible text cut at blocks, each line with the position of the
        element whose text starts it (``start`` is that element's index while the line
        is gathered)."""
        top = self.index[el]
        tags, hides, texts, tails = self.tags, self.hides, self.texts, self.tails
        order, nodes = self.order, self.nodes
        lines: list[tuple[int, str]] = []
        buf: list[str] = []
        start = -1
        skipped = -1
        for e in self.events[self.start_at[top] : self.end_at[top] + 1]:
            if e >= 0:
                if skipped >= 0:
                    continue
                if hides[e]:
                    skipped = e
                    continue
                if tags[e] in BLOCK_TAGS:
                    if buf:
                        _cut(buf, lines, order[nodes[start]] if start >= 0 else -1)
                    start = -1
                text = texts[e]
                i = e
            else:
                i = ~e
                if skipped >= 0:
                    if i != skipped:
                        continue
                    skipped = -1
                elif tags[i] in BLOCK_TAGS:
                    if buf:
                        _cut(buf, lines, order[nodes[start]] if start >= 0 else -1)
                    start = -1
                if i == top:
                    continue
                text = tails[i]
            if text:
                if start < 0 and text.strip():
                    start = i
                buf.append(text)
        if buf:
            _cut(buf, lines, order[nodes[start]] if start >= 0 else -1)
        return lines

    def body_lines(
        self, container: HtmlElement, *, skip_furniture_root: bool = False
    ) -> list[Line]:
        """:func:`crawler.extract.body.body_lines` of ``container``."""
        top = self.index[container]
        tags, texts, tails, nodes = self.tags, self.texts, self.tails, self.nodes
        hides, strength, emphasis = self.hides, self.strength, self.emphasis
        out = LineCutter(container)
        # per open element: its parent's link and emphasis state and block, whether a block
        open_: list[tuple[bool, bool, HtmlElement, bool]] = []
        in_link = emph = False  # the innermost open element's state
        skipped = -1
        for e in self.events[self.start_at[top] : self.end_at[top] + 1]:
            if e >= 0:
                if skipped >= 0:
                    continue
                tag = tags[e]
                if hides[e] or (
                    (e != top or skip_furniture_root)
                    and (
                        tag in SKIP_TAGS
                        or (strength[e] and furniture_by_text(nodes[e], strength[e]))
                    )
                ):
                    skipped = e
                    continue
                outer_block = out.block
                block, link, em = out.enter_known(
                    nodes[e], tag, texts[e], in_link, emph or emphasis[e]
                )
                open_.append((in_link, emph, outer_block, block))
                in_link, emph = link, em
            else:
                i = ~e
                if skipped >= 0:
                    if i != skipped:
                        continue
                    skipped = -1
                else:
                    in_link, emph, outer_block, block = open_.pop()
                    if block:
                        out.cut()
                        out.block = outer_block
                if i != top:
                    out.add(tails[i], in_link, emph)
        out.cut()
        return out.lines


def _cut(buf: list[str], lines: list[tuple[int, str]], start: int) -> None:
    line = collapse_ws("".join(buf))
    if line:
        lines.append((start, line))
    buf.clear()


def walk_page(root: HtmlElement) -> PageWalk | None:
    """The record of one walk over ``root``'s tree; ``None`` for a tree holding comments,
    processing instructions or entities (never one from
    :func:`crawler.extract.dom.parse_html`), which ``iterwalk`` does not report.

    The subtree of an element that hides it (``<head>``, scripts, ``display: none`` …) is
    not walked: no reader looks into it.  Such an element's descendants are not recorded,
    and asking for their lines raises ``KeyError`` (:meth:`PageWalk.has` says which are).
    """
    if has_unwalked_nodes(root):
        return None
    nodes: list[HtmlElement] = []
    tags: list[str] = []
    hides: list[bool] = []
    strength: list[int] = []
    emphasis: list[bool] = []
    texts: list[str | None] = []
    tails: list[str | None] = []
    events: list[int] = []
    start_at: list[int] = []
    end_at: list[int] = []
    open_: list[int] = []
    order = {el: i for i, el in enumerate(root.iter())}
    verdicts = _verdicts
    walker = lxml.etree.iterwalk(root, events=("start", "end"))
    for event, node in walker:
        if event == "start":
            i = len(nodes)
            tag = node.tag.lower()
            items = node.items()
            key = (tag, *items) if items else tag
            verdict = verdicts.get(key)
            if verdict is None:
                verdict = _verdict(tag, items, key)
            hidden, strong, emph = verdict
            if hidden:
                walker.skip_subtree()
            nodes.append(node)
            tags.append(tag)
            hides.append(hidden)
            strength.append(strong)
            emphasis.append(emph)
            texts.append(node.text)
            tails.append(None)
            start_at.append(len(events))
            end_at.append(-1)
            events.append(i)
            open_.append(i)
        else:
            i = open_.pop()
            tails[i] = node.tail
            end_at[i] = len(events)
            events.append(~i)
    return PageWalk(
        nodes=nodes,
        tags=tags,
        hides=hides,
        strength=strength,
        emphasis=emphasis,
        texts=texts,
        tails=tails,
        events=events,
        start_at=start_at,
        end_at=end_at,
        order=order,
        index=dict(zip(nodes, range(len(nodes)), strict=True)),
    )


# Verdicts per tag and attributes: a site's templates repeat the same few (80 paragraphs
# with one ``style``).  At most _VERDICTS kept (then forgotten all at once), each for
# attributes of at most _VERDICT_CHARS characters: a hostile page cannot fill memory.
_verdicts: dict[object, tuple[bool, int, bool]] = {}
_VERDICTS = 4096
_VERDICT_CHARS = 512


def _verdict(tag: str, items: list[tuple[str, str]], key: object) -> tuple[bool, int, bool]:
    """Whether an element with this tag and attributes hides its subtree, the furniture
    strength of its class/id, and whether it sets its text off (emphasis tag or centred)."""
    # the HTML parser keeps the first of repeated attributes, as ``el.get`` reads
    attrs = dict(items[::-1]) if items else _NO_ATTRIBUTES
    verdict = (
        tag in INVISIBLE_TAGS or (bool(attrs) and hidden_by(attrs)),
        strength_by(attrs.get("class"), attrs.get("id")),
        tag in EMPHASIS_TAGS or centered_by(attrs.get("style"), attrs.get("align"), tag),
    )
    if sum(len(k) + len(v) for k, v in items) <= _VERDICT_CHARS:
        if len(_verdicts) >= _VERDICTS:
            _verdicts.clear()
        _verdicts[key] = verdict
    return verdict
