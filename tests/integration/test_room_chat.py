"""The chat side panel: stored before acknowledged, numbered without gaps, never lost or doubled.

People paste links and contact details into this panel, so a message that showed as sent must
survive a dropped socket and a server restart, and a re-send after a reconnect must not appear
twice (docs/protocol.md section 5).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from rooms import attendance
from signaling import messages as m
from signaling.ws import NODE
from tests.support.apiclient import ADA, ORGANIZER, PRIYA, SAM, Api
from tests.support.app import TEST_SECRET
from tests.support.rooms import alive, drop, live_chat, pair, rejoin, room_closes_at
from tests.support.seed import at
from tests.support.signal_client import join
from web.app import create_app
from web.config import Config
from web.keys import ENGINE

pytestmark = pytest.mark.both_backends


def ms(api: Api) -> int:
    return int(api.clock.now().timestamp() * 1000)


async def chat_log(api: Api, chat_id: str) -> list[tuple[int, str, str]]:
    """The stored log as (seq, sender, text), read over REST."""
    got = await api.call(SAM, "GET", f"/api/v1/chats/{chat_id}/messages")
    return [(x["seq"], x["sender_id"], x["text"]) for x in got["messages"]]


async def test_round_trip_acks_the_sender_then_tells_both(api: Api) -> None:
    """The sender's ack comes before the broadcast, and both seats render the same message."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    text = "Hi Ada! <script>alert(1)</script> 👋\nsecond line"
    await sam.send(m.ChatSend(client_msg_id="01HZX3K9Q2", text=text))
    ack = await sam.recv()
    mine = await sam.recv()
    theirs = await ada.expect(m.ChatMessage)
    assert isinstance(ack, m.ChatAck) and isinstance(mine, m.ChatMessage)
    assert ack.client_msg_id == "01HZX3K9Q2" and ack.seq == 1 and ack.sent_at == ms(api)
    assert mine == theirs
    assert (theirs.seq, theirs.sender_id, theirs.text, theirs.sent_at) == (1, "sam", text, ms(api))
    await ada.send(m.ChatSend(client_msg_id="a-1", text="Hello Sam"))
    assert (await ada.expect(m.ChatAck)).seq == 2
    assert (await sam.expect(m.ChatMessage)).seq == 2
    assert await chat_log(api, chat_id) == [(1, "sam", text), (2, "ada", "Hello Sam")]
    await ada.close()
    await sam.close()


async def test_resend_of_a_client_msg_id_is_acked_with_the_original_seq_only(api: Api) -> None:
    """A client re-sends every unacknowledged message after a reconnect; each is stored once."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    await sam.send(m.ChatSend(client_msg_id="dup", text="once"))
    first = await sam.expect(m.ChatAck)
    await ada.expect(m.ChatMessage)
    api.clock.advance(timedelta(seconds=5))
    await sam.send(m.ChatSend(client_msg_id="dup", text="once"))
    again = await sam.expect(m.ChatAck)
    assert (again.seq, again.sent_at) == (first.seq, first.sent_at)
    await alive(sam, ts=1)
    await alive(ada, ts=2)
    for client in (ada, sam):
        assert sum(isinstance(x, m.ChatMessage) for x in client.received) == 1
    # The same id from the other sender is a different message.
    await ada.send(m.ChatSend(client_msg_id="dup", text="mine"))
    assert (await ada.expect(m.ChatAck)).seq == 2
    assert await chat_log(api, chat_id) == [(1, "sam", "once"), (2, "ada", "mine")]
    await ada.close()
    await sam.close()


async def test_history_is_replayed_on_a_fresh_join(api: Api) -> None:
    """Someone who left and came back sees the whole conversation, in order."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    for i in range(3):
        await ada.send(m.ChatSend(client_msg_id=f"a{i}", text=f"note {i}"))
        await ada.expect(m.ChatAck)
    await sam.send(m.Leave())
    await sam.closed()
    sam, joined = await rejoin(api, SAM, chat_id)
    assert [(h.seq, h.sender_id, h.text) for h in joined.history] == [
        (1, "ada", "note 0"),
        (2, "ada", "note 1"),
        (3, "ada", "note 2"),
    ]
    assert joined.last_seq == 3
    # A last_seq beyond the server's (stale sessionStorage) gets everything.
    await sam.send(m.Leave())
    await sam.closed()
    sam, joined = await rejoin(api, SAM, chat_id, resume=m.Resume(last_seq=99, media_kept=False))
    assert [h.seq for h in joined.history] == [1, 2, 3]
    await ada.close()
    await sam.close()


