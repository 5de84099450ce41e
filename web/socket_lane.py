"""The signaling socket, and `/metrics`, skip the REST middlewares.

`/api/v1/ws` authenticates with its ticket and reports errors as close codes, so auth,
idempotency and problem+json have nothing to do for it; yet every `async def` middleware around
a handler holds a coroutine frame for as long as the handler runs, which for a socket is the
whole call: four more coroutines per socket for every garbage collection to walk
(docs/performance.md). This middleware is a plain function, so it adds no frame either: it
returns the socket handler's coroutine, or the rest of the chain's, for aiohttp to await.

`/metrics` has its own token (web/metrics.py), which the JWT check would refuse, and its answer
must not pass through idempotency or problem+json either.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from signaling.ws import ws_handler
from web.metrics import metrics_endpoint

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
def socket_lane(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    if request.match_info.handler is ws_handler:
        return ws_handler(request)
    if request.match_info.handler is metrics_endpoint:
        return metrics_endpoint(request)
    return handler(request)
