"""What a send attempt came to, and the interface every channel's sender has."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from digest.records import Digest


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: str  # delivered | retry | failed
    parts_sent: int  # messages of the digest sent so far (chat digests may take several)
    status: int | None = None  # HTTP status, SMTP reply code, or a robot's error code
    error: str = ""
    retry_after: float | None = None  # seconds the service asked us to wait (429)

    @property
    def delivered(self) -> bool:
        return self.outcome == "delivered"


class Sender(Protocol):
    def send(self, digest: Digest, key: str, parts_sent: int) -> SendResult:
        """Send the digest (from message ``parts_sent`` on) under its idempotency ``key``."""
        ...
