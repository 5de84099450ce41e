"""Webhooks' storage: endpoints, the event outbox, and deliveries claimed with a lease.

`record` (and `record_many`) writes an event in the caller's transaction, the one of the change
that caused it, so an event exists if and only if its change was committed (the transactional
outbox). Only events some enabled endpoint of the chat's fair wants are stored: each gets one
delivery row per such endpoint.

Several nodes send deliveries side by side: `claim` takes due deliveries with a lease (a random
token and an expiry, `FOR UPDATE SKIP LOCKED` on PostgreSQL, the write lock on SQLite) so one node
sends a delivery at a time and a killed node's claim runs out; `finish` writes the outcome only
while its lease still holds. A chat's later event waits while an earlier one to the same endpoint
is still pending (in flight or waiting to retry): the order per chat and endpoint is kept.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduling.errors import DomainError, ErrorKind
from scheduling.schema import chats, webhook_deliveries, webhook_endpoints, webhook_events
from scheduling.webhook_payloads import EventType, Payload, envelope_json, parse_types

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str
    event_id: str
    url: str
    event_types: list[EventType]
    enabled: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivery as the API lists it."""

    id: int
    endpoint_id: str
    message_id: str
    type: str
    chat_id: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_status: int | None
    last_error: str
    delivered_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery a worker holds: what to send, where, signed with which secret."""

    id: int
    lease_token: str
    endpoint_id: str
    url: str
    secret: str
    message_id: str
    payload: str
    created_at: datetime  # the event's: the `webhook-timestamp` is the attempt's own
    attempts: int  # including this one
    first_due_at: datetime


# --- the outbox ------------------------------------------------------------------------------


# The enabled endpoints of the chats' fairs. Built once: an `in_` list's bind parameters are a
# reference cycle, and a socket's leave must make none (rooms/attendance.py).
_LISTENING = (
    sa.select(
        chats.c.id,
        chats.c.event_id,
        webhook_endpoints.c.id.label("endpoint_id"),
        webhook_endpoints.c.event_types,
    )
    .select_from(chats.join(webhook_endpoints, webhook_endpoints.c.event_id == chats.c.event_id))
    .where(
        chats.c.id.in_(sa.bindparam("chat_ids", expanding=True)),
        webhook_endpoints.c.enabled.is_(True),
    )
    .order_by(webhook_endpoints.c.id)
)


async def record(
    conn: AsyncConnection,
    kind: EventType,
    chat_id: str,
    data: Payload,
    *,
    now: datetime,
) -> str | None:
    """Store one event in `conn`'s transaction, for every enabled endpoint of the chat's fair
    that wants it; returns its `webhook-id`, or None when no endpoint wants it."""
    ids = await record_many(conn, [(kind, chat_id, data)], now=now)
    return ids[0]


async def record_many(
    conn: AsyncConnection,
    items: Sequence[tuple[EventType, str, Payload]],
    *,
    now: datetime,
) -> list[str | None]:
    """`record` for many events at once (a closing instant settles hundreds of chats): one
    read of the endpoints, one insert of the events, one of their deliveries."""
    if not items:
        return []
    chat_ids = sorted({chat_id for _, chat_id, _ in items})
    rows = await conn.execute(_LISTENING, {"chat_ids": chat_ids})
    wanted: dict[str, list[tuple[str, set[EventType]]]] = {}
    fair_of: dict[str, str] = {}
    for row in rows:
        fair_of[row.id] = row.event_id
        wanted.setdefault(row.id, []).append((row.endpoint_id, set(parse_types(row.event_types))))
    out: list[str | None] = []
    events: list[dict[str, object]] = []
    targets: list[list[str]] = []
    for kind, chat_id, data in items:
        endpoints = [e for e, kinds in wanted.get(chat_id, []) if kind in kinds]
        if not endpoints:
            out.append(None)
            continue
        message_id = "msg_" + uuid.uuid4().hex
        out.append(message_id)
        events.append(
            {
                "message_id": message_id,
                "event_id": fair_of[chat_id],
                "chat_id": chat_id,
                "type": kind.value,
                "payload": envelope_json(kind, data, now),
                "created_at": now,
            }
        )
        targets.append(endpoints)
    if not events:
        return out
    # In the order given: the ids are the order of delivery per chat.
    seqs = (
        await conn.execute(
            webhook_events.insert().returning(webhook_events.c.id, sort_by_parameter_order=True),
            events,
        )
    ).scalars()
    deliveries = [
        {
            "endpoint_id": endpoint_id,
            "event_seq": seq,
            "chat_id": event["chat_id"],
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "first_due_at": now,
        }
        for seq, event, endpoints in zip(seqs, events, targets, strict=True)
        for endpoint_id in endpoints
    ]
    await conn.execute(webhook_deliveries.insert(), deliveries)
    return out


# --- endpoints ---------------------------------------------------------------------------------


def new_secret() -> str:
    """A signing secret in Standard Webhooks' form: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _endpoint(row: sa.Row[tuple[object, ...]]) -> Endpoint:
    m = row._mapping
    return Endpoint(
        id=m["id"],
        event_id=m["event_id"],
        url=m["url"],
        event_types=parse_types(m["event_types"]),
        enabled=bool(m["enabled"]),
        created_at=m["created_at"],
    )


