"""Alembic environment: runs on a connection handed over by `scheduling.db.migrate`.

Duet applies migrations on start from inside the app (no separate alembic.ini to keep in sync);
the `alembic` CLI still works through `duet db` for operators who want to inspect revisions.
"""

from __future__ import annotations

from alembic import context

from scheduling.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `duet migrate`, which supplies a connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
