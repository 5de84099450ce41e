"""Liveness, readiness and the OpenAPI document."""

from __future__ import annotations

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from scheduling.db import read_tx
from web.json_io import json_response
from web.keys import ENGINE
from web.openapi import openapi_document
from web.problems import Problem

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(_request: web.Request) -> web.Response:
    """Liveness: the process answers. Says nothing about dependencies, on purpose."""
    return json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Readiness: the database answers a query."""
    try:
        async with read_tx(request.app[ENGINE]) as conn:
            await conn.execute(sa.text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        raise Problem(503, "not_ready", "The database is not reachable.") from exc
    return json_response({"status": "ready"})


@routes.get("/api/v1/openapi.json")
async def openapi(_request: web.Request) -> web.Response:
    return json_response(openapi_document())