async def create_endpoint(
    conn: AsyncConnection,
    *,
    event_id: str,
    url: str,
    event_types: Sequence[EventType],
    created_by: str,
    now: datetime,
) -> tuple[Endpoint, str]:
    """A new endpoint and its secret (the only time the secret is returned)."""
    endpoint_id = uuid.uuid4().hex
    secret = new_secret()
    await conn.execute(
        webhook_endpoints.insert().values(
            id=endpoint_id,
            event_id=event_id,
            url=url,
            secret=secret,
            event_types=",".join(t.value for t in event_types),
            enabled=True,
            created_by=created_by,
            created_at=now,
        )
    )
    return await require_endpoint(conn, event_id, endpoint_id), secret


async def list_endpoints(conn: AsyncConnection, event_id: str) -> list[Endpoint]:
    rows = await conn.execute(
        sa.select(webhook_endpoints)
        .where(webhook_endpoints.c.event_id == event_id)
        .order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id)
    )
    return [_endpoint(r) for r in rows]


async def require_endpoint(conn: AsyncConnection, event_id: str, endpoint_id: str) -> Endpoint:
    row = (
        await conn.execute(
            sa.select(webhook_endpoints).where(
                webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.event_id == event_id
            )
        )
    ).first()
    if row is None:
        raise DomainError(
            ErrorKind.NOT_FOUND,
            "There is no such webhook endpoint for this event.",
            field="endpoint_id",
        )
    return _endpoint(row)


async def update_endpoint(
    conn: AsyncConnection,
    event_id: str,
    endpoint_id: str,
    *,
    enabled: bool | None = None,
    event_types: Sequence[EventType] | None = None,
) -> Endpoint:
    await require_endpoint(conn, event_id, endpoint_id)
    values: dict[str, object] = {}
    if enabled is not None:
        values["enabled"] = enabled
    if event_types is not None:
        values["event_types"] = ",".join(t.value for t in event_types)
    if values:
        await conn.execute(
            webhook_endpoints.update().where(webhook_endpoints.c.id == endpoint_id).values(**values)
        )
    return await require_endpoint(conn, event_id, endpoint_id)


async def rotate_secret(conn: AsyncConnection, event_id: str, endpoint_id: str) -> str:
    """A new secret at once: deliveries sent from now on are signed with it."""
    await require_endpoint(conn, event_id, endpoint_id)
    secret = new_secret()
    await conn.execute(
        webhook_endpoints.update()
        .where(webhook_endpoints.c.id == endpoint_id)
        .values(secret=secret)
    )
    return secret


async def delete_endpoint(conn: AsyncConnection, event_id: str, endpoint_id: str) -> None:
    """The endpoint, its deliveries, and the events no other endpoint still has to get."""
    await require_endpoint(conn, event_id, endpoint_id)
    seqs = list(
        (
            await conn.execute(
                sa.select(webhook_deliveries.c.event_seq).where(
                    webhook_deliveries.c.endpoint_id == endpoint_id
                )
            )
        ).scalars()
    )
    await conn.execute(
        webhook_deliveries.delete().where(webhook_deliveries.c.endpoint_id == endpoint_id)
    )
    await conn.execute(webhook_endpoints.delete().where(webhook_endpoints.c.id == endpoint_id))
    for start in range(0, len(seqs), 500):
        still_wanted = sa.exists().where(webhook_deliveries.c.event_seq == webhook_events.c.id)
        await conn.execute(
            webhook_events.delete().where(
                webhook_events.c.id.in_(seqs[start : start + 500]), ~still_wanted
            )
        )


