"""A room's life by the clock: warnings before the end, the close for both, then attendance.

Nobody should be cut off mid-sentence without warning, and the chat's final state (completed or
no-show, and whose) is what organisers report on, so both are driven here purely by moving the
ManualClock, as the real timers would.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event as sa_event

from rooms import attendance
from signaling import messages as m
from signaling.close_codes import CloseCode
from signaling.node import SignalingNode
from signaling.ws import NODE
from tests.support.apiclient import ADA, ALAN, GRACE, MEI, ORGANIZER, PRIYA, SAM, Api
from tests.support.rooms import closed_with, live_chat, pair, rejoin, room_closes_at
from tests.support.seed import at, confirmed_chat
from tests.support.signal_client import join
from web.keys import ENGINE

pytestmark = pytest.mark.both_backends


async def test_warnings_then_room_closes_for_both(api: Api) -> None:
    """300 s and 60 s warnings, then `room_closing{ended}` and 4009, at the window's close."""
    chat_id, chat = await live_chat(api)
    closes = room_closes_at(chat)
    ada, joined = await join(api, ADA, chat_id)
    assert joined.ends_at == int(closes.timestamp() * 1000)
    assert joined.seconds_left == int((closes - api.clock.now()).total_seconds())
    sam, _ = await join(api, SAM, chat_id)
    await ada.expect(m.PeerJoined)

    api.clock.set(closes - timedelta(seconds=301))
    api.clock.set(closes - timedelta(seconds=300))
    for client in (ada, sam):
        assert (await client.expect(m.TimeWarning)).seconds_left == 300
    api.clock.set(closes - timedelta(seconds=60))
    for client in (ada, sam):
        assert (await client.expect(m.TimeWarning)).seconds_left == 60
    api.clock.set(closes)
    for client in (ada, sam):
        code, before = await closed_with(client)
        assert code == CloseCode.ROOM_CLOSED
        assert before == [
            m.RoomClosing(reason="ended", message="The time for this chat is up. Thank you!")
        ]
        warnings = [x.seconds_left for x in client.received if isinstance(x, m.TimeWarning)]
        assert warnings == [300, 60]
    problem = await api.call(SAM, "POST", f"/api/v1/chats/{chat_id}/join", expect=409)
    assert problem["code"] == "chat_ended"


async def test_a_late_joiner_gets_only_the_warnings_still_ahead(api: Api) -> None:
    """Warnings already passed at join time are not replayed; the close still comes on time."""
    chat_id, chat = await live_chat(api)
    closes = room_closes_at(chat)
    api.clock.set(closes - timedelta(seconds=100))
    sam, joined = await join(api, SAM, chat_id)
    assert joined.seconds_left == 100
    api.clock.set(closes - timedelta(seconds=60))
    assert (await sam.expect(m.TimeWarning)).seconds_left == 60
    api.clock.set(closes + timedelta(seconds=5))
    code, _ = await closed_with(sam)
    assert code == CloseCode.ROOM_CLOSED
    assert [x.seconds_left for x in sam.received if isinstance(x, m.TimeWarning)] == [60]


async def test_a_resumed_socket_still_closes_at_the_end(api: Api) -> None:
    """The close timer belongs to each socket: one that replaced a dropped one is closed too,
    and the dropped one's timers do not fire on anything."""
    chat_id, chat = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    ada.ws._writer.transport.abort()
    await sam.expect(m.PeerReconnecting)
    ada, _ = await rejoin(api, ADA, chat_id, resume=m.Resume(last_seq=0, media_kept=True))
    await sam.expect(m.PeerJoined)
    api.clock.set(room_closes_at(chat))
    for client in (ada, sam):
        code, before = await closed_with(client)
        assert code == CloseCode.ROOM_CLOSED and len(before) == 3  # 300, 60, room_closing
        assert [type(x) for x in before] == [m.TimeWarning, m.TimeWarning, m.RoomClosing]


async def settle_runs(node: SignalingNode) -> None:
    """Wait for the settle a clock move started: the clock schedules it with `call_soon`, so
    yield once to let it be spawned, then wait for the node's tasks."""
    await asyncio.sleep(0)
    await asyncio.gather(*list(node._tasks))


