"""The database engine, transactions and migrations on start, for SQLite and PostgreSQL.

SQLite (the embedded default) serialises writers: taking the write lock at BEGIN
(`BEGIN IMMEDIATE`) instead of at the first write turns "database is locked" upgrade deadlocks
into orderly waiting under `busy_timeout`, and one in-process queue keeps the waiting fair.

PostgreSQL (the shared store of several nodes) runs writers side by side under READ COMMITTED;
what must not race is settled by the database itself: unique and exclusion constraints, and
triggers that lock the row guarding their rule before they count (migrations/0002). Code that
reads, decides and writes in one place takes a lock of its own (`serialize_on`).
docs/architecture.md says why row locks and not SERIALIZABLE.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 10_000

# PostgreSQL pool, per node: up to POOL_SIZE connections, opened as needed and then kept.
# No overflow: an overflow connection is closed at its return whenever POOL_SIZE are idle, so
# under a join storm's changing load they were opened and closed again request after request
# (asyncpg's connect and authentication, ~4 % of the storm's CPU, docs/performance.md). Three
# nodes stay below PostgreSQL's default max_connections (100); docs/operations.md.
POOL_SIZE = 20
POOL_OVERFLOW = 0
POOL_TIMEOUT_S = 30
CONNECT_TIMEOUT_S = 5

# SQLSTATE classes that say "the database is not there right now", not "your data is wrong":
# 08 connection exception, 53 insufficient resources, 57 operator intervention (shutdown,
# starting up), 40 transaction rollback (deadlock or serialization failure: try again).
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "40", "53", "57")


class UnsupportedDatabase(ValueError):
    """`database_url` names a database Duet does not speak."""


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached or refuses us; the message is one sentence for operators."""


def make_engine(url: str) -> AsyncEngine:
    """Create the engine: SQLite with WAL, busy_timeout, foreign keys and explicit BEGINs, or
    PostgreSQL through asyncpg with a bounded pool that drops connections the server closed
    (`_drop_closed`), so a database that went away and came back is used again without a
    restart."""
    if url.startswith("sqlite+aiosqlite:"):
        try:
            _ensure_sqlite_dir(url)
        except OSError as exc:
            raise DatabaseUnavailable(describe_failure(url, exc)) from exc
        engine = create_async_engine(url, pool_size=5, max_overflow=10, pool_timeout=60)
        _tune_sqlite(engine)
        return engine
    if url.startswith("postgresql+asyncpg:"):
        try:
            engine = create_async_engine(
                url,
                pool_size=POOL_SIZE,
                max_overflow=POOL_OVERFLOW,
                pool_timeout=POOL_TIMEOUT_S,
                isolation_level="READ COMMITTED",
                connect_args={"timeout": CONNECT_TIMEOUT_S},
            )
        except ArgumentError as exc:
            raise UnsupportedDatabase(f"database_url is not a valid URL: {exc}") from exc
        event.listen(engine.sync_engine.pool, "checkout", _drop_closed)
        return engine
    raise UnsupportedDatabase(
        f"unsupported database_url {_redacted(url)!r}: use sqlite+aiosqlite:///path/to/file or "
        "postgresql+asyncpg://user:password@host:5432/database"
    )


def _drop_closed(_dbapi_conn: Any, _record: Any, proxy: Any) -> None:
    """A pooled PostgreSQL connection the server closed (a restart, a terminated backend) is
    replaced at checkout. asyncpg notices the close when it arrives, so this costs no round
    trip, where `pool_pre_ping` cost three per checkout (BEGIN, a ping, ROLLBACK). A connection
    cut without a close is found by its first statement, answered 503 like any outage."""
    if proxy.driver_connection.is_closed():
        raise DisconnectionError("the server closed this connection")


