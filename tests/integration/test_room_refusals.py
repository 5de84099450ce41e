"""Every way into a room that must be refused, each with its own documented close code.

The client decides from the close code alone whether to fetch a new ticket, stop, or tell the
person why (docs/protocol.md sections 1 and 9), so each refusal is checked for its exact code, and
that the person already in the room is not disturbed by someone else's failed attempt.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import aiohttp
import pytest

from rooms.tickets import mint_ticket, verify_ticket
from signaling import messages as m
from signaling import ws as ws_module
from signaling.close_codes import CloseCode
from tests.support.apiclient import ADA, MEI, SAM, Api
from tests.support.app import TEST_SECRET
from tests.support.rooms import (
    OPENS_BEFORE,
    alive,
    closed_with,
    forge,
    live_chat,
    pair,
    present,
    room_closes_at,
)
from tests.support.seed import at, confirmed_chat
from tests.support.signal_client import SignalClient, join, ticket


async def test_garbage_ticket_closes_4001_and_peer_is_undisturbed(api: Api) -> None:
    """A ticket that does not verify is 4001 (retry once), and never touches anyone's seat."""
    chat_id, _ = await live_chat(api)
    ada, _ = await join(api, ADA, chat_id)
    for garbage in ("tkt_not_a_real_ticket", await forge(api, chat_id, "sam") + "x"):
        code, before = await closed_with(await present(api, garbage))
        assert code == CloseCode.TICKET_INVALID and before == []
    await alive(ada)
    sam, joined = await join(api, SAM, chat_id)
    assert joined.peer.state == "connected"
    assert (await ada.expect(m.PeerJoined)).peer.user_id == "sam"
    await ada.close()
    await sam.close()


async def test_expired_ticket_closes_4002(api: Api) -> None:
    """A REST ticket presented after its ~60 s life is 4002, even though the window is open."""
    chat_id, _ = await live_chat(api)
    grant = await ticket(api, SAM, chat_id)
    assert grant["ticket_expires_in_s"] == 60
    api.clock.advance(timedelta(seconds=61))
    code, _ = await closed_with(await present(api, grant["ticket"]))
    assert code == CloseCode.TICKET_EXPIRED
    past = await forge(api, chat_id, "sam", valid_for=timedelta(seconds=-1))
    code, _ = await closed_with(await present(api, past))
    assert code == CloseCode.TICKET_EXPIRED


async def test_replayed_ticket_closes_4003_without_replacing_the_holder(api: Api) -> None:
    """A captured ticket is useless once used: 4003, and the legitimate socket keeps its seat."""
    chat_id, _ = await live_chat(api)
    grant = await ticket(api, ADA, chat_id)
    ada = await present(api, grant["ticket"])
    await ada.expect(m.Joined)
    code, before = await closed_with(await present(api, grant["ticket"]))
    assert code == CloseCode.TICKET_USED and before == []
    await alive(ada)
    assert not any(isinstance(x, m.Replaced) for x in ada.received)
    await ada.close()


async def test_ticket_is_consumed_even_when_the_join_fails(api: Api) -> None:
    """Doc section 1.4: consumed on first presentation, so a refused ticket cannot be retried."""
    chat_id, chat = await confirmed_chat(api)
    api.clock.set(at(chat["slot"]["starts_at"]) - OPENS_BEFORE - timedelta(seconds=30))
    early = await forge(api, chat_id, "ada")
    code, _ = await closed_with(await present(api, early))
    assert code == CloseCode.TOO_EARLY
    api.clock.advance(timedelta(seconds=31))  # the window is open, the ticket still unexpired
    assert (await api.call(ADA, "GET", f"/api/v1/chats/{chat_id}"))["join"]["open"] is True
    code, _ = await closed_with(await present(api, early))
    assert code == CloseCode.TICKET_USED


async def test_third_person_gets_404_and_no_ticket_of_their_own(api: Api) -> None:
    """Outsiders learn nothing over REST (404), so they never hold a ticket: tickets are signed
    by the server for one of the chat's two people and carry that seat's facts. A ticket signed
    with any other secret, even for the right chat and person, closes 4001."""
    chat_id, _ = await live_chat(api)
    ada, _ = await join(api, ADA, chat_id)
    problem = await api.call(MEI, "POST", f"/api/v1/chats/{chat_id}/join", expect=404)
    assert problem["code"] == "not_found"
    genuine = verify_ticket(TEST_SECRET, await forge(api, chat_id, SAM.id), api.clock.now())
    for user_id in (MEI.id, SAM.id):
        room = replace(genuine.room, user_id=user_id)
        other = mint_ticket(
            "not-the-server-secret", room, api.clock.now() + timedelta(minutes=1), genuine.epoch
        )
        code, _ = await closed_with(await present(api, other))
        assert code == CloseCode.TICKET_INVALID
    await alive(ada)
    assert all(isinstance(x, m.Joined | m.Pong) for x in ada.received)
    await ada.close()


