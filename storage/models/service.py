"""Models of the background service (``govwatch run``): its jobs, its instances, missed runs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import BigIntId


class ServiceJob(Base):
    """One scheduled job of the service (``crawl:SITE``, ``check-links``, ``digest:NAME``):
    when it runs next and how its last run went, kept for ``govwatch status``."""

    __tablename__ = "service_jobs"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    schedule: Mapped[str] = mapped_column(String(100))
    next_run_at: Mapped[datetime | None]
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    # "" (never ran) | ok | failed | killed | interrupted, or a crawl run's outcome
    last_result: Mapped[str] = mapped_column(String(16), default="")
    last_message: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime]


class ServiceInstance(Base):
    """One ``govwatch run`` process that led the schedule: where, since when, last heartbeat."""

    __tablename__ = "service_instances"
    __table_args__ = (Index("ix_service_instances_heartbeat_at", "heartbeat_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]


class MissedRun(Base):
    """A scheduled run that did not happen (or could not start), and why; never silent."""

    __tablename__ = "missed_runs"
    __table_args__ = (Index("ix_missed_runs_job_recorded_at", "job", "recorded_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    job: Mapped[str] = mapped_column(String(100))
    scheduled_at: Mapped[datetime | None]
    recorded_at: Mapped[datetime] = mapped_column(index=True)
    # misfire | overlap | busy | downtime | shutdown | error
    reason: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")
