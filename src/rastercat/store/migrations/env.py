"""Alembic environment: run with a connection handed over by :func:`rastercat.store.sql.engine.migrate`."""

from __future__ import annotations

from alembic import context

from rastercat.store.sql.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
