"""Alembic migrations for Duet's schema; applied on start by `scheduling.db.migrate`."""
