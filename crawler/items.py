"""The item the spider hands to the pipeline."""

from __future__ import annotations

from dataclasses import dataclass

from crawler.extract.records import ExtractedArticle, Fingerprint


@dataclass(frozen=True, slots=True)
class ArticleItem:
    article: ExtractedArticle
    canonical_url: str  # the identity of the page (of the URL the list linked to)
    prints: Fingerprint  # of the body, computed with the extraction