# --- deliveries: the API's view ----------------------------------------------------------------

_delivery_select = sa.select(
    webhook_deliveries,
    webhook_events.c.message_id,
    webhook_events.c.type,
    webhook_events.c.created_at.label("event_created_at"),
).select_from(
    webhook_deliveries.join(webhook_events, webhook_events.c.id == webhook_deliveries.c.event_seq)
)


def _delivery(row: sa.Row[tuple[object, ...]]) -> Delivery:
    m = row._mapping
    return Delivery(
        id=m["id"],
        endpoint_id=m["endpoint_id"],
        message_id=m["message_id"],
        type=m["type"],
        chat_id=m["chat_id"],
        status=m["status"],
        attempts=m["attempts"],
        next_attempt_at=m["next_attempt_at"],
        last_attempt_at=m["last_attempt_at"],
        last_status=m["last_status"],
        last_error=m["last_error"],
        delivered_at=m["delivered_at"],
        created_at=m["event_created_at"],
    )


async def list_deliveries(
    conn: AsyncConnection, endpoint_id: str, *, status: str | None = None, limit: int = 50
) -> list[Delivery]:
    """The endpoint's most recent deliveries first."""
    q = _delivery_select.where(webhook_deliveries.c.endpoint_id == endpoint_id)
    if status is not None:
        q = q.where(webhook_deliveries.c.status == status)
    q = q.order_by(webhook_deliveries.c.event_seq.desc()).limit(limit)
    return [_delivery(r) for r in await conn.execute(q)]


async def retry_delivery(
    conn: AsyncConnection, endpoint_id: str, delivery_id: int, now: datetime
) -> Delivery:
    """Send a delivery again now (a failed one, or a pending one sooner), with a fresh 24 h
    of retries. A delivered one is sent again too: receivers de-duplicate by `webhook-id`."""
    found = (
        await conn.execute(
            _delivery_select.where(
                webhook_deliveries.c.id == delivery_id,
                webhook_deliveries.c.endpoint_id == endpoint_id,
            )
        )
    ).first()
    if found is None:
        raise DomainError(
            ErrorKind.NOT_FOUND, "There is no such delivery for this endpoint.", field="delivery_id"
        )
    await conn.execute(
        webhook_deliveries.update()
        .where(webhook_deliveries.c.id == delivery_id)
        .values(
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            first_due_at=now,
            lease_token=None,
            lease_owner=None,
            lease_until=None,
        )
    )
    row = (
        await conn.execute(_delivery_select.where(webhook_deliveries.c.id == delivery_id))
    ).first()
    assert row is not None
    return _delivery(row)


async def pending_count(conn: AsyncConnection) -> int:
    return int(
        (
            await conn.execute(
                sa.select(sa.func.count()).where(webhook_deliveries.c.status == PENDING)
            )
        ).scalar_one()
    )


# --- deliveries: the worker's side -------------------------------------------------------------


def _pick_due() -> sa.Select[tuple[int]]:
    """Due deliveries, oldest first, up to `:limit`: pending, due at `:now`, not held by a live
    lease, and no earlier event of the same chat still pending for the same endpoint."""
    now = sa.bindparam("now", type_=webhook_deliveries.c.next_attempt_at.type)
    earlier = webhook_deliveries.alias("earlier")
    waits = (
        sa.exists()
        .where(
            earlier.c.endpoint_id == webhook_deliveries.c.endpoint_id,
            earlier.c.chat_id == webhook_deliveries.c.chat_id,
            earlier.c.status == PENDING,
            earlier.c.event_seq < webhook_deliveries.c.event_seq,
        )
        .correlate(webhook_deliveries)
    )
    return (
        sa.select(webhook_deliveries.c.id)
        .where(
            webhook_deliveries.c.status == PENDING,
            webhook_deliveries.c.next_attempt_at <= now,
            sa.or_(
                webhook_deliveries.c.lease_until.is_(None), webhook_deliveries.c.lease_until <= now
            ),
            ~waits,
        )
        .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.event_seq)
        .limit(sa.bindparam("limit", type_=sa.Integer))
    )


