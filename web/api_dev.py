"""Dev/demo sign-in: lists seeded people and mints their tokens. Off unless `dev_login` is set."""

from __future__ import annotations

from aiohttp import web

from scheduling.db import read_tx
from scheduling.store_events import get_user, list_users
from web.auth import mint_token
from web.json_io import field, json_response, read_json
from web.keys import CLOCK, CONFIG, ENGINE
from web.problems import Problem
from web.views import user_json

routes = web.RouteTableDef()


def _require_dev(request: web.Request) -> None:
    if not request.app[CONFIG].dev_login:
        raise Problem(404, "http_404", "Dev sign-in is turned off on this server.")


@routes.get("/api/v1/dev/users")
async def dev_users(request: web.Request) -> web.Response:
    _require_dev(request)
    async with read_tx(request.app[ENGINE]) as conn:
        people = await list_users(conn)
    return json_response({"users": [user_json(u) for u in people]})


@routes.post("/api/v1/dev/login")
async def dev_login(request: web.Request) -> web.Response:
    _require_dev(request)
    data = await read_json(request)
    user_id = field(data, "user_id", str)
    async with read_tx(request.app[ENGINE]) as conn:
        user = await get_user(conn, user_id)
    if user is None:
        raise Problem(404, "not_found", "There is no such person in this demo.", field="user_id")
    token = mint_token(request.app[CONFIG].jwt_secret, user, request.app[CLOCK].now())
    return json_response({"token": token, "user": user_json(user)})