async def test_both_joined_settles_completed_by_the_periodic_settler(api: Api) -> None:
    """The node's own settle timer marks a chat both people attended as completed."""
    chat_id, chat = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    node = api.client.app[NODE]
    api.clock.set(room_closes_at(chat) - timedelta(seconds=1))
    # That move fired the periodic settle (nothing due yet); let it finish and re-arm its timer
    # before moving on, or the next move can find no timer armed.
    await settle_runs(node)
    assert (await api.call(ADA, "GET", f"/api/v1/chats/{chat_id}"))["state"] == "confirmed"
    api.clock.set(room_closes_at(chat) + timedelta(seconds=30))
    for client in (ada, sam):
        assert (await closed_with(client))[0] == CloseCode.ROOM_CLOSED
    await settle_runs(node)  # the settle the clock move started
    got = await api.call(ADA, "GET", f"/api/v1/chats/{chat_id}")
    assert got["state"] == "completed" and got["no_show_side"] in (None, "")
    history = await api.call(SAM, "GET", f"/api/v1/chats/{chat_id}/history")
    assert history["history"][-1]["action"] == "complete"


async def test_only_one_joined_settles_no_show_naming_the_absent_side(api: Api) -> None:
    """The side that never joined is recorded, even if the other left and came back."""
    chat_id, chat = await live_chat(api)
    sam, _ = await join(api, SAM, chat_id)
    await sam.send(m.Leave())
    await sam.closed()
    sam, _ = await rejoin(api, SAM, chat_id)
    engine = api.client.app[ENGINE]
    closes = room_closes_at(chat)
    assert await attendance.settle_ended(engine, closes - timedelta(seconds=1)) == []
    api.clock.set(closes)
    assert (await closed_with(sam))[0] == CloseCode.ROOM_CLOSED
    await settle_runs(api.client.app[NODE])  # the node's settle run
    got = await api.call(SAM, "GET", f"/api/v1/chats/{chat_id}")
    assert got["state"] == "no_show" and got["no_show_side"] == "employee"
    # Another node's settler finds nothing left to do (compare-and-swap on the state).
    assert await attendance.settle_ended(engine, api.clock.now()) == []


async def test_nobody_joined_settles_no_show_both(api: Api) -> None:
    """An empty room is a no-show on both sides, not a completed chat."""
    chat_id, chat = await live_chat(api)
    settled = await attendance.settle_ended(api.client.app[ENGINE], room_closes_at(chat))
    assert [c.id for c in settled] == [chat_id]
    got = await api.call(ADA, "GET", f"/api/v1/chats/{chat_id}")
    assert got["state"] == "no_show" and got["no_show_side"] == "both"


async def test_the_node_settles_the_rooms_it_closed_at_once(api: Api) -> None:
    """Settled right after the closing instant, not at the periodic tick (up to 30 s later)."""
    chat_id, chat = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    node = api.client.app[NODE]
    node._settle_timer.cancel()  # only the close can settle it now
    api.clock.set(room_closes_at(chat))
    for client in (ada, sam):
        assert (await closed_with(client))[0] == CloseCode.ROOM_CLOSED
    await settle_runs(node)
    got = await api.call(ADA, "GET", f"/api/v1/chats/{chat_id}")
    assert got["state"] == "completed"


async def test_the_rooms_of_one_instant_settle_in_a_few_statements(api: Api) -> None:
    """Three rooms of one closing instant, three outcomes, one batch: a few statements in all
    (one by one it was about nine per chat), each chat with its own outcome and history."""
    both, _ = await confirmed_chat(api, ADA, SAM)
    one, _ = await confirmed_chat(api, ALAN, PRIYA)
    none, chat = await confirmed_chat(api, GRACE, MEI)
    api.clock.set(at(chat["slot"]["starts_at"]))
    node = api.client.app[NODE]
    await settle_runs(node)  # the periodic tick that the clock move started
    await pair(api, both)
    await join(api, PRIYA, one)
    engine = api.client.app[ENGINE]
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
            seen.append(statement)

    sa_event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        settled = await attendance.settle_ended(engine, room_closes_at(chat), [node.joins])
    finally:
        sa_event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert sorted(c.id for c in settled) == sorted([both, one, none])
    # unsettled chats, the event's terms, the buffered joins, attendance, one update per
    # outcome, the history rows; two for webhooks (who listens to the entries, to the settled
    # chats: one each per batch, and no more with nobody listening); one for the calls'
    # quality summaries (the call.quality webhook), per batch
    assert len(seen) <= 11, seen
    states = {
        cid: (await api.call(ORGANIZER, "GET", f"/api/v1/chats/{cid}")) for cid in (both, one, none)
    }
    assert (states[both]["state"], states[both]["no_show_side"] or "") == ("completed", "")
    assert (states[one]["state"], states[one]["no_show_side"]) == ("no_show", "employee")
    assert (states[none]["state"], states[none]["no_show_side"]) == ("no_show", "both")
    history = await api.call(PRIYA, "GET", f"/api/v1/chats/{one}/history")
    last = history["history"][-1]
    assert (last["action"], last["from"], last["to"], last["actor_side"]) == (
        "no_show",
        "confirmed",
        "no_show",
        "system",
    )
    assert await attendance.settle_ended(engine, room_closes_at(chat)) == []
