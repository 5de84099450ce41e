"""The logger aiohttp's connection handler writes to, with clients' malformed requests as such.

aiohttp answers a request it cannot parse (a header line over 8190 bytes, a bad request line)
with 400 and logs it through `logger.exception`: ERROR with a traceback, as if Duet had failed.
It is the client's error, so this logger writes one WARNING line instead (a flood of them can
still mean a proxy or the host platform sends oversized cookies, which is worth seeing), and
leaves out the request's bytes, which may hold a token. Server errors keep their traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.log import server_logger


def describe(exc: HttpProcessingError) -> str:
    """What was wrong with the request, without echoing it."""
    if isinstance(exc, LineTooLong):
        return f"a request or header line longer than {exc.args[1]} bytes"
    first = exc.message.splitlines()[0] if exc.message else ""
    return f"{type(exc).__name__}: {first[:80]}" if first else type(exc).__name__


class ServerLog(logging.LoggerAdapter[logging.Logger]):
    """`aiohttp.server` with client errors (4xx while parsing) logged as one WARNING line."""

    def __init__(self, logger: logging.Logger = server_logger) -> None:
        super().__init__(logger, {})

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        if isinstance(exc_info, HttpProcessingError) and 400 <= exc_info.code < 500:
            # aiohttp's message is "Error handling request from %s" with the peer's address.
            peer = args[0] if args else "a client"
            self.warning(
                "Answered %d to %s: not valid HTTP (%s)",
                exc_info.code,
                peer,
                describe(exc_info),
                **kwargs,
            )
            return
        super().exception(msg, *args, exc_info=exc_info, **kwargs)


# Passed to aiohttp as `handler_args={"logger": SERVER_LOG}` (web/app.py); holds no state.
SERVER_LOG = ServerLog()
