"""Who a log line is about: the fields a structured log line carries beside its message.

One context variable holds the fields (`node_id`, `request_id`, `user_id`, `chat_id`,
`conn_id`) as one tuple of strings, so each asyncio task sees its own fields (a task copies its creator's context)
and a field bound by one socket's or request's task never shows in another's lines. It lives in
`signaling` because the socket handler binds a socket's fields and `web` reads them in its log
formatter (web/logs.py); imports flow one way. Binding is per socket and per request, never per
message: the relay's hot path binds nothing. A tuple of strings, not a dict: a socket keeps its
fields for its whole life, and the garbage collector stops tracking such a tuple.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Final

__all__ = ["FIELDS", "bind", "current", "unbind"]

# The context fields, in the order a JSON log line lists them.
FIELDS: Final = ("node_id", "request_id", "user_id", "chat_id", "conn_id")

_INDEX: Final = {name: i for i, name in enumerate(FIELDS)}
_fields: ContextVar[tuple[str, ...]] = ContextVar("duet_log_fields", default=("",) * len(FIELDS))


def bind(**fields: str) -> Token[tuple[str, ...]]:
    """Set `fields` (names from FIELDS; empty values are left out) in this task's context;
    `unbind` the token when the work they describe ends."""
    values = list(_fields.get())
    for name, value in fields.items():
        if value:
            values[_INDEX[name]] = value
    return _fields.set(tuple(values))


def unbind(token: Token[tuple[str, ...]]) -> None:
    _fields.reset(token)


def current() -> dict[str, str]:
    """This task's fields that are set (a copy)."""
    return {name: value for name, value in zip(FIELDS, _fields.get(), strict=True) if value}
