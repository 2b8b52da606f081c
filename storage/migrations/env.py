"""Alembic environment: runs migrations on the connection ``storage.migrate`` hands in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from storage.models import Base

config = context.config


def run_migrations_online() -> None:
    connection: Connection | None = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("storage.migrate must pass a connection in config.attributes")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("govwatch runs migrations online only (govwatch init)")
run_migrations_online()
