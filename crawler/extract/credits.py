"""Credit lines: the names of the people who wrote an article, as Chinese pages print them.

A credit names people with their roles and employers around the names — "本报记者 王五
通讯员 李四", "总台央视记者 张三 李四", "新华社记者 赵六", "文/栗思", "文丨栗思",
"执笔人：张三", "中央纪委国家监委网站 李云舒", "作者：某研究所研究员徐占忱" — on a line of
its own, in a dateline ("新华社北京5月19日电（记者 王五）"), or in brackets closing the last
paragraph ("（钟才文）").  :func:`credit_names` reduces such a text to the names alone,
space-separated; the other functions find credits in those places.  Photo credits ("新华社记者
谢环驰 摄") and editor lines ("责任编辑：李四") are not authors: they give ``None``.
"""

from __future__ import annotations

import re

_CJK = r"\u4e00-\u9fff"
# Who employs the person: "新华社", "本报", "总台央视", "中青报·中青网", "《棱镜》".
_EMPLOYER = (
    rf"(?:[{_CJK}·《》A-Za-z]{{0,12}}?"
    r"(?:社|报|台|网|网站|刊|》|视|媒|闻|客户端|杂志|频道|中心)\s*)?"
)
_ROLE_WORDS = (
    r"(?:记者|通讯员|评论员|特约撰稿人|撰稿人|实习生|作者|执笔人|执笔|撰文|撰稿|编译|整理|口述|"
    r"采写|报道)"
)
# A role with its employer and rank: "本报记者", "新华社驻京记者", "总台央视记者", "特约评论员".
_ROLE_RE = re.compile(
    _EMPLOYER
    + rf"(?:驻[{_CJK}]{{1,6}})?(?:特约|特派|首席|见习|实习|全媒体|融媒体|视频)?"
    + _ROLE_WORDS
    + r"\s*[:：/|丨｜]?"
)
# "文/", "文丨", "图文：", "文 / 图：" at the start of a token: one-character roles need a mark.
_SHORT_ROLE_RE = re.compile(
    r"(?:^|(?<=[\s(（]))(?:文\s*/\s*图|图\s*/\s*文|图文|文图|文|图)\s*[/|丨｜:：]\s*"
)
_LABEL_COLON_RE = re.compile(r"^\s*[:：/|丨｜]\s*")
# A name followed by what they did: "斯凌整理", "马俊峰/文" (after the split), "张三报道".
_NAME_SUFFIX_RE = re.compile(r"(?<=[" + _CJK + r"]{2})(?:整理|报道|编译|撰文|执笔|采写|口述)$")
_PHOTO_RE = re.compile(r"摄影?\s*$|供图|^\s*(?:摄影|图片|图)\s*[/|丨｜:：]")
_TEXT_ROLE_RE = re.compile(
    r"(?:^|[\s(（])(?:文|图文|文\s*/\s*图)\s*[/|丨｜:：]|图\s*/\s*文|作者|执笔|撰文"
)
# Labels of fields that are not the author; a credit stops where one begins.
_OTHER_LABEL_RE = re.compile(
    r"(?:信息|文章|稿件|本文)?(?:来源|稿源|出处)\s*[:：]|(?:发布|发表)?(?:时间|日期)\s*[:：]"
    r"|(?:浏览|点击|阅读)(?:量|数|次数)?\s*[:：]|(?:19|20)\d{2}\s*[-/.年]"
)
# Editors, proofreaders and the like: a credit stops where they begin ("新京报记者 张三 编辑
# 李四 校对 王五"); a text that starts with one names no author.
_EDITOR_RE = re.compile(
    r"(?:^|(?<=[\s|丨｜/（(]))(?:责任编辑|责编|编辑|校对|审核|审校|编审|监制|美编|制图)"
    r"|(?:责任编辑|责编|编辑|校对|审核|编审)\s*[:：]"
)
_SPLIT_RE = re.compile(r"[\s、，,;；/|丨｜&＆]+")
_NAME_RE = re.compile(rf"^(?:[{_CJK}]{{2,4}}|[{_CJK}]{{1,8}}(?:·[{_CJK}]{{1,8}}){{1,3}})$")
# Words that end organisations and places, not people's names.
_ORG_END_RE = re.compile(
    r"(?:社|报|网|台|局|委|会|院|厅|办|站|所|处|馆|校|司|省|市|县|区|镇|乡|村|部|刊|中心|集团|"
    r"公司|支部|客户端|网站|新闻|日报|晚报|时报|频道|杂志|期刊|联播)$"
)
# Titles written before a name: "研究员徐占忱", "北京大学教授 张三".
_TITLE_WORDS = (
    r"(?:副?研究员|副?教授|讲师|博士后?|硕士|研究生|副?部长|副?主任|副?院长|副?所长|副?局长|"
    r"副?处长|副?书记|副?主席|副?主编|总编辑|分析师|经济学家|专家|学者|律师|特约评论员|评论员)"
)
_TITLED_NAME_RE = re.compile(rf"^.*{_TITLE_WORDS}(?P<name>[{_CJK}·]*)$")
# Words that follow 记者 in headings, not names ("记者手记", "记者调查").
_NOT_NAMES = frozenset(
    {"手记", "来信", "调查", "观察", "追踪", "走访", "视角", "观点", "节日", "之家", "本报",
     "本网", "本刊", "本台", "综合", "整理", "报道", "编译", "未知", "佚名", "匿名", "原创",
     "转载", "网友", "读者", "记者", "作者", "通讯员", "图片", "视频", "新闻", "待续", "未完",
     "全文完", "本文完", "原标题", "编者按", "上接", "下转"}
)  # fmt: skip
# Parts of words that are not names: "本报综合", "据新华社", "图源网络".
_NOT_NAME_PART_RE = re.compile(r"^(?:本报|本网|本刊|本台|据|综合|转自|选自)|[网报图讯]")
_SENTENCE_RE = re.compile(r"[。！？!?…，,；;“”\"]")
_BULLETS = "□■◇◆●○◎※★☆·- 　"
_BRACKETS = " 　（）()[]【】〔〕"
# "新华社北京5月19日电（记者 王五）", "本报讯（记者叶婉）", "（总台央视记者 张三）今天…"
_DATELINE_RE = re.compile(
    r"^(?P<lead>[^（(。！？]{0,40}?(?:电|讯|消息))?\s*[（(](?P<c>[^（）()]{2,40})[）)]"
)
# "本报讯 记者 王五 通讯员 李四 近日，…": roles and names set off by spaces, no brackets.
_OPEN_DATELINE_RE = re.compile(
    rf"^[^（(。！？，]{{0,30}}?(?:电|讯)\s+(?P<c>(?:(?:记者|通讯员|实习生)\s*"
    rf"[{_CJK}·]{{2,4}}(?:[\s、]+[{_CJK}·]{{2,4}})*\s+)+)"
)
_BRACKET_AUTHOR_RE = re.compile(r"(?:作者|撰文|执笔人?)\s*[:：]\s*(?P<v>[^（）()：:]{2,60})[）)]")
_HEAD_LINES = 8
_TAIL_LINES = 3
_CLOSING_RE = re.compile(r"[（(](?P<c>[^（）()]{2,40})[）)]\s*$")


