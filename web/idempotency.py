"""Idempotency keys: a retried change with the same `Idempotency-Key` gets the first answer.

A client that lost the response to "approve" or "book" can safely send it again. The stored
answer is keyed by (user, key) and bound to method, path and a hash of the body; reusing a key for
a different request is refused. Answers of 5xx are not stored, so those can be retried for real.

The key is reserved, the change made and the answer stored in **one** database transaction
(`scheduling.db.one_transaction`): a duplicate sent at the same time waits for that transaction
and then replays its answer (SQLite: the write lock; PostgreSQL: the key's unique index), and a
crash between the change and the answer cannot happen, since they commit together. Only the
operations that change the schedule (and a person's email settings) take part (`IDEMPOTENT`, the ones the OpenAPI document
declares with the header); the header is ignored elsewhere, so a join grant or a pre-call check
never holds the write lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Final

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.exc import IntegrityError

from scheduling.db import one_transaction
from scheduling.schema import idempotency_keys
from web.auth import PRINCIPAL_KEY, Principal
from web.keys import CLOCK, ENGINE
from web.problems import Problem

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH: Final = 200
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# (method, route as registered): the operations that change the schedule (and a person's
# settings, which take the key like every other change).
IDEMPOTENT: Final = frozenset(
    {
        ("POST", "/api/v1/events"),
        ("PUT", "/api/v1/events/{event_id}"),
        ("PUT", "/api/v1/events/{event_id}/quotas/{company_id}"),
        ("PUT", "/api/v1/events/{event_id}/availability"),
        ("POST", "/api/v1/events/{event_id}/availability/confirm"),
        ("POST", "/api/v1/events/{event_id}/chats"),
        ("POST", "/api/v1/chats/{chat_id}/{action}"),
        ("POST", "/api/v1/chats/{chat_id}/follow-up"),
        ("PUT", "/api/v1/me/time-zone"),
        ("PUT", "/api/v1/me/notifications"),
        # in-call Support (web/api_live.py): a retry must not ask, or answer, twice
        ("POST", "/api/v1/chats/{chat_id}/support"),
        ("POST", "/api/v1/chats/{chat_id}/support/answer"),
    }
)


def route_template(request: web.Request) -> str | None:
    """The matched route's path with its parameters' patterns dropped (`{chat_id}`)."""
    resource = request.match_info.route.resource
    if resource is None:
        return None
    info = resource.get_info()
    formatter = info.get("formatter") or info.get("path")
    return None if formatter is None else str(formatter)


class _RollBack(Exception):
    """Leave `one_transaction` without committing, answering `response` all the same."""

    def __init__(self, response: web.StreamResponse) -> None:
        super().__init__("rolled back")
        self.response = response


def _replay(row: sa.RowMapping) -> web.Response:
    return web.Response(
        status=row["status"],
        body=row["body"],
        headers={"Content-Type": row["content_type"], "Idempotent-Replayed": "true"},
    )


def _stored_answer(row: sa.RowMapping, method: str, path: str, body_hash: str) -> web.Response:
    if (row["method"], row["path"], row["body_hash"]) != (method, path, body_hash):
        raise Problem(
            422,
            "idempotency_key_reused",
            "This Idempotency-Key was already used for a different request.",
        )
    return _replay(row)


@web.middleware
async def idempotency_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    key = request.headers.get(HEADER)
    who: Principal | None = request.get(PRINCIPAL_KEY)
    if (
        key is None
        or who is None
        or request.match_info.http_exception is not None  # 404/405: routing answers first
        or (request.method, route_template(request)) not in IDEMPOTENT
    ):
        return await handler(request)
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise Problem(
            422,
            "invalid",
            f"An Idempotency-Key is 1 to {MAX_KEY_LENGTH} characters.",
            field=HEADER,
        )
    body_hash = hashlib.sha256(await request.read()).hexdigest()
    where = (idempotency_keys.c.user_id == who.user_id, idempotency_keys.c.key == key)
    try:
        async with one_transaction(request.app[ENGINE]) as conn:
            try:
                async with conn.begin_nested():  # reserve the key; a twin waits here
                    await conn.execute(
                        idempotency_keys.insert().values(
                            user_id=who.user_id,
                            key=key,
                            method=request.method,
                            path=request.path,
                            body_hash=body_hash,
                            status=0,  # in progress: never visible outside this transaction
                            content_type="",
                            body=b"",
                            created_at=request.app[CLOCK].now(),
                        )
                    )
            except IntegrityError:
                stored = (await conn.execute(sa.select(idempotency_keys).where(*where))).mappings()
                return _stored_answer(stored.one(), request.method, request.path, body_hash)
            response = await handler(request)
            if (
                not isinstance(response, web.Response)
                or response.status >= 500
                or response.body is None
            ):
                raise _RollBack(response)  # neither the change nor the key: retry for real
            body = response.body
            await conn.execute(
                idempotency_keys.update()
                .where(*where)
                .values(
                    status=response.status,
                    content_type=response.headers.get("Content-Type", "application/json"),
                    body=body if isinstance(body, bytes) else bytes(body._value),  # type: ignore[union-attr]
                )
            )
    except _RollBack as rolled_back:
        return rolled_back.response
    return response
