"""The WebSocket join reads no database: the ticket carries the chat's facts, the broker's chat
notes say what changed since, and rooms close on shared timers (docs/performance.md).

These check that the shortcut never changes what a person sees: the history is complete, a
cancel or a move made after the ticket was minted still refuses it, and time warnings and the
close reach every socket of a closing instant, with one timer per instant.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from rooms.broker import Broker
from rooms.broker_memory import MemoryBroker
from rooms.broker_redis import RedisBroker
from rooms.chat_notes import (
    HAS_HISTORY,
    ChatChange,
    change_after_minting,
    must_read_log,
)
from rooms.closing_timers import SLICE, ClosingTimers
from rooms.tickets import RoomPass, Ticket
from scheduling.clock import ManualClock
from signaling import messages as m
from signaling.close_codes import CloseCode
from signaling.ws import NODE
from tests.support.apiclient import ADA, SAM, Api
from tests.support.rooms import alive, closed_with, live_chat, pair, present, room_closes_at
from tests.support.services import RunningService
from tests.support.signal_client import join, ticket
from web.keys import ENGINE

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@contextmanager
def statements(api: Api) -> Iterator[list[str]]:
    """Every SQL statement the app's engine runs inside the block."""
    seen: list[str] = []
    engine = api.client.app[ENGINE].sync_engine

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        task = asyncio.current_task()
        if task is None or not task.get_name().startswith(
            "settle"
        ):  # the node's own tick, due whenever
            seen.append(statement)  # the test moved the clock

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_a_join_reads_no_database_until_the_chat_has_messages(api: Api) -> None:
    chat_id, _ = await live_chat(api)
    grant = await ticket(api, ADA, chat_id)
    with statements(api) as seen:
        ada = await present(api, grant["ticket"])
        joined = await ada.expect(m.Joined)
    assert seen == []
    assert (joined.history, joined.last_seq, joined.you.name) == ((), 0, "Ada Lovelace")
    await ada.send(m.ChatSend(client_msg_id="a1", text="Hello Sam"))
    await ada.expect(m.ChatAck)
    grant = await ticket(api, SAM, chat_id)
    with statements(api) as seen:
        sam = await present(api, grant["ticket"])
        joined = await sam.expect(m.Joined)
    queries = [s for s in seen if s != "BEGIN"]
    assert len(queries) == 1 and "FROM chat_messages" in queries[0]  # one read of the log
    assert [h.text for h in joined.history] == ["Hello Sam"] and joined.last_seq == 1
    await ada.close()
    await sam.close()


async def test_a_message_sent_after_minting_is_in_the_history(api: Api) -> None:
    """The ticket says the log was empty; the sender's note says it is not any more."""
    chat_id, _ = await live_chat(api)
    ada, _ = await join(api, ADA, chat_id)
    grant = await ticket(api, SAM, chat_id)  # minted with history_seq 0
    await ada.send(m.ChatSend(client_msg_id="a1", text="Before you joined"))
    await ada.expect(m.ChatAck)
    sam = await present(api, grant["ticket"])
    joined = await sam.expect(m.Joined)
    assert [(h.seq, h.text) for h in joined.history] == [(1, "Before you joined")]
    await ada.close()
    await sam.close()


async def test_a_resume_that_has_everything_reads_nothing(api: Api) -> None:
    chat_id, _ = await live_chat(api)
    node = api.client.app[NODE]
    ada, _ = await join(api, ADA, chat_id)
    await ada.send(m.ChatSend(client_msg_id="a1", text="One"))
    await ada.expect(m.ChatAck)
    await ada.close()
    # As after a Redis restart: the note is gone, so only the ticket's own seq can tell.
    node.broker._notes.clear()  # type: ignore[attr-defined]
    grant = await ticket(api, ADA, chat_id)
    with statements(api) as seen:
        again = await present(api, grant["ticket"], resume=m.Resume(last_seq=1, media_kept=False))
        joined = await again.expect(m.Joined)
    assert seen == [] and (joined.history, joined.last_seq) == ((), 1)
    grant = await ticket(api, ADA, chat_id)
    await again.close()
    behind = await present(api, grant["ticket"], resume=m.Resume(last_seq=0, media_kept=False))
    assert [h.text for h in (await behind.expect(m.Joined)).history] == ["One"]
    await behind.close()


async def test_a_ticket_minted_before_a_cancel_is_refused(api: Api) -> None:
    chat_id, _ = await live_chat(api)
    grant = await ticket(api, SAM, chat_id)
    await api.call(SAM, "POST", f"/api/v1/chats/{chat_id}/cancel", {"reason": "Sorry."})
    code, before = await closed_with(await present(api, grant["ticket"]))
    assert code == CloseCode.CHAT_CANCELLED and before == []
    assert await api.client.app[NODE].broker.get_seat(chat_id, SAM.id) is None