async def test_no_loss_and_no_duplicate_across_a_dropped_socket(api: Api) -> None:
    """Seen-before-drop plus replayed-after-resume is exactly the log: nothing lost, nothing
    twice, even for a message whose ack the dropped client never saw."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    for i in (1, 2):
        await ada.send(m.ChatSend(client_msg_id=f"a{i}", text=f"before {i}"))
        await sam.expect(m.ChatMessage)
    seen = [x.seq for x in sam.received if isinstance(x, m.ChatMessage)]
    await sam.send(m.ChatSend(client_msg_id="s-unacked", text="did this arrive?"))
    while (await ada.expect(m.ChatMessage)).sender_id != "sam":
        pass  # skip Ada's own messages: once Sam's arrives it is stored, its ack unread
    drop(sam)
    await ada.expect(m.PeerReconnecting)
    for i in (3, 4):
        await ada.send(m.ChatSend(client_msg_id=f"a{i}", text=f"during {i}"))
        await ada.expect(m.ChatAck)

    sam, joined = await rejoin(
        api, SAM, chat_id, resume=m.Resume(last_seq=max(seen), media_kept=True)
    )
    replayed = [h.seq for h in joined.history]
    assert not set(seen) & set(replayed)
    await sam.send(m.ChatSend(client_msg_id="s-unacked", text="did this arrive?"))
    ack = await sam.expect(m.ChatAck)
    log = await chat_log(api, chat_id)
    assert sorted(seen + replayed) == [seq for seq, _, _ in log] == list(range(1, len(log) + 1))
    assert [t for _, s, t in log if s == "sam"] == ["did this arrive?"]
    assert ack.seq in replayed
    await alive(sam)
    assert not any(isinstance(x, m.ChatMessage) for x in sam.received)
    await ada.close()
    await sam.close()


async def test_log_survives_a_server_restart(
    aiohttp_client: Any, app_config: Config, api: Api
) -> None:
    """The log lives in the database, not in the node: a new process on the same file replays it."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    await ada.send(m.ChatSend(client_msg_id="a1", text="before the restart"))
    await sam.expect(m.ChatMessage)
    await sam.send(m.ChatSend(client_msg_id="s1", text="me too"))
    await ada.expect(m.ChatMessage)
    await api.client.close()  # closes both sockets and runs the app's cleanup

    client: TestClient = await aiohttp_client(create_app(app_config, clock=api.clock))
    api2 = Api(client, TEST_SECRET, api.clock)
    ada, joined = await rejoin(api2, ADA, chat_id, resume=m.Resume(last_seq=0, media_kept=False))
    assert [(h.seq, h.text) for h in joined.history] == [
        (1, "before the restart"),
        (2, "me too"),
    ]
    assert joined.peer.state == "absent"  # seats were in the old node's memory
    sam, _ = await join(api2, SAM, chat_id)
    await sam.send(m.ChatSend(client_msg_id="s2", text="after the restart"))
    assert (await sam.expect(m.ChatAck)).seq == 3
    assert (await ada.expect(m.ChatMessage)).text == "after the restart"
    await ada.close()
    await sam.close()


async def test_log_is_readable_over_rest_after_the_chat_completed(api: Api) -> None:
    """Links shared in the panel stay available once the chat is settled as completed."""
    chat_id, chat = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    await ada.send(m.ChatSend(client_msg_id="a1", text="https://example.org/jobs/42"))
    await sam.expect(m.ChatMessage)
    await ada.close()
    await sam.close()
    api.clock.set(room_closes_at(chat) + timedelta(seconds=1))
    await attendance.settle_ended(
        api.client.app[ENGINE], api.clock.now(), [api.client.app[NODE].joins]
    )
    assert (await api.call(ADA, "GET", f"/api/v1/chats/{chat_id}"))["state"] == "completed"
    for person in (ADA, SAM):
        got = await api.call(person, "GET", f"/api/v1/chats/{chat_id}/messages")
        assert got["last_seq"] == 1
        assert [x["text"] for x in got["messages"]] == ["https://example.org/jobs/42"]
        assert at(got["messages"][0]["sent_at"]) < room_closes_at(chat)


