"""Idempotency keys: a retried POST/PUT with the same `Idempotency-Key` gets the first answer.

A client that lost the response to "approve" or "book" can safely send it again. The stored
answer is keyed by (user, key) and bound to method, path and a hash of the body; reusing a key for
a different request is refused. Answers of 5xx are not stored, so those can be retried for real.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.exc import IntegrityError

from scheduling.db import read_tx, write_tx
from scheduling.schema import idempotency_keys
from web.auth import PRINCIPAL_KEY, Principal
from web.keys import CLOCK, ENGINE
from web.problems import Problem

HEADER = "Idempotency-Key"
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _replay(row: sa.RowMapping) -> web.Response:
    return web.Response(
        status=row["status"],
        body=row["body"],
        headers={"Content-Type": row["content_type"], "Idempotent-Replayed": "true"},
    )


@web.middleware
async def idempotency_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    key = request.headers.get(HEADER)
    who: Principal | None = request.get(PRINCIPAL_KEY)
    if key is None or who is None or request.method not in ("POST", "PUT", "DELETE"):
        return await handler(request)
    if not 1 <= len(key) <= 200:
        raise Problem(422, "invalid", "An Idempotency-Key is 1 to 200 characters.", field=HEADER)
    body_hash = hashlib.sha256(await request.read()).hexdigest()
    engine = request.app[ENGINE]
    where = (idempotency_keys.c.user_id == who.user_id, idempotency_keys.c.key == key)
    async with read_tx(engine) as conn:
        row = (await conn.execute(sa.select(idempotency_keys).where(*where))).mappings().first()
    if row is not None:
        if (row["method"], row["path"], row["body_hash"]) != (
            request.method,
            request.path,
            body_hash,
        ):
            raise Problem(
                422,
                "idempotency_key_reused",
                "This Idempotency-Key was already used for a different request.",
            )
        return _replay(row)
    response = await handler(request)
    if not isinstance(response, web.Response) or response.status >= 500 or response.body is None:
        return response
    body = response.body if isinstance(response.body, bytes) else bytes(response.body._value)  # type: ignore[union-attr]
    try:
        async with write_tx(engine) as conn:
            await conn.execute(
                idempotency_keys.insert().values(
                    user_id=who.user_id,
                    key=key,
                    method=request.method,
                    path=request.path,
                    body_hash=body_hash,
                    status=response.status,
                    content_type=response.headers.get("Content-Type", "application/json"),
                    body=body,
                    created_at=request.app[CLOCK].now(),
                )
            )
    except IntegrityError:
        # A concurrent twin stored first: answer as it did, so both callers see one outcome.
        async with read_tx(engine) as conn:
            row = (await conn.execute(sa.select(idempotency_keys).where(*where))).mappings().first()
        if row is not None:
            return _replay(row)
    return response
