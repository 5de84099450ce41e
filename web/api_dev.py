"""Dev/demo sign-in: lists seeded people and mints their tokens. Off unless `dev_login` is set."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from scheduling.db import read_tx
from scheduling.store_events import get_user, list_users
from web import request_bodies as rb
from web import resources as r
from web.auth import mint_token
from web.json_io import Body, json_response
from web.keys import CLOCK, CONFIG, ENGINE
from web.mail import MAIL_ID, mail_html, read_outbox
from web.problems import Problem
from web.views import user_view

routes = web.RouteTableDef()

LOGIN = Body(rb.DevLogin)


def _require_dev(request: web.Request) -> None:
    if not request.app[CONFIG].dev_login:
        raise Problem(404, "http_404", "Dev sign-in is turned off on this server.")


@routes.get("/api/v1/dev/users")
async def dev_users(request: web.Request) -> web.Response:
    _require_dev(request)
    async with read_tx(request.app[ENGINE]) as conn:
        people = await list_users(conn)
    return json_response(r.UserList([user_view(u) for u in people]))


@routes.post("/api/v1/dev/login")
async def dev_login(request: web.Request) -> web.Response:
    _require_dev(request)
    data = await LOGIN.read(request)
    async with read_tx(request.app[ENGINE]) as conn:
        user = await get_user(conn, data.user_id)
    if user is None:
        raise Problem(404, "not_found", "There is no such person in this demo.", field="user_id")
    token = mint_token(request.app[CONFIG].jwt_secret, user, request.app[CLOCK].now())
    return json_response(r.DevToken(token, user_view(user)))


# A mail's HTML is shown in a sandboxed frame of the outbox page: no script, nothing fetched,
# only its own inline styles; the page of this origin may frame it, nobody else.
MAIL_FRAME_POLICY = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)


@routes.get("/api/v1/dev/mail")
async def dev_mail(request: web.Request) -> web.Response:
    """The demo's mail outbox: what the catch-all (`mail_dir`) wrote instead of sending."""
    _require_dev(request)
    directory = request.app[CONFIG].mail_dir
    mails = read_outbox(Path(directory)) if directory else []
    return json_response(r.MailList(directory, mails))


@routes.get("/api/v1/dev/mail/{mail_id}")
async def dev_mail_html(request: web.Request) -> web.Response:
    _require_dev(request)
    directory = request.app[CONFIG].mail_dir
    mail_id = request.match_info["mail_id"]
    html = mail_html(Path(directory), mail_id) if directory and MAIL_ID.fullmatch(mail_id) else None
    if html is None:
        raise Problem(404, "not_found", "There is no such mail in the outbox.", field="mail_id")
    return web.Response(
        text=html,
        content_type="text/html",
        headers={"Content-Security-Policy": MAIL_FRAME_POLICY},
    )