async def test_only_the_two_people_read_their_chat_messages(api: Api) -> None:
    """A 1-1 chat is private: the organizer sees the chat (people, state, times, its state
    history) but never what the two wrote, during the chat or after it."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    await sam.send(m.ChatSend(client_msg_id="s1", text="my phone number is ..."))
    await ada.expect(m.ChatMessage)
    refused = await api.call(ORGANIZER, "GET", f"/api/v1/chats/{chat_id}/messages", expect=403)
    assert refused["code"] == "private" and "private" in refused["detail"]
    assert "my phone" not in str(refused)
    seen = await api.call(ORGANIZER, "GET", f"/api/v1/chats/{chat_id}")
    assert seen["state"] == "confirmed" and "messages" not in seen
    await api.call(ORGANIZER, "GET", f"/api/v1/chats/{chat_id}/history")
    await api.call(PRIYA, "GET", f"/api/v1/chats/{chat_id}/messages", expect=404)
    assert len((await api.call(ADA, "GET", f"/api/v1/chats/{chat_id}/messages"))["messages"]) == 1
    await ada.close()
    await sam.close()


async def test_overlong_and_blank_messages_are_refused_and_the_socket_stays(api: Api) -> None:
    """Limits are in code points (emoji count once); refusals are errors, not disconnects."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    await sam.send_raw('{"type":"chat_send","client_msg_id":"long","text":"' + "x" * 2001 + '"}')
    err = await sam.expect(m.Error)
    assert (err.code, err.ref_type) == ("bad_length", "chat_send")
    for blank in ("   ", "\n\t ", ""):
        frame = {"type": "chat_send", "client_msg_id": "blank", "text": blank}
        await sam.send_raw(orjson.dumps(frame).decode())
        err = await sam.expect(m.Error)
        assert err.code in ("bad_value", "bad_length") and err.ref_type == "chat_send"
    await sam.send(m.ChatSend(client_msg_id="max", text="😀" * 2000))
    ack = await sam.expect(m.ChatAck)
    assert ack.seq == 1
    assert len((await ada.expect(m.ChatMessage)).text) == 2000
    await alive(sam)
    assert [seq for seq, _, _ in await chat_log(api, chat_id)] == [1]
    await ada.close()
    await sam.close()


async def test_a_message_stored_while_someone_joins_is_not_lost(api: Api) -> None:
    """A message the peer sends after the joiner's ticket was minted, but before the joiner's
    seat is visible (so the sender cannot find it), must still reach the joiner: the sender
    notes the chat's history before looking the seat up, the join reads the notes after
    writing its seat and then the log, and `joined` stays the first message the joiner sees."""
    chat_id, _ = await live_chat(api)
    ada, _ = await join(api, ADA, chat_id)
    node = api.client.app[NODE]
    real_take_seat = node.broker.take_seat

    async def take_seat_after_a_message(
        chat: str, user: str, seat: Any, ttl: int, peer: str
    ) -> tuple[dict[str, str], Any]:
        if user == "sam":  # Ada sends (stored, acked, not delivered) before Sam's seat exists
            await ada.send(m.ChatSend(client_msg_id="in-between", text="Are you there?"))
            assert (await ada.expect(m.ChatAck)).seq == 1
            assert (await ada.expect(m.ChatMessage)).seq == 1  # the sender's own copy
        return await real_take_seat(chat, user, seat, ttl, peer)

    node.broker.take_seat = take_seat_after_a_message  # type: ignore[method-assign]
    try:
        sam, joined = await join(api, SAM, chat_id)
    finally:
        node.broker.take_seat = real_take_seat  # type: ignore[method-assign]
    assert [h.text for h in joined.history] == ["Are you there?"]
    assert joined.last_seq == 1
    assert sam.received[0] is joined  # nothing was sent before `joined`
    # And from now on Sam's messages reach Ada live.
    await sam.send(m.ChatSend(client_msg_id="s1", text="Yes!"))
    got = await ada.expect(m.ChatMessage)
    assert (got.seq, got.text) == (2, "Yes!")
    await ada.close()
    await sam.close()
