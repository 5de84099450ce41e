"""Reading request bodies and writing JSON responses, with errors a person can act on."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import orjson
from aiohttp import web

from scheduling.join_window import iso_z
from web.problems import Problem

MAX_BODY = 256 * 1024

# UTC instants as ISO-8601 with a Z: the one format of the API and the join window.
iso = iso_z


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


async def read_json(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise Problem(413, "too_large", "The request body is too large.")
    raw = await request.read()
    if not raw:
        return {}
    if request.content_type not in ("application/json", "application/octet-stream", ""):
        raise Problem(415, "unsupported_media_type", "Send the body as application/json.")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Problem(
            400, "bad_json", f"The body is not valid JSON ({exc.msg} at position {exc.pos})."
        ) from exc
    if not isinstance(data, dict):
        raise Problem(422, "invalid", "The body must be a JSON object.")
    return data


def field(
    data: dict[str, Any], name: str, kind: type, *, required: bool = True, default: Any = None
) -> Any:
    """One typed field, or a 422 naming it."""
    if name not in data or data[name] is None:
        if required:
            raise Problem(422, "invalid", f"The field '{name}' is required.", field=name)
        return default
    value = data[name]
    if kind is int and isinstance(value, bool):
        raise Problem(422, "invalid", f"The field '{name}' must be a whole number.", field=name)
    if not isinstance(value, kind):
        names = {
            str: "text",
            int: "a whole number",
            bool: "true or false",
            list: "a list",
            dict: "an object",
        }
        raise Problem(
            422,
            "invalid",
            f"The field '{name}' must be {names.get(kind, kind.__name__)}.",
            field=name,
        )
    return value


def parse_date(value: Any, name: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise Problem(
            422, "invalid", f"'{name}' must be a date like 2026-11-28.", field=name
        ) from exc


def parse_time(value: Any, name: str) -> time:
    try:
        return time.fromisoformat(str(value))
    except ValueError as exc:
        raise Problem(422, "invalid", f"'{name}' must be a time like 09:30.", field=name) from exc


def parse_instant(value: Any, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise Problem(
            422,
            "invalid",
            f"'{name}' must be an ISO-8601 instant like 2026-11-28T09:30:00Z.",
            field=name,
        ) from exc
    if parsed.tzinfo is None:
        raise Problem(
            422, "invalid", f"'{name}' needs a time zone offset (e.g. a trailing Z).", field=name
        )
    return parsed.astimezone(UTC)
