"""Models of the job queue's workers (``govwatch worker``, issue 16).

Procrastinate keeps its own tables (``procrastinate_jobs``, ``procrastinate_workers``: an id
and a heartbeat); this one adds what people need to find a worker: its host and pid.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import BigIntId


class QueueWorker(Base):
    """One ``govwatch worker`` process, by the id Procrastinate registered it under."""

    __tablename__ = "queue_workers"

    worker_id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=False)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    queues: Mapped[str] = mapped_column(String(100))  # comma-separated
    started_at: Mapped[datetime]