def _names(tokens: list[str], strict: bool) -> list[str]:
    out: list[str] = []
    for tok in tokens:
        tok = _NAME_SUFFIX_RE.sub("", tok.strip(_BULLETS))
        if not tok or tok in {"文", "图", "摄"}:
            continue
        if not strict and not _NAME_RE.match(tok):
            m = _TITLED_NAME_RE.match(tok)
            if m:
                tok = m["name"]
                if not tok:
                    continue  # an affiliation alone: "某研究部部长"
        if (
            not _NAME_RE.match(tok)
            or tok in _NOT_NAMES
            or _ORG_END_RE.search(tok)
            or _NOT_NAME_PART_RE.search(tok)
        ):
            return []
        if tok not in out:
            out.append(tok)
    return out


def credit_names(text: str, *, strict: bool = True, source: str | None = None) -> str | None:
    """The names on a credit, space-separated, or ``None`` when ``text`` is not one.

    Role words, employers and ranks go ("本报记者 王五 通讯员 李四" → "王五 李四"); so does a
    leading employer or the page's ``source`` ("中央纪委国家监委网站 李云舒" → "李云舒").
    ``strict`` (for unlabelled text) wants every part to be a name; otherwise (the value of an
    "作者：" label) titles before a name are dropped too ("某部部长、研究员徐占忱" → "徐占忱").
    """
    text = text.strip(_BRACKETS).lstrip(_BULLETS)
    m = _EDITOR_RE.search(text)
    if m:
        text = text[: m.start()].strip()
    if not text or len(text) > 80:
        return None
    if _PHOTO_RE.search(text) and not _TEXT_ROLE_RE.search(text):
        return None  # a photographer's credit
    m = _OTHER_LABEL_RE.search(text)
    if m:
        text = text[: m.start()]
    text = _SHORT_ROLE_RE.sub(" ", text)
    text = _ROLE_RE.sub(" ", text)
    text = _LABEL_COLON_RE.sub("", text)
    if strict and re.search(r"[:：]", text):
        return None  # another label: "原标题：…"
    text = re.sub(r"\s*[:：]\s*", " ", text)
    text = re.sub(r"(?:\s+|\s*/\s*)(?:文/图|图/文|摄影?|文)\s*$", "", text)
    if strict and _SENTENCE_RE.search(text):
        return None
    tokens = [t for t in _SPLIT_RE.split(text.strip()) if t]
    if source and tokens and tokens[0] == source:
        tokens = tokens[1:]
    elif len(tokens) >= 2 and len(tokens[0]) >= 3 and _ORG_END_RE.search(tokens[0]):
        tokens = tokens[1:]  # "中央纪委国家监委网站 李云舒": the employer
    names = _names(tokens, strict)
    if not names or len(names) > 8:
        return None
    return " ".join(names)


