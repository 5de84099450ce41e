"""RFC 9457 problem+json responses, and the middleware that turns every failure into one.

A person reads `detail`; a program switches on `type` (and `code`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import msgspec
from aiohttp import web
from multidict import CIMultiDict

from scheduling.db import is_unavailable
from scheduling.errors import DomainError, ErrorKind

log = logging.getLogger("duet.web")

PROBLEM_TYPE_BASE = "https://duet.example/problems/"
CONTENT_TYPE = "application/problem+json"

_STATUS = {
    ErrorKind.INVALID: 422,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.WRONG_STATE: 409,
    ErrorKind.SLOT_TAKEN: 409,
    ErrorKind.QUOTA: 409,
    ErrorKind.NO_FREE_SLOT: 409,
    ErrorKind.OVERLAP: 409,
    ErrorKind.DUPLICATE: 409,
    ErrorKind.TOO_CLOSE: 409,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.NOT_PDF: 422,
}
_TITLES = {
    400: "Bad request",
    401: "Sign-in needed",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Invalid field",
    429: "Too many requests",
    500: "Server error",
    503: "Service unavailable",
}


# How long a client should wait before trying again when the database is unavailable: the
# pool tests each connection before use, so the first request after it is back succeeds.
RETRY_AFTER_S = 2

_encode = msgspec.json.Encoder().encode
# An aiohttp HTTP error's headers reach the client (405's Allow, for one); only those that
# describe its plain-text body are replaced by the problem's own.
_BODY_HEADERS = frozenset(("content-type", "content-length", "content-encoding"))


class Problem(Exception):
    """An HTTP error with a problem+json body; raise it from handlers, the middleware answers.

    The body's members are those of the `Problem` component in `web/resources.py`, plus extras.
    """

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: CIMultiDict[str] | None = None,
        **extra: object,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers
        self.extra = extra

    def response(self) -> web.Response:
        body = {
            "type": PROBLEM_TYPE_BASE + self.code,
            "title": _TITLES.get(self.status, "Error"),
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            **self.extra,
        }
        headers = CIMultiDict(self.headers or ())
        if self.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return web.Response(
            status=self.status, body=_encode(body), content_type=CONTENT_TYPE, headers=headers
        )


def from_domain(err: DomainError) -> Problem:
    return Problem(_STATUS[err.kind], err.kind.value, err.message, headers=None, **err.extra)


def database_unavailable() -> Problem:
    """503 with Retry-After: the database is unreachable or busy now; nothing was changed."""
    return Problem(
        503,
        "database_unavailable",
        "The database is not reachable right now; nothing was changed. Please try again shortly.",
        headers=CIMultiDict({"Retry-After": str(RETRY_AFTER_S)}),
    )


_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def problem_middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Every error leaves as problem+json with a sentence; nothing escapes as a bare 500 page."""
    try:
        return await handler(request)
    except Problem as problem:
        return problem.response()
    except DomainError as err:
        return from_domain(err).response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        detail = {
            404: "There is nothing at this address.",
            405: f"{request.method} is not supported here; this address answers "
            f"{exc.headers.get('Allow', '').replace(',', ', ')}.",
            413: "The request body is too large.",
        }.get(exc.status, exc.reason)
        kept = CIMultiDict((k, v) for k, v in exc.headers.items() if k.lower() not in _BODY_HEADERS)
        return Problem(exc.status, f"http_{exc.status}", detail, headers=kept).response()
    except Exception as exc:
        if is_unavailable(exc):
            log.warning(
                "database unavailable on %s %s: %s", request.method, request.path, _first_line(exc)
            )
            return database_unavailable().response()
        log.exception("unhandled error on %s %s", request.method, request.path)
        return Problem(
            500, "server_error", "Something went wrong on our side; please try again."
        ).response()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__).split("\n", 1)[0]
