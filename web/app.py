"""The composition root: `create_app(config)` wires storage, rooms, signaling and the REST API.

Every resource is opened and closed in an aiohttp cleanup context, so tests and `duet serve`
start and stop the same way and nothing outlives the app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from scheduling.clock import Clock, SystemClock
from scheduling.db import make_engine, migrate
from web import api_availability, api_chats, api_dev, api_events, api_system
from web.auth import auth_middleware
from web.config import Config
from web.idempotency import idempotency_middleware
from web.json_io import MAX_BODY
from web.keys import CLOCK, CONFIG, ENGINE
from web.problems import problem_middleware


async def _database(app: web.Application) -> AsyncIterator[None]:
    engine = make_engine(app[CONFIG].database_url)
    await migrate(engine)
    app[ENGINE] = engine
    yield
    await engine.dispose()


def create_app(config: Config, *, clock: Clock | None = None) -> web.Application:
    """Build the app; `clock` is injected by tests that move time by hand."""
    config = config.with_secret()
    clock = clock or SystemClock()
    app = web.Application(
        middlewares=[
            problem_middleware,  # errors from auth and idempotency themselves
            auth_middleware(config.jwt_secret, clock.now),
            idempotency_middleware,
            problem_middleware,  # handlers' errors become responses the idempotency layer can store
        ],
        client_max_size=MAX_BODY,
    )
    app[CONFIG] = config
    app[CLOCK] = clock
    app.cleanup_ctx.append(_database)
    for module in (api_system, api_dev, api_events, api_availability, api_chats):
        app.add_routes(module.routes)
    return app
