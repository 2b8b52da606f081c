"""Alembic environment: runs migrations on the connection ``storage.migrate`` hands in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alembic import context
from sqlalchemy import Connection

if TYPE_CHECKING:
    from sqlalchemy import MetaData

config = context.config


def target_metadata() -> MetaData | None:
    """The models' tables, which only ``alembic revision --autogenerate`` compares with a
    database: an upgrade runs the migration files alone, and importing the ORM's models was
    most of the time a new database took to create (the crawl creates it beside its start)."""
    if not getattr(getattr(config, "cmd_opts", None), "autogenerate", False):
        return None
    from storage.models import Base

    return Base.metadata


def run_migrations_online() -> None:
    connection: Connection | None = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("storage.migrate must pass a connection in config.attributes")
    context.configure(
        connection=connection,
        target_metadata=target_metadata(),
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("govwatch runs migrations online only (govwatch init)")
run_migrations_online()
