"""Joining a live chat: a single-use ticket for the WebSocket, ICE servers, and the chat log."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web
from multidict import CIMultiDict

from media.turn import mint_turn_credentials
from rooms import chatlog
from rooms.broker import BrokerUnavailable
from rooms.tickets import RoomPass, mint_ticket
from rooms.timeline import from_ms, to_ms
from scheduling.chat_rules import check_visible
from scheduling.db import read_tx
from scheduling.join_window import JoinClosedReason, join_window
from scheduling.model import ChatState
from scheduling.store_chats import require_chat
from scheduling.store_join import join_facts
from signaling import messages as m
from signaling.ws import NODE
from web import resources as r
from web.api_chats import CHAT_ID
from web.auth import principal
from web.config import Config
from web.json_io import iso, json_response
from web.keys import CLOCK, CONFIG, ENGINE
from web.problems import Problem
from web.views import window_view

routes = web.RouteTableDef()

_REFUSALS = {
    JoinClosedReason.TOO_EARLY: "too_early",
    JoinClosedReason.ENDED: "chat_ended",
    JoinClosedReason.CANCELLED: "chat_cancelled",
    JoinClosedReason.NOT_CONFIRMED: "not_confirmed",
}


def ice_servers(
    config: Config, chat_id: str, user_id: str, expires_at: datetime
) -> tuple[m.IceServer, ...]:
    """Duet's own TURN, with credentials for this person and chat that expire with the window.

    Never a public STUN server: with no TURN configured, host candidates are all there is.
    """
    if not config.turn_secret or not config.turn_urls:
        return ()
    server = mint_turn_credentials(
        config.turn_secret, user_id, chat_id, expires_at, config.turn_urls
    )
    return (server,)


@routes.post(f"/api/v1/chats/{CHAT_ID}/join")
async def post_join(request: web.Request) -> web.Response:
    """Only the two people of a confirmed chat, only inside its join window, get a ticket."""
    who = principal(request)
    config = request.app[CONFIG]
    now = request.app[CLOCK].now()
    # One statement by key, read in place on SQLite (scheduling/db.py: point_select): at :00
    # every person of a time slot asks for this within seconds.
    facts = await join_facts(request.app[ENGINE], request.match_info["chat_id"])
    side = None if facts is None else facts.chat.side_of(who.user_id)
    check_visible(facts is not None, who.role, side)  # 404, as for any chat not one's own
    assert facts is not None
    chat, event, history_seq = facts.chat, facts.terms, facts.history_seq
    if side is None:  # an organizer sees the chat but has no seat in it
        raise Problem(403, "not_a_member", "Only the two people of this chat can join it.")
    window = join_window(chat.view, event.join_policy, now)
    if not window.is_open:
        assert window.reason is not None
        raise Problem(
            409,
            _REFUSALS[window.reason],
            window.message or "This chat cannot be joined now.",
            join=window.to_dict(now),
        )
    assert (
        chat.state == ChatState.CONFIRMED
        and chat.starts_at is not None
        and chat.ends_at is not None
    )
    # The ticket carries what was just read, so the WebSocket join reads no database.
    room = RoomPass.of(chat, who.user_id, event.join_policy, event.media_mode, history_seq)
    expires = now + timedelta(seconds=config.ticket_ttl_s)
    try:
        epoch = await request.app[NODE].broker.epoch()
    except BrokerUnavailable as exc:
        raise Problem(
            503,
            "unavailable",
            "The chat service is briefly unavailable; please try again in a moment.",
            headers=CIMultiDict({"Retry-After": "2"}),
        ) from exc
    scheme = (
        "wss" if request.secure or request.headers.get("X-Forwarded-Proto") == "https" else "ws"
    )
    return json_response(
        r.JoinGrant(
            ticket=mint_ticket(config.jwt_secret, room, expires, epoch),
            ws_url=f"{scheme}://{request.host}/api/v1/ws",
            subprotocols=list(m.SUBPROTOCOLS),
            ice_servers=[
                r.IceServer(list(s.urls), s.username, s.credential)
                for s in ice_servers(config, chat.id, who.user_id, from_ms(room.closes_ms))
            ],
            join_window=window_view(window, now),
            server_time=now,
            server_time_ms=to_ms(now),
            ticket_expires_in_s=config.ticket_ttl_s,
            media_mode=event.media_mode,
            support_url=event.support_url,
        )
    )


@routes.get(f"/api/v1/chats/{CHAT_ID}/messages")
async def get_messages(request: web.Request) -> web.Response:
    """The side-panel chat log; stays readable after the chat (Completed), by its two people only."""
    who = principal(request)
    async with read_tx(request.app[ENGINE]) as conn:
        chat = await require_chat(conn, request.match_info["chat_id"], who.user_id, who.role)
    if chat.side_of(who.user_id) is None:  # an organizer: sees the chat, not what was written
        raise Problem(
            403,
            "private",
            "What the two people wrote in their chat is private to them; organizers see the "
            "chat's people, state and times, not its messages.",
        )
    try:
        after = int(request.query.get("after_seq", "0"))
    except ValueError as exc:
        raise Problem(
            422, "invalid", "after_seq must be a whole number.", field="after_seq"
        ) from exc
    found, last = await chatlog.since(request.app[ENGINE], chat.id, max(0, after))
    return json_response(
        {
            "chat_id": chat.id,
            "last_seq": last,
            "messages": [
                {
                    "seq": x.seq,
                    "client_msg_id": x.client_msg_id,
                    "sender_id": x.sender_id,
                    "text": x.text,
                    "sent_at": iso(x.sent_at),
                }
                for x in found
            ],
        }
    )
