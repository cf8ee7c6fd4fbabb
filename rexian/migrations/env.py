"""Alembic environment: runs on the connection handed over by ``hub.storage.engine.migrate``."""

from __future__ import annotations

from alembic import context

from rexian.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only used via hub.storage.engine.migrate
    raise RuntimeError("run migrations through `rexian migrate` (hub.storage.engine.migrate)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
