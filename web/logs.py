"""Log lines for `duet serve`: readable text by default, or one JSON object a line.

`log_format = "json"` writes `ts`, `level`, `logger`, `message` and the context of the work that
logged (`node_id` always; `request_id` and `user_id` in a REST request; `chat_id`, `conn_id` and
`user_id` in a socket's work), taken from `signaling/log_context.py`, so a line from deep inside
the node names its chat without the caller passing it down. A log aggregator can then filter
one chat's or one request's lines.

No secret is ever logged: JWTs, join tickets, TURN passwords and webhook secrets never go into a
log call (none prints a request, a header, a token or a URL with its query), and `redact` is
the second line of defence, applied to every formatted line, text or JSON, tracebacks included:
whatever still looks like a JWT, a join ticket, a TURN password, a bearer token or a
`secret=...` pair is replaced.

The REST side's context comes from `request_context`: a request id per request (a client's
`X-Request-Id` if it is a short plain token, else a new one), echoed in the response header, so
a person's support ticket can quote it; the auth middleware adds the user id (web/auth.py).
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import IO, Final

import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware

from signaling import log_context
from web.config import Config

__all__ = [
    "REQUEST_ID",
    "JsonFormatter",
    "TextFormatter",
    "configure_logging",
    "echo_request_id",
    "log_handler",
    "redact",
    "request_context",
]

log = logging.getLogger("duet.web.requests")

REDACTED: Final = "[redacted]"
TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_B64URL = r"[A-Za-z0-9_-]"
_SECRETS: Final = (
    # A JWT: base64url('{"...') header, payload, signature.
    re.compile(rf"eyJ{_B64URL}+\.{_B64URL}+\.{_B64URL}*"),
    # A join ticket (rooms/tickets.py): base64url('[...') payload, '.', 24-character signature.
    re.compile(rf"\bW{_B64URL}{{16,}}\.{_B64URL}{{24}}(?!{_B64URL})"),
    # A TURN password: base64 of an HMAC-SHA1 (media/turn.py), 28 characters ending in '='.
    re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{27}=(?![A-Za-z0-9+/=])"),
    # A webhook signing secret (Standard Webhooks' form, scheduling/store_webhooks.py).
    re.compile(r"whsec_[A-Za-z0-9+/=]+"),
)
# `Bearer <token>`, and `password=...`, `secret: ...`, `"credential": "..."` and the like. The
# value stops at a backslash too, so redacting inside a JSON line never eats an escape.
_BEARER: Final = re.compile(r"(?i)(\bbearer\s+)[^\s\"',;\\]+")
_PAIR: Final = re.compile(
    r"(?i)(\b(?:password|passwd|secret|credential|token|ticket|authorization|api_key)\b"
    r"\\?[\"']?\s*[:=]\s*\\?[\"']?)[^\s\"',;&\\]+"
)


def redact(line: str) -> str:
    """`line` with anything that looks like a secret replaced by REDACTED."""
    for pattern in _SECRETS:
        line = pattern.sub(REDACTED, line)
    line = _BEARER.sub(rf"\g<1>{REDACTED}", line)
    return _PAIR.sub(rf"\g<1>{REDACTED}", line)


class TextFormatter(logging.Formatter):
    """The readable one-line format, redacted."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line; `node_id` is the context's, else this node's."""

    def __init__(self, node_id: str) -> None:
        super().__init__()
        self.node_id = node_id

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = log_context.current()
        for name in log_context.FIELDS:
            value = fields.get(name) or (self.node_id if name == "node_id" else "")
            if value:
                entry[name] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return redact(orjson.dumps(entry).decode())


def _not_sql_parameters(record: logging.LogRecord) -> bool:
    """aiosqlite's DEBUG lines print every statement with its parameters ("executing
    functools.partial(...)"), which include whatever a row holds: a webhook secret, a stored
    answer. They say nothing an operator needs, so they never reach a handler."""
    return not (record.name == "aiosqlite" and record.levelno <= logging.DEBUG)


def log_handler(log_format: str, node_id: str, stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing `log_format` ("text" or "json") lines to `stream` (stderr)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(node_id) if log_format == "json" else TextFormatter())
    handler.addFilter(_not_sql_parameters)
    return handler


def configure_logging(config: Config) -> None:
    """The process's logging for `duet serve`: one handler on the root logger."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(log_handler(config.log_format, config.node_id))
    root.setLevel(config.log_level)


# --- the REST side's context -------------------------------------------------------------------

REQUEST_ID = web.RequestKey("request_id", str)
# A client's own request id is kept only when it is a short plain token: it is echoed in a header
# and written to every line of the request.
_CLIENT_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9_-]{8,64}")

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def request_context(node_id: str) -> Middleware:
    """Bind the request id and node id for every line logged while handling the request."""

    @web.middleware
    async def middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
        incoming = request.headers.get("X-Request-Id", "")
        request_id = incoming if _CLIENT_REQUEST_ID.fullmatch(incoming) else secrets.token_hex(8)
        request[REQUEST_ID] = request_id
        token = log_context.bind(node_id=node_id, request_id=request_id)
        started = time.perf_counter()
        try:
            response = await handler(request)
            # The path only: a query string could carry what a client should not have put there.
            log.debug(
                "%s %s answered %d in %.1f ms",
                request.method,
                request.path,
                response.status,
                (time.perf_counter() - started) * 1000,
            )
            return response
        finally:
            log_context.unbind(token)

    return middleware


async def echo_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: every answer to a REST request names its request id."""
    request_id = request.get(REQUEST_ID)
    if request_id is not None:
        response.headers["X-Request-Id"] = request_id