def is_credit(text: str) -> bool:
    """True when ``text`` reads as a credit: a role word, a "文/" mark or a bracketed name."""
    return bool(_ROLE_RE.search(text) or _SHORT_ROLE_RE.search(text))


def credit_line_names(line: str, source: str | None = None) -> str | None:
    """The names when ``line`` is a credit and nothing else, else ``None``.

    "本报记者 王五" → "王五"; "中央纪委国家监委网站 张三" → "张三"; "（总台央视记者 张三）" →
    "张三".  A line of bare names with no role and no employer is not taken for a credit.
    """
    text = line.strip(_BRACKETS).lstrip(_BULLETS)
    if not text or len(text) > 40 or _SENTENCE_RE.search(text):
        return None
    names = credit_names(text, source=source)
    if names is None or squash_ws(names) == squash_ws(text):
        return None  # bare names: a credit only when something says so
    return names


def info_line_names(line: str) -> str | None:
    """The names of an unlabelled credit on an information line ("2024-05-13 来源：重庆日报
    记者 王五 通讯员 李四" → "王五 李四")."""
    m = _ROLE_RE.search(line) or _SHORT_ROLE_RE.search(line)
    if not m:
        return None
    return credit_names(line[m.start() :])


def dateline_names(paragraph: str) -> str | None:
    """The names in a dateline's brackets at the start of the first paragraph.

    "新华社巴黎12月9日电（记者唐霁）法国…" → "唐霁"; "本报讯（记者 王五 通讯员 李四）…" →
    "王五 李四"; "本报讯 记者 王五 近日，…" → "王五".  Brackets at the start without a news
    agency's dateline need a role word in them.
    """
    m = _DATELINE_RE.match(paragraph)
    if not m:
        om = _OPEN_DATELINE_RE.match(paragraph)
        return credit_names(om["c"]) if om else None
    inner = m["c"]
    lead = m["lead"] or ""
    if not lead.endswith("电") and not is_credit(inner):
        return None  # "央视网消息（新闻联播）": bare names only after a news agency's 电
    return credit_names(inner)


def closing_names(paragraph: str) -> str | None:
    """The names in brackets closing the last paragraph ("…共赢”。（钟才文）" → "钟才文")."""
    m = _CLOSING_RE.search(paragraph)
    if not m:
        return None
    return credit_names(m["c"])


def squash_ws(text: str) -> str:
    """``text`` without whitespace and name separators, for comparing names with a line."""
    return _SPLIT_RE.sub("", text)


def body_credit(lines: list[str], paragraphs: list[str], source: str | None) -> str | None:
    """The author named in the body: a credit line among its first or last lines, the
    dateline of its first paragraphs, or brackets closing its last paragraph.

    ``lines`` are the body's lines before cleaning (credit lines may have been dropped from
    ``paragraphs`` as furniture), ``paragraphs`` the cleaned ones.
    """
    for line in lines[:_HEAD_LINES]:
        names = credit_line_names(line, source)
        if names:
            return names
    for para in paragraphs[:2]:
        names = dateline_names(para)
        if names:
            return names
    for line in reversed(lines[-_TAIL_LINES:]):
        if len(line) > 120:
            continue
        names = credit_line_names(line, source)
        if names is None and line.startswith(("（", "(")):
            names = _bracketed_label_author(line)
        if names:
            return names
    if paragraphs:
        return closing_names(paragraphs[-1])
    return None


def _bracketed_label_author(line: str) -> str | None:
    """The author in a bracketed closing line ("（本文来源：… 作者：研究员张三）" → "张三")."""
    m = _BRACKET_AUTHOR_RE.search(line)
    return credit_names(m["v"], strict=False) if m else None
