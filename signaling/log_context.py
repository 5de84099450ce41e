"""Who a log line is about: the fields a structured log line carries beside its message.

One context variable holds an immutable mapping (`chat_id`, `conn_id`, `user_id`, `node_id`,
`request_id`), so each asyncio task sees its own fields (a task copies its creator's context)
and a field bound by one socket's or request's task never shows in another's lines. It lives in
`signaling` because the socket handler binds a socket's fields and `web` reads them in its log
formatter (web/logs.py); imports flow one way. Binding is per socket and per request, never per
message: the relay's hot path binds nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar, Token
from types import MappingProxyType
from typing import Final

__all__ = ["FIELDS", "bind", "current", "unbind"]

# The context fields, in the order a JSON log line lists them.
FIELDS: Final = ("node_id", "request_id", "user_id", "chat_id", "conn_id")

_EMPTY: Final[Mapping[str, str]] = MappingProxyType({})
_fields: ContextVar[Mapping[str, str]] = ContextVar("duet_log_fields", default=_EMPTY)


def bind(**fields: str) -> Token[Mapping[str, str]]:
    """Add `fields` (empty values are left out) to this task's context; `unbind` the token
    when the work they describe ends."""
    merged = {**_fields.get(), **{k: v for k, v in fields.items() if v}}
    return _fields.set(MappingProxyType(merged))


def unbind(token: Token[Mapping[str, str]]) -> None:
    _fields.reset(token)


def current() -> Mapping[str, str]:
    """This task's fields (read-only)."""
    return _fields.get()