async def test_before_the_window_rest_409_and_socket_4005(api: Api) -> None:
    """Too early is explained with a sentence over REST, and re-checked on the socket."""
    chat_id, chat = await confirmed_chat(api)
    api.clock.set(at(chat["slot"]["starts_at"]) - OPENS_BEFORE - timedelta(minutes=10))
    problem = await api.call(SAM, "POST", f"/api/v1/chats/{chat_id}/join", expect=409)
    assert problem["code"] == "too_early"
    assert problem["detail"] == "The chat opens in 10 minutes."
    assert problem["join"]["open"] is False
    code, _ = await closed_with(await present(api, await forge(api, chat_id, SAM.id)))
    assert code == CloseCode.TOO_EARLY


async def test_after_the_end_closes_4006(api: Api) -> None:
    """A ticket fetched inside the window but presented after it closed is refused with 4006."""
    chat_id, chat = await live_chat(api)
    closes = room_closes_at(chat)
    api.clock.set(closes - timedelta(seconds=30))
    grant = await ticket(api, SAM, chat_id)
    api.clock.set(closes)
    code, _ = await closed_with(await present(api, grant["ticket"]))
    assert code == CloseCode.CHAT_ENDED
    problem = await api.call(SAM, "POST", f"/api/v1/chats/{chat_id}/join", expect=409)
    assert problem["code"] == "chat_ended"


async def test_cancel_while_both_in_room_closes_both_4007(api: Api) -> None:
    """A cancellation ends the call at once for both people, with the reason before the close;
    a ticket fetched before the cancel no longer opens the room."""
    chat_id, _ = await live_chat(api)
    spare = await ticket(api, ADA, chat_id)
    ada, sam = await pair(api, chat_id)
    await api.call(SAM, "POST", f"/api/v1/chats/{chat_id}/cancel", {"reason": "Sorry, sick."})
    for client in (ada, sam):
        code, before = await closed_with(client)
        assert code == CloseCode.CHAT_CANCELLED
        assert isinstance(before[-1], m.RoomClosing) and before[-1].reason == "cancelled"
        assert before[-1].message == CloseCode.CHAT_CANCELLED.reason
        assert not any(isinstance(x, m.PeerLeft | m.PeerReconnecting) for x in before)
    code, _ = await closed_with(await present(api, spare["ticket"]))
    assert code == CloseCode.CHAT_CANCELLED


async def test_reschedule_while_in_room_closes_both_4012(api: Api) -> None:
    """A moved chat closes the live room with `rescheduled` so clients re-fetch the new time,
    and a ticket fetched before the move (it carries the old time) is refused the same way."""
    chat_id, chat = await live_chat(api)
    event_id = chat["event_id"]
    grid = await api.call(
        ADA, "GET", f"/api/v1/events/{event_id}/grid?date=2026-12-01&duration_min=30"
    )
    later = grid["slots"][2]["starts_at"]
    mine = await api.call(ADA, "GET", f"/api/v1/events/{event_id}/availability")
    have = sorted({*(s["starts_at"] for s in mine["slots"]), later})
    await api.call(
        ADA,
        "PUT",
        f"/api/v1/events/{event_id}/availability",
        {"days": [{"date": "2026-12-01", "duration_min": 30, "slots": have}]},
    )
    await api.call(ADA, "POST", f"/api/v1/events/{event_id}/availability/confirm")
    free = await api.call(SAM, "GET", f"/api/v1/events/{event_id}/employees/ada/slots")
    slot = next(s for s in free["slots"] if s["starts_at"] == later)
    ada, sam = await pair(api, chat_id)
    stale = await ticket(api, SAM, chat_id)
    moved = await api.call(
        SAM, "POST", f"/api/v1/chats/{chat_id}/reschedule", {"slot_id": slot["id"]}
    )
    assert moved["state"] == "confirmed" and moved["slot"]["starts_at"] == later
    for client in (ada, sam):
        code, before = await closed_with(client)
        assert code == CloseCode.RESCHEDULED
        assert isinstance(before[-1], m.RoomClosing) and before[-1].reason == "rescheduled"
    code, _ = await closed_with(await present(api, stale["ticket"]))
    assert code == CloseCode.RESCHEDULED
    problem = await api.call(SAM, "POST", f"/api/v1/chats/{chat_id}/join", expect=409)
    assert problem["code"] == "too_early"


async def test_join_with_another_version_closes_4010(api: Api) -> None:
    """An outdated client is told to reload (4010) rather than speaking a protocol we lack."""
    chat_id, _ = await live_chat(api)
    grant = await ticket(api, SAM, chat_id)
    client = await SignalClient.open(api.client)
    await client.send_raw(f'{{"type":"join","v":2,"ticket":"{grant["ticket"]}"}}')
    code, before = await closed_with(client)
    assert code == CloseCode.UNSUPPORTED_VERSION
    assert [x.code for x in before if isinstance(x, m.Error)] == ["unsupported_version"]
    # docs/protocol.md 1.4: refused before the ticket is read, so the ticket is still unused.
    client = await present(api, grant["ticket"])
    assert (await client.expect(m.Joined)).you.user_id == SAM.id
    await client.close()


