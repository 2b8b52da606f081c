"""Models for dedupe and incremental crawling: the near-duplicate index, HTTP validators."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import BigIntId


class DedupeBand(Base):
    """One LSH band key of an article's body (MinHash, see ``crawler.extract.fingerprint``).

    Articles sharing a key are near-duplicate candidates; the primary key ``(key,
    article_id)`` is the index the lookup uses, so it never scans the articles.
    """

    __tablename__ = "dedupe_bands"

    key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    article_id: Mapped[int] = mapped_column(
        BigIntId,
        ForeignKey("articles.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
        index=True,
    )


class HttpValidator(Base):
    """The ``ETag`` / ``Last-Modified`` a page was last served with, for conditional GETs."""

    __tablename__ = "http_validators"

    url: Mapped[str] = mapped_column(Text, primary_key=True)  # canonical URL
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)  # as the server wrote it
    updated_at: Mapped[datetime]
