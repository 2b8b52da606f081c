"""What a digest subscription asks for: its filters and the channels it is sent over.

Built by ``scheduler.config`` from ``[[digests]]`` (secrets already read from the environment
there) and passed down; nothing in ``digest`` reads configuration itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from storage.digest_records import ArticleFilter

CHAT_TYPES = ("dingtalk", "wecom", "feishu", "slack")
CHANNEL_TYPES = ("email", "webhook", *CHAT_TYPES)
# the defaults of the ``[[digests]]`` keys are the defaults of these dataclasses' fields
# (``scheduler.settings`` reads them from here: one declaration)
_HTTP_TIMEOUT_SECONDS = 10.0  # webhook and chat robots


@dataclass(frozen=True, slots=True)
class EmailChannel:
    """SMTP: ``security`` is ``starttls`` (port 587), ``ssl`` (465) or ``none`` (25)."""

    name: str
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    security: str = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    password_env: str | None = None  # where the password comes from, for messages
    ca_file: str | None = None  # PEM of CA certificates to trust instead of the system's
    timeout_seconds: float = 30.0
    type: str = "email"


@dataclass(frozen=True, slots=True)
class WebhookChannel:
    """A JSON POST; signed with HMAC-SHA256 when ``secret`` is set."""

    name: str
    url: str = field(repr=False)  # "" when ``url_env`` names a variable that is not set
    url_env: str | None = None
    secret: str | None = field(default=None, repr=False)
    secret_env: str | None = None
    timeout_seconds: float = _HTTP_TIMEOUT_SECONDS
    type: str = "webhook"


@dataclass(frozen=True, slots=True)
class ChatChannel:
    """A group robot of DingTalk, WeCom, Feishu or Slack (``type``), by its webhook URL."""

    name: str
    type: str
    url: str = field(repr=False)  # it holds the robot's token; "" when ``url_env`` is not set
    url_env: str | None = None
    secret: str | None = field(default=None, repr=False)  # DingTalk 加签 / Feishu 签名校验
    secret_env: str | None = None
    timeout_seconds: float = _HTTP_TIMEOUT_SECONDS


Channel = EmailChannel | WebhookChannel | ChatChannel


@dataclass(frozen=True, slots=True)
class Retry:
    """Backoff of failed sends: ``first_seconds`` doubling up to ``max_seconds``."""

    first_seconds: float = 60.0
    max_seconds: float = 3600.0
    max_attempts: int = 20


@dataclass(frozen=True, slots=True)
class Subscription:
    """One ``[[digests]]`` entry."""

    name: str
    channels: tuple[Channel, ...]
    schedule: str = "0 8 * * *"
    sites: tuple[str, ...] = ()  # empty: every site
    keywords: tuple[str, ...] = ()  # any of them in the title or body; empty: every article
    include_dead_links: bool = True
    skip_empty: bool = False
    excerpt_chars: int = 120
    backfill_hours: float = 24.0  # the first digest covers articles first seen this far back
    retry: Retry = field(default_factory=Retry)
    enabled: bool = True

    @property
    def filter(self) -> ArticleFilter:
        return ArticleFilter(sites=self.sites, keywords=self.keywords)

    def channel(self, name: str) -> Channel | None:
        return next((c for c in self.channels if c.name == name), None)


@dataclass(frozen=True, slots=True)
class HealthThresholds:
    """When a site's crawl health goes into a digest: the ``[service]`` thresholds
    ``failing_runs_warning`` and ``zero_articles_warning_hours``, whose defaults live in
    ``scheduler.settings`` (no defaults here: a second copy had drifted to 48 hours)."""

    failing_runs: int  # failed runs in a row
    quiet_hours: float  # list pages without article links, or no new article, this long
