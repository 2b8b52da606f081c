"""Configured selectors: CSS, or XPath when the expression starts with ``/`` or ``(``."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from lxml import etree
from lxml.cssselect import CSSSelector
from lxml.html import HtmlElement


def is_xpath(expression: str) -> bool:
    return expression.lstrip().startswith(("/", "(", "./"))


@lru_cache(maxsize=512)
def compile_selector(expression: str) -> etree.XPath:
    """Compile a selector once; raises ``ValueError`` with a readable message when invalid."""
    expression = expression.strip()
    try:
        if is_xpath(expression):
            return etree.XPath(expression)
        return CSSSelector(expression, translator="html")
    except (etree.XPathSyntaxError, etree.XPathError) as exc:
        raise ValueError(f"invalid XPath: {exc}") from exc
    except Exception as exc:  # cssselect raises its own SelectorSyntaxError / ExpressionError
        raise ValueError(f"invalid CSS selector: {exc}") from exc


def select_elements(tree: HtmlElement, expression: str) -> list[HtmlElement]:
    """Elements matched by ``expression``; text or attribute results are dropped."""
    result: Any = compile_selector(expression)(tree)
    if not isinstance(result, list):
        return []
    return [el for el in result if isinstance(el, HtmlElement)]
