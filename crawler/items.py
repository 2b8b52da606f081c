"""The item the spider hands to the pipeline."""

from __future__ import annotations

from dataclasses import dataclass

from crawler.extract.records import ExtractedArticle, Fingerprint
from storage.search_terms import TermText


@dataclass(frozen=True, slots=True)
class ArticleItem:
    article: ExtractedArticle
    canonical_url: str  # the identity of the page (of the URL the list linked to)
    prints: Fingerprint  # of the body, computed with the extraction
    terms: TermText | None = None  # the search index's terms, computed with the extraction
