"""The database engine: SQLite tuned for concurrent writers, transactions, and migrations on start.

SQLite serialises writers; taking the write lock at BEGIN (`BEGIN IMMEDIATE`) instead of at the
first write turns "database is locked" upgrade deadlocks into orderly waiting under `busy_timeout`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 10_000


def make_engine(url: str) -> AsyncEngine:
    """Create the engine; for SQLite, set WAL, busy_timeout, foreign keys and explicit BEGINs."""
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_async_engine(url, pool_size=5, max_overflow=10, pool_timeout=60)
        _tune_sqlite(engine)
        return engine
    if url.startswith("postgresql"):
        raise ValueError(
            "PostgreSQL support (asyncpg) is not built yet; use a sqlite+aiosqlite:/// URL."
        )
    raise ValueError(f"unsupported database URL {url!r}; use sqlite+aiosqlite:///path/to/file")


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split(":///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Autocommit at the driver level so that SQLAlchemy's "begin" event below decides the BEGIN.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("duet_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _writer_lock(engine: AsyncEngine) -> asyncio.Lock:
    """One FIFO queue of this process's writers per engine.

    SQLite's busy handler is not fair: waiters poll with growing sleeps, so under load some writes
    waited over a second (and could reach busy_timeout) while others went straight through.
    Queueing in-process first leaves SQLite's lock to arbitrate between processes only.
    """
    lock: asyncio.Lock | None = getattr(engine.sync_engine, "_duet_writer_lock", None)
    if lock is None:
        lock = asyncio.Lock()
        engine.sync_engine._duet_writer_lock = lock  # type: ignore[attr-defined]
    return lock


# (kind "read" | "write", seconds): told of every transaction an engine ran (web/metrics.py).
TxObserver = Callable[[str, float], None]


def observe_transactions(engine: AsyncEngine, observer: TxObserver) -> Callable[[], None]:
    """Tell `observer` how long each outermost `write_tx`/`read_tx` of `engine` took, from
    taking a connection to the commit or rollback (the wait for this process's write lock is
    not part of it); returns the call that stops it. Per engine, as the writer lock is: the
    lowest layer cannot know who listens."""
    observers = _observers(engine)
    observers.append(observer)
    return lambda: observers.remove(observer)


def _observers(engine: AsyncEngine) -> list[TxObserver]:
    found: list[TxObserver] | None = getattr(engine.sync_engine, "_duet_tx_observers", None)
    if found is None:
        found = []
        engine.sync_engine._duet_tx_observers = found  # type: ignore[attr-defined]
    return found


def _observed(engine: AsyncEngine, kind: str, started: float) -> None:
    observers = _observers(engine)
    if observers:
        elapsed = time.perf_counter() - started
        for observer in observers:
            observer(kind, elapsed)


@dataclass(eq=False)
class _Ambient:
    """A transaction that the `write_tx`/`read_tx` blocks of one task join instead of opening
    their own (`one_transaction`), and what to run once it has committed."""

    conn: AsyncConnection
    task: asyncio.Task[Any] | None
    after: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


_ambient: ContextVar[_Ambient | None] = ContextVar("duet_ambient_transaction", default=None)


def _joined() -> _Ambient | None:
    """The ambient transaction, if this very task opened it: a task started from inside it
    (which copies the context) must not use a connection that is gone when it runs."""
    ambient = _ambient.get()
    if ambient is None or ambient.task is not asyncio.current_task():
        return None
    return ambient


@asynccontextmanager
async def write_tx(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A write transaction: holds SQLite's write lock from the start, commits on success.

    Inside `one_transaction` it is a savepoint of that transaction instead: a change refused
    half-way rolls back alone, and nothing commits before the whole block does."""
    ambient = _joined()
    if ambient is not None:
        async with ambient.conn.begin_nested():
            yield ambient.conn
        return
    async with _writer_lock(engine):
        started = time.perf_counter()
        try:
            async with engine.connect() as conn:
                conn = await conn.execution_options(duet_write=True)
                async with conn.begin():
                    yield conn
        finally:
            _observed(engine, "write", started)


@asynccontextmanager
async def read_tx(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A read transaction: a consistent snapshot that never blocks writers (WAL).

    Inside `one_transaction` it reads that transaction (and so sees its own changes)."""
    ambient = _joined()
    if ambient is not None:
        yield ambient.conn
        return
    started = time.perf_counter()
    try:
        async with engine.connect() as conn, conn.begin():
            yield conn
    finally:
        _observed(engine, "read", started)


@asynccontextmanager
async def one_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One write transaction for everything this task does in the block, however many
    `write_tx`/`read_tx` the code inside opens: web/idempotency.py stores a request's answer in
    the transaction of its change, so a change is never committed without it. `after_commit`
    callbacks registered inside run once it has committed, not if it rolls back."""
    async with write_tx(engine) as conn:
        ambient = _Ambient(conn, asyncio.current_task())
        token = _ambient.set(ambient)
        try:
            yield conn
        finally:
            _ambient.reset(token)
    for callback in ambient.after:
        await callback()


async def after_commit(callback: Callable[[], Awaitable[None]]) -> None:
    """Run `callback` now, or, inside `one_transaction`, once that transaction has committed:
    what tells the rest of the world about a change (closing a cancelled chat's room) must not
    run for a change that may still roll back."""
    ambient = _joined()
    if ambient is None:
        await callback()
    else:
        ambient.after.append(callback)


def _alembic_config(connection: Connection) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


async def migrate(engine: AsyncEngine) -> None:
    """Apply every pending Alembic migration; idempotent, so it runs on each start."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(duet_write=True)
        await conn.run_sync(lambda sync_conn: command.upgrade(_alembic_config(sync_conn), "head"))
        await conn.commit()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The applied revision, for `/readyz` and operators."""
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync_conn: MigrationContext.configure(sync_conn).get_current_revision()
        )