# Built once: every node's worker looks every second, and building this statement (its alias
# above all) makes ~200 objects in reference cycles, left for the collector each time.
_PICK_DUE = _pick_due()
_PICK_DUE_LOCKING = _PICK_DUE.with_for_update(skip_locked=True, of=webhook_deliveries)


async def claim(
    conn: AsyncConnection, owner: str, now: datetime, lease: timedelta, limit: int
) -> list[Claimed]:
    """Take up to `limit` due deliveries for `lease`; another node skips them meanwhile."""
    pick = _PICK_DUE_LOCKING if conn.dialect.name == "postgresql" else _PICK_DUE
    ids = list((await conn.execute(pick, {"now": now, "limit": limit})).scalars())
    if not ids:
        return []
    claimed: list[Claimed] = []
    for delivery_id in ids:
        token = secrets.token_hex(16)
        await conn.execute(
            webhook_deliveries.update()
            .where(webhook_deliveries.c.id == delivery_id)
            .values(
                lease_token=token,
                lease_owner=owner,
                lease_until=now + lease,
                attempts=webhook_deliveries.c.attempts + 1,
                last_attempt_at=now,
            )
        )
        row = (
            await conn.execute(
                sa.select(
                    webhook_deliveries.c.id,
                    webhook_deliveries.c.endpoint_id,
                    webhook_deliveries.c.attempts,
                    webhook_deliveries.c.first_due_at,
                    webhook_endpoints.c.url,
                    webhook_endpoints.c.secret,
                    webhook_events.c.message_id,
                    webhook_events.c.payload,
                    webhook_events.c.created_at,
                )
                .select_from(
                    webhook_deliveries.join(
                        webhook_endpoints,
                        webhook_endpoints.c.id == webhook_deliveries.c.endpoint_id,
                    ).join(webhook_events, webhook_events.c.id == webhook_deliveries.c.event_seq)
                )
                .where(webhook_deliveries.c.id == delivery_id)
            )
        ).one()
        claimed.append(
            Claimed(
                id=row.id,
                lease_token=token,
                endpoint_id=row.endpoint_id,
                url=row.url,
                secret=row.secret,
                message_id=row.message_id,
                payload=row.payload,
                created_at=row.created_at,
                attempts=row.attempts,
                first_due_at=row.first_due_at,
            )
        )
    return claimed


async def finish(
    conn: AsyncConnection,
    claimed: Claimed,
    *,
    status: str,
    now: datetime,
    http_status: int | None,
    error: str,
    next_attempt_at: datetime | None = None,
) -> bool:
    """Write an attempt's outcome, only while this claim's lease holds (False otherwise: it
    ran out and another node has the delivery now)."""
    values: dict[str, object] = {
        "status": status,
        "lease_token": None,
        "lease_owner": None,
        "lease_until": None,
        "last_status": http_status,
        "last_error": error[:500],
    }
    if status == DELIVERED:
        values["delivered_at"] = now
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    result = await conn.execute(
        webhook_deliveries.update()
        .where(
            webhook_deliveries.c.id == claimed.id,
            webhook_deliveries.c.lease_token == claimed.lease_token,
        )
        .values(**values)
    )
    return result.rowcount == 1


async def release_leases(conn: AsyncConnection, owner: str) -> int:
    """Give back every lease `owner` holds: a node restarting after a kill sends nothing yet,
    so its old claims need not run out first."""
    result = await conn.execute(
        webhook_deliveries.update()
        .where(webhook_deliveries.c.lease_owner == owner, webhook_deliveries.c.status == PENDING)
        .values(lease_token=None, lease_owner=None, lease_until=None)
    )
    return result.rowcount


async def next_due(conn: AsyncConnection) -> datetime | None:
    """When the earliest pending delivery is due (the worker's next wake-up)."""
    value: datetime | None = (
        await conn.execute(
            sa.select(sa.func.min(webhook_deliveries.c.next_attempt_at)).where(
                webhook_deliveries.c.status == PENDING
            )
        )
    ).scalar()
    if value is None:
        return None
    # A min() over a UTCDateTime column comes back as a plain datetime on some dialects.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
