"""Reading request bodies and query strings into their structs, and writing JSON responses.

A body that does not fit its struct (`web/request_bodies.py`) is refused with a 422 problem
that names the field and says what it must be, in words a person can act on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Generic, TypeVar, cast

import msgspec
import msgspec.inspect as mi
from aiohttp import web

from scheduling.join_window import iso_z
from web.problems import Problem

MAX_BODY = 256 * 1024

# UTC instants as ISO-8601 with a Z: the one format of the API and the join window.
iso = iso_z

T = TypeVar("T")
JSON = "application/json"
# One encoder for every answer: structs from web/views.py, dicts where a lower layer made them.
_encode = msgspec.json.Encoder().encode


def json_body(data: Any) -> bytes:
    return _encode(data)


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=_encode(data), status=status, content_type=JSON)


class Body(Generic[T]):
    """Decodes and validates one kind of request body; an empty body reads as `{}`."""

    __slots__ = ("_decoder", "_type")

    def __init__(self, kind: type[T]) -> None:
        self._type = kind
        self._decoder = msgspec.json.Decoder(kind)

    async def read(self, request: web.Request) -> T:
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise Problem(413, "too_large", "The request body is too large.")
        raw = await request.read()
        if not raw:
            raw = b"{}"
        elif request.content_type not in (JSON, "application/octet-stream", ""):
            raise Problem(415, "unsupported_media_type", "Send the body as application/json.")
        try:
            return self._decoder.decode(raw)
        except msgspec.ValidationError as exc:
            if "got `float`" not in str(exc):
                raise invalid(self._type, exc) from exc
        except msgspec.DecodeError as exc:
            raise Problem(400, "bad_json", f"The body is not valid JSON ({exc}).") from exc
        # JSON has one number type: 5.0 is the whole number 5 (as JSON Schema says), which
        # msgspec only takes as a float. Rare, so the fast path above stays one pass.
        try:
            return msgspec.convert(_whole(msgspec.json.decode(raw)), self._type)
        except msgspec.ValidationError as exc:
            raise invalid(self._type, exc) from exc


def _whole(value: Any) -> Any:
    """`value` with every float that is a whole number as an int."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole(v) for v in value]
    return value


def read_query(request: web.Request, kind: type[T]) -> T:
    """The query string as `kind` (text converted to numbers, dates and enums); a list field
    takes every value of its repeated parameter (`?topic=a&topic=b`)."""
    lists = _list_fields(kind)
    values = {k: request.query.getall(k) if k in lists else v for k, v in request.query.items()}
    try:
        return msgspec.convert(values, kind, strict=False)
    except msgspec.ValidationError as exc:
        raise invalid(kind, exc) from exc


def _list_fields(kind: type) -> frozenset[str]:
    info = mi.type_info(kind)
    if not isinstance(info, mi.StructType):
        return frozenset()
    return frozenset(f.name for f in info.fields if isinstance(_unwrap(f.type), mi.ListType))


# --- refusals in words --------------------------------------------------------------------------

_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]+)`$")
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def invalid(kind: type, exc: msgspec.ValidationError) -> Problem:
    """A 422 naming the field at fault and what it must be."""
    found = _AT.match(str(exc))
    assert found is not None  # the pattern matches any text
    message, path = found["message"], found["path"] or ""
    steps: list[str | int] = [name if name else int(index) for name, index in _STEP.findall(path)]
    missing = _MISSING.match(message)
    if missing:
        steps.append(missing["name"])
    name = _render(steps)
    if missing:
        return Problem(422, "invalid", f"The field '{name}' is required.", field=name)
    if message.endswith("."):  # a struct's own rule (__post_init__) says it in a sentence
        extra = {"field": name} if name else {}
        return Problem(422, "invalid", message, headers=None, **extra)
    if not steps:
        return Problem(422, "invalid", "The body must be a JSON object.")
    wanted = _expect(_type_at(mi.type_info(kind), steps))
    return Problem(422, "invalid", f"'{name}' must be {wanted}.", field=name)


def _render(steps: list[str | int]) -> str:
    out = ""
    for step in steps:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out


def _unwrap(t: mi.Type) -> mi.Type:
    """Past `T | None` to T (inspect already drops UNSET), keeping the field's own metadata."""
    if isinstance(t, mi.UnionType):
        kept = [u for u in t.types if not isinstance(u, mi.NoneType)]
        if len(kept) == 1:
            return kept[0]
    return t


def _type_at(t: mi.Type, steps: list[str | int]) -> mi.Type:
    for step in steps:
        t = _unwrap(t)
        inner = t.type if isinstance(t, mi.Metadata) else t
        inner = _unwrap(inner)
        if isinstance(inner, mi.StructType) and isinstance(step, str):
            fields = {f.encode_name: f.type for f in inner.fields}
            if step not in fields:
                return mi.AnyType()
            t = fields[step]
        elif isinstance(inner, mi.ListType) and isinstance(step, int):
            t = inner.item_type
        elif isinstance(inner, mi.UnionType) and isinstance(step, int):
            lists = [u for u in inner.types if isinstance(_bare(u), mi.ListType)]
            if not lists:
                return mi.AnyType()
            t = cast(mi.ListType, _bare(lists[0])).item_type
        else:
            return mi.AnyType()
    return t


def _bare(t: mi.Type) -> mi.Type:
    return t.type if isinstance(t, mi.Metadata) else t


def _span(low: int | None, high: int | None, unit: str) -> str:
    if low and high is not None:
        return f"{low} to {high} {unit}"
    if high is not None:
        return f"at most {high} {unit}"
    return f"at least {low} {unit}" if low else ""


def _expect(t: mi.Type) -> str:
    """The phrase after "must be": the field's own words, or its type and limits."""
    t = _unwrap(t)
    if isinstance(t, mi.Metadata):
        extra: Mapping[str, Any] = t.extra or {}
        if "expect" in extra:
            return str(extra["expect"])
        t = _unwrap(t.type)
    if isinstance(t, mi.StrType):
        span = _span(t.min_length, t.max_length, "characters")
        return f"text of {span}" if span else "text"
    if isinstance(t, mi.IntType):
        low = t.ge if t.ge is not None else (t.gt + 1 if t.gt is not None else None)
        high = t.le if t.le is not None else (t.lt - 1 if t.lt is not None else None)
        if low is not None and high is not None:
            return f"a whole number from {low} to {high}"
        return "a whole number"
    if isinstance(t, mi.BoolType):
        return "true or false"
    if isinstance(t, mi.ListType):
        span = _span(t.min_length, t.max_length, "items")
        return f"a list of {span}" if span else "a list"
    if isinstance(t, mi.DateType):
        return "a date like 2026-11-28"
    if isinstance(t, mi.DateTimeType):
        return "an ISO-8601 instant with a time zone, like 2026-11-28T09:30:00Z"
    if isinstance(t, mi.LiteralType):
        return "one of " + ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in t.values)
    if isinstance(t, mi.EnumType):
        return "one of " + ", ".join(str(m.value) for m in t.cls)
    if isinstance(t, mi.StructType):
        return "an object"
    return "of another kind"
