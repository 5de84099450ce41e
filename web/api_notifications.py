"""Each person's email settings: which kinds of email they get (docs/notifications.md)."""

from __future__ import annotations

from aiohttp import web

from scheduling.db import read_tx, write_tx
from scheduling.mail_rules import KIND_LABELS, MailKind
from scheduling.store_events import ensure_user, get_user
from scheduling.store_mail import opt_outs, set_opt_outs
from web import request_bodies as rb
from web import resources as r
from web.auth import principal
from web.json_io import Body, json_response
from web.keys import ENGINE

routes = web.RouteTableDef()

CHOICES = Body(rb.NotificationChoices)


def _settings(email: str, off: set[MailKind]) -> r.NotificationSettings:
    return r.NotificationSettings(
        email, [r.NotificationKind(kind, KIND_LABELS[kind], kind not in off) for kind in MailKind]
    )


@routes.get("/api/v1/me/notifications")
async def get_notifications(request: web.Request) -> web.Response:
    who = principal(request)
    async with read_tx(request.app[ENGINE]) as conn:
        stored = await get_user(conn, who.user_id)
        off = await opt_outs(conn, who.user_id)
    email = who.email or (stored.email if stored is not None else "")
    return json_response(_settings(email, off))


@routes.put("/api/v1/me/notifications")
async def put_notifications(request: web.Request) -> web.Response:
    who = principal(request)
    data = await CHOICES.read(request)
    async with write_tx(request.app[ENGINE]) as conn:
        await ensure_user(conn, who.as_user())
        off = await opt_outs(conn, who.user_id)
        for choice in data.kinds:
            if choice.enabled:
                off.discard(choice.kind)
            else:
                off.add(choice.kind)
        await set_opt_outs(conn, who.user_id, off)
        stored = await get_user(conn, who.user_id)
    return json_response(_settings(stored.email if stored is not None else who.email, off))
