"""The migration history is one line, and a migrated database is exactly `scheduling/schema.py`.

Several features add tables side by side; a migration chained to the wrong parent (two heads)
or a table added to the schema but not to a migration (or the other way round) fails here
instead of on an operator's first start.
"""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from scheduling.db import MIGRATIONS_DIR, make_engine, migrate
from scheduling.schema import metadata

pytestmark = pytest.mark.both_backends


def test_the_history_has_one_head_and_one_base() -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(cfg)
    assert len(script.get_heads()) == 1, script.get_heads()
    assert len(script.get_bases()) == 1, script.get_bases()


def _differences(sync_conn: Any) -> list[Any]:
    context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
    return [
        diff
        for diff in compare_metadata(context, metadata)
        # Alembic keeps its own bookkeeping table, which the schema does not describe.
        if not (diff[0] == "remove_table" and diff[1].name == "alembic_version")
    ]


async def test_a_migrated_database_is_the_schema(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            differences = await conn.run_sync(_differences)
    finally:
        await engine.dispose()
    assert differences == []
