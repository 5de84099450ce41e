"""Dev/demo sign-in: lists seeded people and mints their tokens. Off unless `dev_login` is set."""

from __future__ import annotations

from aiohttp import web

from scheduling.db import read_tx
from scheduling.store_events import get_user, list_users
from web import request_bodies as rb
from web import resources as r
from web.auth import mint_token
from web.json_io import Body, json_response
from web.keys import CLOCK, CONFIG, ENGINE
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
