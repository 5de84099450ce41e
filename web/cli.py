"""`duet serve`, `duet demo`, `duet migrate`: the command line of a Duet node."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from scheduling.clock import SystemClock
from scheduling.db import DatabaseUnavailable, UnsupportedDatabase, make_engine, migrate
from signaling.close_codes import CloseCode
from signaling.ws import NODE
from web.app import create_app
from web.config import Config, ConfigError, load_config
from web.demo import seed_or_refresh
from web.gc_policy import GcPolicy
from web.keys import CONFIG
from web.logs import configure_logging

DEMO_MAIL_DIR = "var/mail"


def _config(args: argparse.Namespace, **forced: object) -> Config:
    path = (
        Path(args.config)
        if args.config
        else (Path(os.environ["DUET_CONFIG"]) if "DUET_CONFIG" in os.environ else None)
    )
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    return load_config(path, os.environ, **overrides, **forced)


async def _prepare_demo(config: Config) -> str:
    engine = make_engine(config.database_url)
    try:
        await migrate(engine)
        return await seed_or_refresh(engine, SystemClock().now())
    finally:
        await engine.dispose()


def _event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where available: its transports are no reference cycle (CPython 3.11's are: a
    closed socket then waits for a full collection, tests/integration/soak), though it saves little CPU per
    relayed message here (docs/performance.md: bare aiohttp 24-30 µs with it, 27-30 without)."""
    try:
        import uvloop
    except ImportError:  # not installed on this platform (it is optional on Windows)
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


# After SIGTERM, how long in-flight requests (and sockets' closing handshakes) may take before
# aiohttp cancels them; systemd's TimeoutStopSec (90 s by default) must be longer.
SHUTDOWN_TIMEOUT_S = 10.0

# The listening socket's accept queue. aiohttp's default, 128, overflowed when the doors open:
# at :00 a thousand WebSockets a second arrive while the node is busy, the kernel dropped the
# SYNs beyond 128, and each dropped client waited for its retransmission (1 s, then 3 s, 7 s):
# joins took 10-20 s at the p99 where the work itself queued for well under a second
# (docs/performance.md, "The :00 join storm"). Linux caps it at net.core.somaxconn (4096 on
# current kernels; docs/operations.md).
LISTEN_BACKLOG = 4096


async def _going_away(app: web.Application) -> None:
    """SIGTERM (a stop, a rolling upgrade): close every joined socket with 1001 now.

    aiohttp runs this after it stopped listening and before it waits for handlers to end. A
    WebSocket handler never ends by itself, so without this the process lingered for the whole
    shutdown timeout and its clients then saw 1006 when it died; with it they get 1001 at once,
    reconnect (through the load balancer, to a node that is up) and resume. The node reports
    each close as a drop, so the peer hears `peer_reconnecting`.
    """
    for conn in list(app[NODE].local.values()):
        conn.close(CloseCode.GOING_AWAY)


def _serve(config: Config) -> None:
    app = create_app(config)
    configure_logging(app[CONFIG])  # after create_app: it settles the node id lines carry
    app.cleanup_ctx.append(GcPolicy().context)  # after the node's: it hooks into the node
    app.on_shutdown.append(_going_away)
    web.run_app(
        app,
        host=config.host,
        port=config.port,
        access_log=None,
        loop=_event_loop(),
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        backlog=LISTEN_BACKLOG,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="duet", description="Scheduled 1-1 video chats for career fairs."
    )
    parser.add_argument(
        "--config", help="TOML config file (or DUET_CONFIG); DUET_* variables override it"
    )
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run a Duet node")
    sub.add_parser("demo", help="seed or refresh the demo event, then serve with the demo sign-in")
    sub.add_parser("migrate", help="apply database migrations and exit")
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            config = _config(args, dev_login=True)
            if not config.smtp_host and not config.mail_dir:
                # make run: mail is written to var/mail/ and shown on the demo's outbox page.
                config = dataclasses.replace(config, mail_dir=DEMO_MAIL_DIR)
            result = asyncio.run(_prepare_demo(config))
            print(
                f"Demo event {result}. Open http://{config.host}:{config.port}/ and sign in as Ada and as Sam."
            )
            _serve(config)
        elif args.command == "migrate":
            asyncio.run(_migrate(_config(args)))
        else:
            _serve(_config(args))
    except ConfigError as exc:
        parser.error(f"configuration: {exc}")
    except (DatabaseUnavailable, UnsupportedDatabase) as exc:
        # One sentence, no traceback: the operator fixes database_url or starts the database.
        print(f"duet: {exc}", file=sys.stderr)
        return 1
    return 0


async def _migrate(config: Config) -> None:
    engine = make_engine(config.database_url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