async def test_a_stale_ticket_never_replaces_the_live_tab(api: Api) -> None:
    """A ticket the chat's change made stale is refused before it touches any seat: the
    person's live tab stays, and the peer is not told anything."""
    chat_id, _ = await live_chat(api)
    node = api.client.app[NODE]
    ada, sam = await pair(api, chat_id)
    stale = await ticket(api, SAM, chat_id)
    await node.broker.note_chat(chat_id, *ChatChange("rescheduled", 1).note(), 60)
    code, _ = await closed_with(await present(api, stale["ticket"]))
    assert code == CloseCode.RESCHEDULED
    await alive(sam)
    assert not any(isinstance(x, m.Replaced) for x in sam.received)
    assert not any(isinstance(x, m.PeerLeft | m.PeerReconnecting) for x in ada.received)
    assert (await node.broker.get_seat(chat_id, SAM.id)).conn_id == node.local[
        (chat_id, SAM.id)
    ].conn_id
    await ada.close()
    await sam.close()


async def test_a_cancel_noted_while_a_join_is_admitted_unseats_it(api: Api) -> None:
    """The join reads the notes in the same round trip that writes its seat, after the write; a
    cancel noted after the join's first look at the notes is seen there, and the seat is taken
    back instead of being left to a closed room."""
    chat_id, _ = await live_chat(api)
    node = api.client.app[NODE]
    grant = await ticket(api, SAM, chat_id)
    real_take_seat = node.broker.take_seat

    async def cancel_then_take_seat(
        chat: str, user: str, seat: Any, ttl: int, peer: str
    ) -> tuple[dict[str, str], Any]:
        await node.broker.note_chat(chat, *ChatChange("cancelled", 1).note(), 60)
        return await real_take_seat(chat, user, seat, ttl, peer)

    node.broker.take_seat = cancel_then_take_seat  # type: ignore[method-assign]
    try:
        code, _ = await closed_with(await present(api, grant["ticket"]))
    finally:
        node.broker.take_seat = real_take_seat  # type: ignore[method-assign]
    assert code == CloseCode.CHAT_CANCELLED
    assert await node.broker.get_seat(chat_id, SAM.id) is None
    assert (chat_id, SAM.id) not in node.local


async def test_one_timer_per_closing_instant_warns_and_closes_every_socket(api: Api) -> None:
    chat_id, chat = await live_chat(api, before_start=timedelta(seconds=0))
    node = api.client.app[NODE]
    ada, _ = await join(api, ADA, chat_id)
    sam, _ = await join(api, SAM, chat_id)
    assert len(node.closing_timers) == 1
    closes = room_closes_at(chat)
    api.clock.set(closes - timedelta(seconds=300))
    api.clock.set(closes - timedelta(seconds=60))
    for client in (ada, sam):
        warnings = [(await client.expect(m.TimeWarning)).seconds_left for _ in range(2)]
        assert warnings == [300, 60]
    api.clock.set(closes)
    for client in (ada, sam):
        code, before = await closed_with(client)
        assert code == CloseCode.ROOM_CLOSED and isinstance(before[-1], m.RoomClosing)
    assert len(node.closing_timers) == 0


# --- the pieces on their own ------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, int | None]] = []

    def warn(self, member: str, seconds: int) -> None:
        self.events.append(("warn", member, seconds))

    def close(self, member: str) -> None:
        self.events.append(("close", member, None))


async def test_closing_timers_group_members_and_forget_empty_instants() -> None:
    clock = ManualClock(T0)
    seen = Recorder()
    timers: ClosingTimers[str] = ClosingTimers(clock, seen.warn, seen.close)
    closes, other = T0 + timedelta(minutes=30), T0 + timedelta(minutes=40)
    for i in range(1000):
        timers.add(f"s{i}", closes, T0)
    timers.add("gone", other, T0)
    assert len(timers) == 2
    timers.discard("gone", other)
    assert len(timers) == 1  # an instant nobody waits for has no timers left
    timers.discard("s1", closes)
    clock.set(closes - timedelta(seconds=200))  # a late joiner hears only what is still ahead
    timers.add("late", closes, clock.now())
    clock.set(closes)
    await _run_due_callbacks()
    by_kind = {k: [e for e in seen.events if e[0] == k] for k in ("warn", "close")}
    assert [e for e in by_kind["warn"] if e[2] == 300] == [
        ("warn", f"s{i}", 300) for i in range(1000) if i != 1
    ]
    assert ("warn", "late", 300) not in seen.events and ("warn", "late", 60) in seen.events
    assert len(by_kind["close"]) == 1000 and ("close", "s1", None) not in seen.events
    assert len(timers) == 0


async def test_closing_timers_close_in_slices_then_say_the_instant_is_closed() -> None:
    """10,000 closes in one callback held the loop ~0.5 s: SLICE per turn, then `on_closed`."""
    clock = ManualClock(T0)
    seen = Recorder()
    instants: list[datetime] = []
    timers: ClosingTimers[str] = ClosingTimers(clock, seen.warn, seen.close, instants.append)
    closes = T0 + timedelta(minutes=30)
    count = SLICE * 2 + 10
    for i in range(count):
        timers.add(f"s{i}", closes, closes - timedelta(seconds=30))
    clock.set(closes)
    per_turn: list[int] = []
    while len(per_turn) < 10 and not instants:
        before = len(seen.events)
        await asyncio.sleep(0)
        per_turn.append(len(seen.events) - before)
    assert sum(per_turn) == count and max(per_turn) <= SLICE and len(per_turn) >= 3
    assert instants == [closes]