def _redacted(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@", 1)[-1]


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


def is_sqlite(engine: AsyncEngine | AsyncConnection) -> bool:
    return engine.dialect.name == "sqlite"


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
    """A write transaction that commits on success; on SQLite it holds the write lock from the
    start, on PostgreSQL it is a READ COMMITTED transaction like any other.

    Inside `one_transaction` it is a savepoint of that transaction instead: a change refused
    half-way rolls back alone, and nothing commits before the whole block does."""
    ambient = _joined()
    if ambient is not None:
        async with ambient.conn.begin_nested():
            yield ambient.conn
        return
    started = time.perf_counter()
    try:
        if not is_sqlite(engine):
            # PostgreSQL: writers run side by side; constraints, triggers and `serialize_on`
            # settle what must not race.
            async with engine.connect() as conn, conn.begin():
                yield conn
            return
        async with _writer_lock(engine):
            started = time.perf_counter()  # the time in the transaction, not in the queue
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


class _SyncReads:
    """A synchronous connection with the async connection's `execute` (awaitable, same Result),
    so the store functions run on it unchanged."""

    __slots__ = ("_conn", "dialect")

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.dialect = conn.dialect

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        return self._conn.execute(statement, parameters)


def sqlite_dbapi(conn: Any) -> sqlite3.Connection | None:
    """The pysqlite connection under a `point_read` on SQLite, else None (PostgreSQL, or a read
    that fell back to `read_tx`). For a hot read of many rows that converts them itself, where
    SQLAlchemy's result machinery cost more than SQLite's own work (one employee's free slots:
    `store_availability.free_slot_rows`, docs/performance.md)."""
    if isinstance(conn, _SyncReads):
        raw: sqlite3.Connection = conn._conn.connection.driver_connection  # type: ignore[assignment]
        return raw
    return None


def _sqlite_reader(engine: AsyncEngine) -> sa.Engine | None:
    """The synchronous twin of a SQLite file engine (pysqlite on the same file), made once per
    engine; None for PostgreSQL and for in-memory SQLite (a second connection would see another
    database)."""
    if not is_sqlite(engine):
        return None
    reader: sa.Engine | None = getattr(engine.sync_engine, "_duet_point_reader", None)
    if reader is None:
        path = engine.url.database
        if not path or path == ":memory:" or path.startswith("file:"):
            return None
        reader = sa.create_engine(f"sqlite:///{path}", pool_size=4, max_overflow=16)

        @event.listens_for(reader, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Autocommit at the driver: `point_read` says BEGIN itself, `point_select` needs
            # none (one statement is its own snapshot); SQLAlchemy's COMMIT and ROLLBACK go to
            # the driver, which sends them only inside a transaction.
            dbapi_conn.isolation_level = None
            dbapi_conn.execute(f"PRAGMA busy_timeout={POINT_READ_BUSY_MS}")
            dbapi_conn.execute("PRAGMA query_only=ON")

        engine.sync_engine._duet_point_reader = reader  # type: ignore[attr-defined]
    return reader


# A point read on the loop's thread waits at most this long for SQLite (in WAL mode a reader
# waits only while another connection recovers the WAL index, which is rare and short).
POINT_READ_BUSY_MS = 200


@asynccontextmanager
async def point_read(engine: AsyncEngine) -> AsyncIterator[Any]:
    """A read for a few indexed lookups on a hot path (the join grant, one employee's slots):
    on SQLite it runs them synchronously on the event loop's thread.

    aiosqlite hands every statement, BEGIN and COMMIT to a worker thread and back, and with
    SQLAlchemy's async layer that cost ~0.5 ms of CPU per statement, against ~20-50 µs for the
    same lookup done in place (docs/performance.md, "The join grant"). WAL readers never wait
    for writers, so a handful of lookups by key holds the loop for well under a millisecond.
    The block must not await anything but its own `execute`s: the connection is not shared
    across tasks only because nothing yields in between. PostgreSQL (a network round trip per
    statement) reads without BEGIN and COMMIT: under READ COMMITTED every statement takes its
    own snapshot either way, so the transaction bought nothing but two round trips. In-memory
    SQLite gets a `read_tx`, as does a block inside `one_transaction` (which must see its own
    changes)."""
    if _joined() is not None:
        async with read_tx(engine) as conn:
            yield conn
        return
    if engine.dialect.name == "postgresql":
        started = time.perf_counter()
        try:
            async with engine.connect() as conn:
                yield await conn.execution_options(isolation_level="AUTOCOMMIT")
        finally:
            _observed(engine, "read", started)
        return
    reader = _sqlite_reader(engine)
    if reader is None:
        async with read_tx(engine) as conn:
            yield conn
        return
    started = time.perf_counter()
    try:
        with reader.connect() as sync_conn, sync_conn.begin():
            sync_conn.exec_driver_sql("BEGIN")  # one snapshot for all the block's lookups
            yield _SyncReads(sync_conn)
    finally:
        _observed(engine, "read", started)  # a transaction like any other, for the metrics


class PointQuery:
    """One SELECT by key for `point_select`, built once at import.

    On SQLite it is compiled once to the driver's SQL and run on a pooled sqlite3 connection,
    each column read through its SQLAlchemy type's own result processor: SQLAlchemy's execution
    machinery cost several times the lookup itself (~100 µs of a join grant's ~350, py-spy).
    Elsewhere it is an ordinary statement."""

    __slots__ = ("_sqlite", "statement")

    def __init__(self, statement: sa.Select[Any]) -> None:
        self.statement = statement
        self._sqlite: _CompiledPoint | None = None

    def for_sqlite(self, dialect: sa.Dialect) -> _CompiledPoint:
        if self._sqlite is None:
            self._sqlite = _CompiledPoint.of(self.statement, dialect)
        return self._sqlite


@dataclass(frozen=True, slots=True)
class _CompiledPoint:
    sql: str
    names: tuple[str, ...]  # the bound parameters, in the order of the SQL's `?`
    keys: tuple[str, ...]  # the columns' keys, in the order of the SELECT
    processors: tuple[Callable[[Any], Any] | None, ...]

    @classmethod
    def of(cls, statement: sa.Select[Any], dialect: sa.Dialect) -> _CompiledPoint:
        compiled = statement.compile(dialect=dialect)
        names = tuple(compiled.positiontup or ())
        for name in names:
            kind = compiled.binds[name].type.dialect_impl(dialect)
            if kind.bind_processor(dialect) is not None:
                raise TypeError(f"a point query's parameter {name!r} needs conversion")
        columns = list(statement.selected_columns)
        keys = tuple(c.key for c in columns if c.key is not None)
        if len(set(keys)) != len(columns):
            raise ValueError("a point query's columns need distinct keys (label them)")
        processors = tuple(
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
        )
        return cls(compiled.string, names, keys, processors)

    def row(self, values: Sequence[Any]) -> dict[str, Any]:
        return {
            key: value if process is None else process(value)
            for key, process, value in zip(self.keys, self.processors, values, strict=True)
        }


async def point_select(
    engine: AsyncEngine, query: PointQuery, parameters: dict[str, Any]
) -> Mapping[Any, Any] | None:
    """The first row of one SELECT by key, read in place as `point_read` reads, without its
    BEGIN and COMMIT on SQLite: a single statement is its own consistent snapshot (the join
    grant's one statement, docs/performance.md)."""
    reader = None if _joined() is not None else _sqlite_reader(engine)
    if reader is None:  # PostgreSQL (autocommit: one round trip), or `point_read`'s fallbacks
        async with point_read(engine) as conn:
            first: Mapping[Any, Any] | None = (
                (await conn.execute(query.statement, parameters)).mappings().first()
            )
            return first
    started = time.perf_counter()
    compiled = query.for_sqlite(reader.dialect)
    try:
        cursor = _point_connection(engine, reader).execute(
            compiled.sql, [parameters[name] for name in compiled.names]
        )
        found: Sequence[Any] | None = cursor.fetchone()
        cursor.close()
    finally:
        _observed(engine, "read", started)
    return None if found is None else compiled.row(found)


def _point_connection(engine: AsyncEngine, reader: sa.Engine) -> sqlite3.Connection:
    """The sqlite3 connection `point_select` runs on, taken from the reader's pool once and
    kept: it is used only on the event loop's thread, one statement at a time, and a pool's
    checkout and checkin (with its reset) cost ~4 % of a join storm's CPU (py-spy)."""
    held: Any = getattr(engine.sync_engine, "_duet_point_conn", None)
    if held is None:
        held = reader.raw_connection()
        engine.sync_engine._duet_point_conn = held  # type: ignore[attr-defined]
    driver: sqlite3.Connection = held.driver_connection
    return driver


async def dispose_point_reader(engine: AsyncEngine) -> None:
    """Close the synchronous twin's connections along with the engine's own."""
    held: Any = getattr(engine.sync_engine, "_duet_point_conn", None)
    if held is not None:
        held.close()
        del engine.sync_engine._duet_point_conn  # type: ignore[attr-defined]
    reader: sa.Engine | None = getattr(engine.sync_engine, "_duet_point_reader", None)
    if reader is not None:
        reader.dispose()
        del engine.sync_engine._duet_point_reader  # type: ignore[attr-defined]


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


async def serialize_on(conn: AsyncConnection, scope: str, key: str) -> None:
    """Make the rest of this transaction the only one working on (`scope`, `key`) until it ends.

    For code that reads, decides and writes, where no constraint can state the rule (a chat
    log's next `seq`). SQLite needs nothing: a write transaction already holds the database's
    only write lock. PostgreSQL takes a transaction-scoped advisory lock on a hash of the two
    (a collision only makes two unrelated writers wait for each other, never a wrong answer).
    """
    if conn.dialect.name == "sqlite":
        return
    await conn.execute(
        sa.text("SELECT pg_advisory_xact_lock(hashtext(:scope), hashtext(:key))"),
        {"scope": scope, "key": key},
    )


def insert_or(conn: AsyncConnection, table: sa.Table) -> sqlite.Insert | postgresql.Insert:
    """An INSERT that can say what to do ON CONFLICT, in this connection's dialect (both have
    `on_conflict_do_nothing` and `on_conflict_do_update` with `excluded`)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def is_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database is unreachable or busy right now (try again later),
    not that the request or the data is wrong: the API answers 503 with Retry-After for it."""
    if isinstance(exc, PoolTimeout) or _network_error(exc):
        return True  # the pool is full; refused, reset, unreachable, timed out
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
            return True  # SQLite: locked, cannot open the file; asyncpg: connection gone
        sqlstate = getattr(exc.orig, "sqlstate", None) or ""
        if sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES:
            return True
        return _network_error(exc.orig) or _network_error(getattr(exc.orig, "__cause__", None))
    return False


_NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ETIMEDOUT,
        errno.EPIPE,
    }
)


