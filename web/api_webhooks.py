"""The organizer's webhook endpoints of an event: create (the secret shown once), list, turn on
or off, rotate the secret, delete; recent deliveries, and sending one again."""

from __future__ import annotations

from aiohttp import web
from msgspec import UNSET

from scheduling import store_webhooks as store
from scheduling.db import read_tx, write_tx
from scheduling.model import Role
from scheduling.store_events import ensure_user, require_event
from scheduling.webhook_payloads import EventType
from web import request_bodies as rb
from web import resources as r
from web.auth import principal
from web.json_io import Body, json_response, read_query
from web.keys import CLOCK, CONFIG, ENGINE, WEBHOOKS
from web.problems import Problem
from web.url_guard import UrlRefused, check_url

routes = web.RouteTableDef()

ENDPOINTS = "/api/v1/events/{event_id}/webhooks"
ENDPOINT = ENDPOINTS + "/{endpoint_id:[0-9a-f]{32}}"
ENDPOINT_INPUT = Body(rb.WebhookEndpointInput)
ENDPOINT_UPDATE = Body(rb.WebhookEndpointUpdate)
RECENT = 50


def endpoint_view(endpoint: store.Endpoint) -> r.WebhookEndpoint:
    return r.WebhookEndpoint(
        endpoint.id,
        endpoint.event_id,
        endpoint.url,
        list(endpoint.event_types),
        endpoint.enabled,
        endpoint.created_at,
    )


def delivery_view(d: store.Delivery) -> r.WebhookDelivery:
    return r.WebhookDelivery(
        id=d.id,
        endpoint_id=d.endpoint_id,
        webhook_id=d.message_id,
        type=d.type,  # type: ignore[arg-type]  # stored from an EventType
        chat_id=d.chat_id,
        status=d.status,  # type: ignore[arg-type]  # one of the three the store writes
        attempts=d.attempts,
        next_attempt_at=d.next_attempt_at,
        last_attempt_at=d.last_attempt_at,
        last_status=d.last_status,
        last_error=d.last_error,
        delivered_at=d.delivered_at,
        created_at=d.created_at,
    )


def _types(chosen: list[EventType]) -> list[EventType]:
    """Each once, in the documented order."""
    return [t for t in EventType if t in set(chosen)]


async def _checked_url(request: web.Request, url: str) -> None:
    try:
        await check_url(url, request.app[CONFIG].webhook_allow_private)
    except UrlRefused as exc:
        raise Problem(422, "url_refused", str(exc), field="url") from exc


@routes.post(ENDPOINTS)
async def create_endpoint(request: web.Request) -> web.Response:
    who = principal(request, Role.ORGANIZER)
    data = await ENDPOINT_INPUT.read(request)
    event_id = request.match_info["event_id"]
    async with read_tx(request.app[ENGINE]) as conn:
        await require_event(conn, event_id)  # 404 before any DNS lookup
    await _checked_url(request, data.url)
    async with write_tx(request.app[ENGINE]) as conn:
        await require_event(conn, event_id)
        await ensure_user(conn, who.as_user())
        endpoint, secret = await store.create_endpoint(
            conn,
            event_id=event_id,
            url=data.url,
            event_types=_types(data.event_types),
            created_by=who.user_id,
            now=request.app[CLOCK].now(),
        )
    return json_response(r.WebhookEndpointCreated(endpoint_view(endpoint), secret), status=201)


@routes.get(ENDPOINTS)
async def get_endpoints(request: web.Request) -> web.Response:
    principal(request, Role.ORGANIZER)
    async with read_tx(request.app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
        found = await store.list_endpoints(conn, event.id)
    return json_response(r.WebhookEndpointList([endpoint_view(e) for e in found]))


@routes.get(ENDPOINT)
async def get_endpoint(request: web.Request) -> web.Response:
    principal(request, Role.ORGANIZER)
    info = request.match_info
    async with read_tx(request.app[ENGINE]) as conn:
        endpoint = await store.require_endpoint(conn, info["event_id"], info["endpoint_id"])
    return json_response(endpoint_view(endpoint))


@routes.put(ENDPOINT)
async def put_endpoint(request: web.Request) -> web.Response:
    principal(request, Role.ORGANIZER)
    data = await ENDPOINT_UPDATE.read(request)
    info = request.match_info
    async with write_tx(request.app[ENGINE]) as conn:
        endpoint = await store.update_endpoint(
            conn,
            info["event_id"],
            info["endpoint_id"],
            enabled=data.enabled,
            event_types=_types(data.event_types),
        )
    return json_response(endpoint_view(endpoint))


@routes.delete(ENDPOINT)
async def delete_endpoint(request: web.Request) -> web.Response:
    principal(request, Role.ORGANIZER)
    info = request.match_info
    async with write_tx(request.app[ENGINE]) as conn:
        await store.delete_endpoint(conn, info["event_id"], info["endpoint_id"])
    return json_response(r.Status("deleted"))


@routes.post(ENDPOINT + "/rotate-secret")
async def rotate_secret(request: web.Request) -> web.Response:
    principal(request, Role.ORGANIZER)
    info = request.match_info
    async with write_tx(request.app[ENGINE]) as conn:
        secret = await store.rotate_secret(conn, info["event_id"], info["endpoint_id"])
    return json_response(r.WebhookSecret(info["endpoint_id"], secret))


@routes.get(ENDPOINT + "/deliveries")
async def get_deliveries(request: web.Request) -> web.Response:
    principal(request, Role.ORGANIZER)
    query = read_query(request, rb.DeliveriesQuery)
    info = request.match_info
    async with read_tx(request.app[ENGINE]) as conn:
        endpoint = await store.require_endpoint(conn, info["event_id"], info["endpoint_id"])
        found = await store.list_deliveries(
            conn,
            endpoint.id,
            status=None if query.status is UNSET else query.status,
            limit=RECENT,
        )
    return json_response(r.WebhookDeliveryList([delivery_view(d) for d in found]))


@routes.post(ENDPOINT + "/deliveries/{delivery_id:[0-9]{1,9}}/retry")
async def retry_delivery(request: web.Request) -> web.Response:
    """Send a delivery again now (a failed one, typically), with a fresh 24 h of retries."""
    principal(request, Role.ORGANIZER)
    info = request.match_info
    async with write_tx(request.app[ENGINE]) as conn:
        endpoint = await store.require_endpoint(conn, info["event_id"], info["endpoint_id"])
        delivery = await store.retry_delivery(
            conn, endpoint.id, int(info["delivery_id"]), request.app[CLOCK].now()
        )
    worker = request.app.get(WEBHOOKS)
    if worker is not None:
        worker.kick()
    return json_response(delivery_view(delivery))
