"""The composition root: `create_app(config)` wires storage, rooms, signaling and the REST API.

Every resource is opened and closed in an aiohttp cleanup context, so tests and `duet serve`
start and stop the same way and nothing outlives the app.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web

from media.ice import IceServer
from rooms.broker import Broker
from rooms.broker_memory import MemoryBroker
from rooms.broker_redis import RedisBroker
from scheduling.clock import Clock, SystemClock
from scheduling.db import dispose_point_reader, make_engine, migrate
from scheduling.model import ChatState
from scheduling.store_chats import ChatRecord
from signaling.node import NodeSettings, SignalingNode
from signaling.relay_glue import ROOM_MAX_LIFETIME_S, MediaRelayHub
from signaling.ws import NODE, WS_SETTINGS, WsSettings, ws_handler
from web import (
    api_after_chat,
    api_availability,
    api_chats,
    api_dev,
    api_events,
    api_exports,
    api_join,
    api_live,
    api_notifications,
    api_precall,
    api_resumes,
    api_settings,
    api_system,
    api_webhooks,
)
from web.api_availability import free_slots_changed
from web.api_join import ice_servers
from web.api_precall import precall_context, precall_ice_servers
from web.auth import auth_middleware
from web.config import Config
from web.idempotency import idempotency_middleware
from web.json_io import MAX_BODY
from web.keys import CHAT_CHANGED, CLOCK, CONFIG, ENGINE, MAIL, OFFERS, SLOTS, WEBHOOKS
from web.logs import echo_request_id, request_context
from web.mail import mail_context
from web.metrics import METRICS, Metrics, metrics_endpoint
from web.offers_cache import AnswerCache
from web.problems import Problem, problem_middleware
from web.server_log import SERVER_LOG
from web.socket_lane import socket_lane
from web.static_routes import add_static_routes
from web.webhook_worker import DeliveryWorker

# On every answer, errors and the WebSocket handshake included: no MIME sniffing, no Referer
# sent from Duet's pages (chat links and ids stay here; the API authenticates with tokens, so
# nothing needs the Referer), and nothing stored by caches unless a route says otherwise (the
# static client's files do; API answers carry tokens and personal data).
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
DEFAULT_CACHE_CONTROL = "no-store"


async def _security_headers(_request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)
    response.headers.setdefault("Cache-Control", DEFAULT_CACHE_CONTROL)


async def _database(app: web.Application) -> AsyncIterator[None]:
    engine = make_engine(app[CONFIG].database_url)
    await migrate(engine)
    app[ENGINE] = engine
    yield
    await dispose_point_reader(engine)
    await engine.dispose()


async def _webhooks(app: web.Application) -> AsyncIterator[None]:
    """This node's webhook sender: every node runs one; they share the work (docs/webhooks.md)."""
    config = app[CONFIG]
    worker = DeliveryWorker(
        app[ENGINE],
        app[CLOCK],
        config.node_id,
        allow_private=config.webhook_allow_private,
        timeout_s=config.webhook_timeout_s,
    )
    await worker.start()
    app[WEBHOOKS] = worker
    yield
    await worker.close()


# TURN identity of the relay's own peers (kept apart from people's credentials in coturn logs).
RELAY_TURN_USER = "duet-relay-server"


def _broker(config: Config, clock: Clock) -> Broker:
    node_id = config.node_id or uuid.uuid4().hex[:12]
    if config.broker == "redis":
        return RedisBroker(config.redis_url, node_id)
    return MemoryBroker(clock, node_id)