async def test_closing_timers_cancel_all() -> None:
    clock = ManualClock(T0)
    seen = Recorder()
    timers: ClosingTimers[str] = ClosingTimers(clock, seen.warn, seen.close)
    timers.add("a", T0 + timedelta(minutes=10), T0)
    timers.cancel_all()
    clock.set(T0 + timedelta(hours=1))
    await _run_due_callbacks()
    assert seen.events == [] and len(timers) == 0


async def _run_due_callbacks() -> None:
    """ManualClock runs due callbacks through the loop (call_soon), as the real clock would;
    the timers warn and close SLICE members per turn of the loop."""
    for _ in range(20):
        await asyncio.sleep(0)


def _ticket(history_seq: int = 0, version: int = 0) -> Ticket:
    room = RoomPass("c", "u", "participant", "U", "p", "P", 0, 1, "p2p", history_seq, version)
    return Ticket(room, 2, "nonce", "epoch")


@pytest.mark.parametrize(
    ("notes", "version", "refused"),
    [
        ({}, 0, None),
        ({"changed:1": "cancelled"}, 0, "cancelled"),
        ({"changed:3": "rescheduled"}, 2, "rescheduled"),
        ({"changed:3": "rescheduled"}, 3, None),  # minted after the move: its facts are current
        ({HAS_HISTORY: "1"}, 0, None),
        # Noted in either order, the later change wins: one note per version.
        ({"changed:3": "cancelled", "changed:2": "rescheduled"}, 1, "cancelled"),
        ({"changed:2": "rescheduled", "changed:3": "cancelled"}, 2, "cancelled"),
        ({"changed:x": "cancelled", "changed": "cancelled"}, 0, None),  # not ours: ignored
    ],
)
def test_only_a_change_the_ticket_predates_refuses_it(
    notes: dict[str, str], version: int, refused: str | None
) -> None:
    change = change_after_minting(notes, _ticket(version=version))
    assert (change.reason if change else None) == refused


@pytest.mark.parametrize(
    ("notes", "ticket_seq", "resume_seq", "read"),
    [
        ({}, 0, 0, False),  # the usual first join: nothing to read
        ({}, 4, 4, False),  # a resume that has everything
        ({}, 4, 0, True),  # a fresh page: the ticket knew of messages
        ({}, 0, 3, True),  # the client claims messages nobody noted: trust the log
        ({HAS_HISTORY: "1"}, 0, 0, True),
        ({"changed:1": "cancelled"}, 0, 0, False),
    ],
)
def test_the_log_is_read_only_when_it_may_hold_something_new(
    notes: dict[str, str], ticket_seq: int, resume_seq: int, read: bool
) -> None:
    assert must_read_log(notes, _ticket(history_seq=ticket_seq), resume_seq) is read


async def _notes_round_trip(broker: Broker) -> None:
    assert await broker.chat_notes("c1") == {}
    await broker.note_chat("c1", HAS_HISTORY, "1", 60)
    await broker.note_chat("c1", *ChatChange("cancelled", 2).note(), 60)
    await broker.note_chat("c2", HAS_HISTORY, "1", 60)
    assert await broker.chat_notes("c1") == {HAS_HISTORY: "1", "changed:2": "cancelled"}
    await broker.note_chat("c1", HAS_HISTORY, "2", 60)
    assert (await broker.chat_notes("c1"))[HAS_HISTORY] == "2"


async def test_memory_broker_notes_expire() -> None:
    clock = ManualClock(T0)
    broker = MemoryBroker(clock)
    await _notes_round_trip(broker)
    clock.advance(timedelta(seconds=61))
    assert await broker.chat_notes("c1") == {}


async def test_redis_broker_notes_are_shared_and_expire(redis_service: RunningService) -> None:
    url = f"redis://127.0.0.1:{redis_service.port}/0"
    a, b = RedisBroker(url, "node-a"), RedisBroker(url, "node-b")
    try:
        await _notes_round_trip(a)
        assert await b.chat_notes("c1") == {HAS_HISTORY: "2", "changed:2": "cancelled"}
        assert 0 < await a._redis.ttl("duet:notes:c1") <= 60  # the TTL is Redis's to enforce
    finally:
        await a.close()
        await b.close()


async def test_one_members_failure_does_not_skip_the_others() -> None:
    clock = ManualClock(T0)
    seen = Recorder()

    def close(member: str) -> None:
        if member == "broken":
            raise RuntimeError("a socket that cannot be closed")
        seen.close(member)

    timers: ClosingTimers[str] = ClosingTimers(clock, seen.warn, close)
    closes = T0 + timedelta(minutes=2)
    for member in ("a", "broken", "b"):
        timers.add(member, closes, T0)
    clock.set(closes)
    await _run_due_callbacks()
    assert [e for e in seen.events if e[0] == "close"] == [
        ("close", "a", None),
        ("close", "b", None),
    ]