def _network_error(exc: object) -> bool:
    """A connection that failed or broke (not any OSError: a missing file is a bug, not an
    outage)."""
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
        return True
    return isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS


def describe_failure(url: str, exc: BaseException) -> str:
    """One sentence for an operator: which database, what went wrong, what to check."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return (
            f"Cannot open the SQLite database {parsed.database!r}: {_reason(exc)}; check that "
            "the path in database_url is a file Duet may create and write."
        )
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    text = _reason(exc)
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None) or getattr(
        exc, "sqlstate", None
    )
    cause = exc.__cause__ if exc.__cause__ is not None else getattr(exc, "orig", None)
    sqlstate = sqlstate or getattr(cause, "sqlstate", None)
    if sqlstate in ("28P01", "28000"):
        return (
            f"The PostgreSQL server at {where} refused user {parsed.username!r}: {text}; "
            "check the user name and password in database_url."
        )
    if sqlstate == "3D000":
        return (
            f"The PostgreSQL server at {where} has no database {parsed.database!r}; create it "
            "(createdb) or fix the database name in database_url."
        )
    return (
        f"Cannot reach the PostgreSQL server at {where} (database {parsed.database!r}): {text}; "
        "check that it is running and that database_url names the right host and port."
    )


def _reason(exc: BaseException) -> str:
    """The driver's own words, first line only, without SQLAlchemy's wrapping."""
    orig = getattr(exc, "orig", None)
    inner: BaseException = orig if isinstance(orig, BaseException) else exc
    if isinstance(inner, TimeoutError) or isinstance(exc, TimeoutError):
        return f"no answer within {CONNECT_TIMEOUT_S} s"
    if isinstance(inner, ConnectionRefusedError):
        return "connection refused"
    if isinstance(inner, socket.gaierror):
        return f"the host name does not resolve ({inner.strerror})"
    text = str(inner).strip() or type(inner).__name__
    text = text.split("\n", 1)[0]
    if text.startswith("<class "):  # asyncpg errors as the adapter prints them
        text = text.split(">: ", 1)[-1]
    return text.rstrip(".")


def _alembic_config(connection: Connection) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


async def migrate(engine: AsyncEngine) -> None:
    """Apply every pending Alembic migration; idempotent, so it runs on each start.

    A database that cannot be reached (or refuses the login) raises `DatabaseUnavailable` with
    one sentence saying which, what went wrong and what to check."""
    try:
        async with engine.connect() as conn:
            conn = await conn.execution_options(duet_write=True)
            # Nodes starting side by side on one PostgreSQL migrate one after the other (SQLite:
            # BEGIN IMMEDIATE does the same); the migrations and the lock share one transaction.
            await serialize_on(conn, "duet", "migrations")
            await conn.run_sync(
                lambda sync_conn: command.upgrade(_alembic_config(sync_conn), "head")
            )
            await conn.commit()
    except (DBAPIError, OSError, PoolTimeout) as exc:
        if isinstance(exc, DBAPIError) and not _refused_connection(exc):
            raise
        raise DatabaseUnavailable(
            describe_failure(engine.url.render_as_string(hide_password=False), exc)
        ) from exc


def _refused_connection(exc: DBAPIError) -> bool:
    """A failure to connect or log in (or a database gone mid-migration), not a bug in a
    migration: those keep their traceback."""
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    return is_unavailable(exc) or sqlstate[:2] in ("28", "3D") or exc.connection_invalidated


async def current_revision(engine: AsyncEngine) -> str | None:
    """The applied revision, for `/readyz` and operators."""
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync_conn: MigrationContext.configure(sync_conn).get_current_revision()
        )