async def _signaling(app: web.Application) -> AsyncIterator[None]:
    """The live side: broker, signaling node, and the hook that closes rooms on cancel."""
    config = app[CONFIG]
    clock = app[CLOCK]

    def relay_ice() -> list[IceServer]:
        expires = clock.now() + timedelta(seconds=ROOM_MAX_LIFETIME_S)
        return precall_ice_servers(config, RELAY_TURN_USER, expires)

    # Each relayed call holds two server peers (docs/performance.md, "Relay mode").
    relay = MediaRelayHub(relay_ice, max(1, config.max_server_peers // 2), clock=clock)
    node = SignalingNode(
        app[ENGINE],
        _broker(config, clock),
        clock,
        NodeSettings(
            secret=config.jwt_secret,
            reconnect_grace_s=config.reconnect_grace_s,
            ticket_ttl_s=config.ticket_ttl_s,
        ),
        lambda chat_id, user_id, expires: ice_servers(config, chat_id, user_id, expires),
        relay=relay,
    )
    await node.start()
    app[NODE] = node
    app[OFFERS] = AnswerCache(node.broker, clock.now, "offers")
    app[SLOTS] = AnswerCache(node.broker, clock.now, "slots")

    async def chat_changed(chat: ChatRecord) -> None:
        mail = app.get(MAIL)
        if mail is not None:
            mail.wake()  # the change wrote mails: send them now, not at the next poll
        await node.chat_changed(chat)
        await node.tell_people(chat)  # open pages and live boards (docs/live.md)
        if chat.state in (ChatState.CONFIRMED, ChatState.CANCELLED):  # a slot taken or freed
            await free_slots_changed(app, chat.event_id, chat.employee_id)

    app[CHAT_CHANGED] = chat_changed
    yield
    await node.close()
    await relay.close()


def create_app(config: Config, *, clock: Clock | None = None) -> web.Application:
    """Build the app; `clock` is injected by tests that move time by hand."""
    config = config.with_secret()
    if not config.node_id:  # settled here: every log line and metric names it
        config = dataclasses.replace(config, node_id=uuid.uuid4().hex[:12])
    clock = clock or SystemClock()
    app = web.Application(
        middlewares=[
            socket_lane,  # the signaling socket and /metrics skip the rest: web/socket_lane.py
            request_context(config.node_id),  # the request id of every line (web/logs.py)
            problem_middleware,  # errors from auth and idempotency themselves
            auth_middleware(config.jwt_secret, clock.now),
            idempotency_middleware,
            problem_middleware,  # handlers' errors become responses the idempotency layer can store
        ],
        client_max_size=MAX_BODY,
        # aiohttp's connection handler: clients' malformed requests logged as one line.
        handler_args={"logger": SERVER_LOG},
    )
    app.on_response_prepare.append(_security_headers)
    app.on_response_prepare.append(echo_request_id)
    app[CONFIG] = config
    app[CLOCK] = clock
    app[WS_SETTINGS] = WsSettings(
        config.allowed_origins,
        config.heartbeat_s,
        config.max_msg_size,
        # A refused handshake answers in the same problem+json shape as every REST error.
        refuse=lambda status, code, detail: Problem(status, code, detail).response(),
    )
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_signaling)
    app.cleanup_ctx.append(_webhooks)
    app.cleanup_ctx.append(mail_context)  # the mail delivery worker (web/mail.py)
    app.cleanup_ctx.append(precall_context)  # server-side peers: closed before shutdown
    app[METRICS] = Metrics()
    app.cleanup_ctx.append(app[METRICS].context)  # last: it hooks into all of the above
    for module in (
        api_system,
        api_dev,
        api_events,
        api_availability,
        api_join,
        api_chats,
        api_webhooks,
        api_resumes,
        api_after_chat,
        api_exports,
        api_settings,
        api_notifications,
    ):
        app.add_routes(module.routes)
    app.add_routes(api_live.routes)  # the live board's stream and in-call Support
    app[api_live.STREAMS] = set()
    app.on_shutdown.append(api_live.end_streams)
    app.router.add_get("/api/v1/ws", ws_handler)
    app.add_routes(api_precall.routes)
    if config.metrics_token:  # else not served on the public port at all (404)
        app.router.add_get("/metrics", metrics_endpoint)
    add_static_routes(app)
    return app
