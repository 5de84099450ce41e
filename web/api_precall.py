"""The pre-call check API: a browser sends an offer, the server mirrors and grades its media.

``GET /api/v1/precall`` gives the ICE servers to build the offer with (Duet's own TURN, never a
public STUN server), ``POST`` starts a check, ``GET /{id}`` reads the verdict so far and
``DELETE /{id}`` ends it. A check belongs to the person who started it; anyone else gets 404,
so ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from aiohttp import web
from aiortc import RTCSessionDescription

from media.ice import IceServer
from media.peer_pool import PoolClosed, PoolFull
from media.precall import BadOffer, PrecallService
from media.turn import mint_turn_credentials
from scheduling.clock import Clock
from web import request_bodies as rb
from web import resources as r
from web.auth import principal
from web.config import Config
from web.json_io import Body, json_response
from web.keys import CLOCK, CONFIG, PRECALL
from web.problems import Problem

routes = web.RouteTableDef()

OFFER = Body(rb.PrecallOffer)

CHECK_ID = "{check_id:[A-Za-z0-9_-]{1,64}}"
# TURN credentials are minted per person for this pseudo-chat: opaque_turn_id keeps them apart
# from the person's real chats in coturn's logs.
PRECALL_TURN_SCOPE = "precall"
SERVER_TURN_USER = "duet-precall-server"
# Time a browser may take between fetching ICE servers and sending its offer.
OFFER_MARGIN_S = 120


def precall_ice_servers(config: Config, user_id: str, expires_at: datetime) -> list[IceServer]:
    """Duet's TURN servers with credentials for pre-call checks; empty when none is set up."""
    if not config.turn_secret or not config.turn_urls:
        return []
    return [
        mint_turn_credentials(
            config.turn_secret, user_id, PRECALL_TURN_SCOPE, expires_at, config.turn_urls
        )
    ]


def precall_service(config: Config, clock: Clock) -> PrecallService:
    """The app's pre-call service; its server peers get TURN credentials per check."""

    def server_ice() -> list[IceServer]:
        expires = clock.now() + timedelta(seconds=config.precall_max_s + OFFER_MARGIN_S)
        return precall_ice_servers(config, SERVER_TURN_USER, expires)

    return PrecallService(config.max_server_peers, config.precall_max_s, server_ice, clock=clock)


async def precall_context(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: the pool opens with the app and closes every peer on shutdown."""
    service = precall_service(app[CONFIG], app[CLOCK])
    app[PRECALL] = service
    yield
    await service.close()


def _service(request: web.Request) -> PrecallService:
    return request.app[PRECALL]


def _not_found() -> Problem:
    return Problem(
        404,
        "precall_not_found",
        "There is no check of yours with this id; it may have ended more than two minutes ago.",
    )


@routes.get("/api/v1/precall")
async def get_precall_setup(request: web.Request) -> web.Response:
    """What the browser needs before making its offer: ICE servers and the check's length."""
    who = principal(request)
    config = request.app[CONFIG]
    expires = request.app[CLOCK].now() + timedelta(seconds=config.precall_max_s + OFFER_MARGIN_S)
    return json_response(
        r.PrecallSetup(
            [
                r.IceServer(list(s.urls), s.username, s.credential)
                for s in precall_ice_servers(config, who.user_id, expires)
            ],
            config.precall_max_s,
        )
    )


@routes.post("/api/v1/precall")
async def post_precall(request: web.Request) -> web.Response:
    """Start a check from the browser's offer; answer at once (no trickle from the server)."""
    who = principal(request)
    offer = await OFFER.read(request)
    try:
        _, answer = await _service(request).start(
            who.user_id, RTCSessionDescription(offer.sdp, offer.type)
        )
    except PoolFull as exc:
        raise Problem(
            503,
            "precall_busy",
            "Too many checks are running; try again in a minute.",
            retry_after_s=60,
        ) from exc
    except PoolClosed as exc:
        raise Problem(
            503, "shutting_down", "Duet is restarting; try again in a minute.", retry_after_s=60
        ) from exc
    except BadOffer as exc:
        raise Problem(422, "bad_offer", str(exc), field="sdp") from exc
    return json_response(answer, status=201)


@routes.get(f"/api/v1/precall/{CHECK_ID}")
async def get_precall(request: web.Request) -> web.Response:
    """The verdict so far (or the final one, shortly after the check ended)."""
    who = principal(request)
    report = _service(request).status(who.user_id, request.match_info["check_id"])
    if report is None:
        raise _not_found()
    return json_response(report)


@routes.delete(f"/api/v1/precall/{CHECK_ID}")
async def delete_precall(request: web.Request) -> web.Response:
    """End the check now and return its final verdict."""
    who = principal(request)
    report = await _service(request).stop(who.user_id, request.match_info["check_id"])
    if report is None:
        raise _not_found()
    return json_response(report)