@pytest.mark.parametrize(
    "first",
    [
        '{"type":"ping","ts":1}',
        '{"type":"chat_send","client_msg_id":"a","text":"hi"}',
        "not json",
        '{"type":"join","v":1}',
    ],
)
async def test_first_message_not_a_join_closes_4011(api: Api, first: str) -> None:
    """Nothing is processed before a valid `join`: anything else first closes with 4011."""
    chat_id, _ = await live_chat(api)
    ada, _ = await join(api, ADA, chat_id)
    client = await SignalClient.open(api.client)
    await client.send_raw(first)
    code, before = await closed_with(client)
    assert code == CloseCode.JOIN_REQUIRED
    assert len(before) == 1 and isinstance(before[0], m.Error)
    await alive(ada)
    await ada.close()


async def test_silence_after_upgrade_closes_4011(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """An idle upgraded socket is not kept forever: no join in time closes it with 4011."""
    monkeypatch.setattr(ws_module, "JOIN_TIMEOUT_S", 0.2)
    await live_chat(api)
    client = await SignalClient.open(api.client)
    code, before = await closed_with(client, within=5.0)
    assert code == CloseCode.JOIN_REQUIRED and before == []


async def test_foreign_origin_gets_403_before_any_socket(api: Api) -> None:
    """Cross-site WebSocket hijacking: a page on another origin never gets an upgraded socket."""
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await SignalClient.open(api.client, headers={"Origin": "https://evil.example"})
    assert refused.value.status == 403
    own = f"http://{api.client.host}:{api.client.port}"
    client = await SignalClient.open(api.client, headers={"Origin": own})
    assert client.ws.protocol == m.SUBPROTOCOL_JSON
    await client.close()


async def test_a_refused_handshake_answers_in_the_rest_problem_shape(api: Api) -> None:
    """The same problem+json as every REST error (web/problems.py), code included."""
    for headers, status, code in (
        (
            {"Origin": "https://evil.example", "Sec-WebSocket-Protocol": "duet.v1.json"},
            403,
            "origin_refused",
        ),
        ({"Sec-WebSocket-Protocol": "chat.v2"}, 400, "subprotocol_required"),
    ):
        resp = await api.client.get(
            "/api/v1/ws",
            headers={
                "Connection": "Upgrade",
                "Upgrade": "websocket",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                **headers,
            },
        )
        assert resp.status == status
        assert resp.content_type == "application/problem+json"
        body = await resp.json(content_type=None)
        assert body["type"] == f"https://duet.example/problems/{code}"
        assert (body["status"], body["code"]) == (status, code) and body["detail"].endswith(".")


async def test_a_client_without_origin_is_not_a_browser_and_may_connect(api: Api) -> None:
    """docs/protocol.md 1.2: browsers always send Origin on a WebSocket handshake, so a missing
    one is a non-browser client (a bot, a test peer), which no other site can drive: it may
    connect, and still has to present a ticket."""
    chat_id, _ = await live_chat(api)
    client = await SignalClient.open(api.client)  # aiohttp's client sends no Origin
    await client.send(m.Join(v=1, ticket=(await ticket(api, SAM, chat_id))["ticket"]))
    assert isinstance(await client.expect(m.Joined), m.Joined)
    await client.close()


async def test_no_supported_subprotocol_gets_400(api: Api) -> None:
    """A handshake offering neither duet subprotocol is refused before the upgrade."""
    for protocols in ((), ("chat.v2",)):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await api.client.ws_connect("/api/v1/ws", protocols=protocols)
        assert refused.value.status == 400
    resp = await api.client.get("/api/v1/ws", headers={"Sec-WebSocket-Protocol": "x"})
    assert resp.status == 400


async def test_msgpack_client_picks_msgpack_and_joins(api: Api) -> None:
    """The server selects the client's first supported subprotocol; msgpack joins work too."""
    chat_id, _ = await live_chat(api)
    ws = await api.client.ws_connect(
        "/api/v1/ws", protocols=("chat.v2", m.SUBPROTOCOL_MSGPACK, m.SUBPROTOCOL_JSON)
    )
    assert ws.protocol == m.SUBPROTOCOL_MSGPACK
    client = SignalClient(ws, binary=True)
    grant = await ticket(api, SAM, chat_id)
    await client.send(m.Join(v=1, ticket=grant["ticket"]))
    joined = await client.expect(m.Joined)
    assert joined.you.user_id == "sam" and joined.you.role == "participant"
    await client.close()
