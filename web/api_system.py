"""Liveness, readiness and the OpenAPI document."""

from __future__ import annotations

from aiohttp import web
from multidict import CIMultiDict
from sqlalchemy.exc import SQLAlchemyError

from scheduling.db import current_revision
from web import resources as r
from web.json_io import json_response
from web.keys import ENGINE
from web.openapi import openapi_document
from web.problems import RETRY_AFTER_S, Problem

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(_request: web.Request) -> web.Response:
    """Liveness: the process answers. Says nothing about dependencies, on purpose."""
    return json_response(r.Status("ok"))


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Readiness: the database opens and carries the schema (an empty file opens fine too)."""
    try:
        revision = await current_revision(request.app[ENGINE])
    except (SQLAlchemyError, OSError) as exc:
        raise Problem(
            503,
            "not_ready",
            "The database is not reachable.",
            headers=CIMultiDict({"Retry-After": str(RETRY_AFTER_S)}),
        ) from exc
    if revision is None:
        raise Problem(
            503, "not_ready", "The database has no Duet tables; run `duet migrate` against it."
        )
    return json_response(r.Status("ready"))


@routes.get("/api/v1/openapi.json")
async def openapi(_request: web.Request) -> web.Response:
    # Built on the first request, not at import: the document reads every struct's schema.
    return json_response(openapi_document())
