"""Models of what a crawl keeps per host between runs: cookies (cookie replay) and the
browser's User-Agent they go with."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class HostCookie(Base):
    """One cookie a site set (by ``Set-Cookie`` or an inline script), kept until it expires.

    ``domain`` is the cookie's domain as the cookie jar holds it: the host for a host-only
    cookie, ``.example.org`` for a domain cookie.  Session cookies are not kept.
    """

    __tablename__ = "host_cookies"

    domain: Mapped[str] = mapped_column(String(255), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    secure: Mapped[bool]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]


class HostAgent(Base):
    """The User-Agent a browser passed a host's JavaScript challenge with, kept with its
    cookies (WAFs bind clearance cookies to the agent): the next run sends it with them.

    Kept until the browser's longest-lived cookie for the host expires.
    """

    __tablename__ = "host_agents"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_agent: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
