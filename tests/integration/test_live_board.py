"""The organizer's live board over Server-Sent Events, on one node (memory broker) and on two
nodes sharing Redis: the board on node A sees the rooms whose people sit on node B, live,
reconnecting and back; a Support request raised on B appears on A's board; the organizer's
answer, sent through A, reaches both people on B as a Support chat message and is in the log."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from rooms.support_store import SUPPORT_SENDER
from scheduling.clock import ManualClock
from signaling import messages as m
from tests.support.apiclient import ADA, ORGANIZER, PRIYA, SAM, Api, Person
from tests.support.app import TEST_SECRET, redis_config
from tests.support.rooms import drop, live_chat
from tests.support.services import RunningService
from tests.support.signal_client import join
from tests.support.sse import SseReader
from web.app import create_app
from web.config import Config

pytestmark = pytest.mark.both_backends


@pytest.fixture(params=["memory", "redis"])
async def nodes(
    request: pytest.FixtureRequest, aiohttp_client: Any, database_url: str, clock: ManualClock
) -> AsyncIterator[tuple[Api, Api]]:
    """(the organizer's node, the people's node): one app with the memory broker, or two
    apps on one database and one real redis-server."""
    if request.param == "memory":
        config = Config(database_url=database_url, jwt_secret=TEST_SECRET, dev_login=True)
        one = Api(await aiohttp_client(create_app(config, clock=clock)), TEST_SECRET, clock)
        yield one, one
        return
    redis: RunningService = request.getfixturevalue("redis_service")
    a, b = [
        await aiohttp_client(
            create_app(redis_config(database_url, redis.port, node_id=n), clock=clock)
        )
        for n in ("node-a", "node-b")
    ]
    yield Api(a, TEST_SECRET, clock), Api(b, TEST_SECRET, clock)


async def open_board(api: Api, event_id: str) -> SseReader:
    response = await api.client.get(
        f"/api/v1/events/{event_id}/live",
        headers={"Authorization": f"Bearer {api.token(ORGANIZER)}"},
    )
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    return SseReader(response)


async def test_board_follows_rooms_on_another_node(nodes: tuple[Api, Api]) -> None:
    board_node, people_node = nodes
    chat_id, chat = await live_chat(board_node)
    event_id = chat["event_id"]
    board = await open_board(board_node, event_id)
    name, snapshot = await board.next()
    assert name == "snapshot"
    (row,) = [r for r in snapshot["rows"] if r["id"] == chat_id]
    assert row["group"] == "open"  # the room is open, nobody is in yet
    assert (row["employee"]["name"], row["participant"]["name"]) == (ADA.name, SAM.name)

    ada, _ = await join(people_node, ADA, chat_id)
    waiting = await board.row(chat_id, "waiting")
    assert waiting["employee"]["seat"] == "connected"
    assert waiting["employee"]["since"] == snapshot["now"]
    sam, _ = await join(people_node, SAM, chat_id)
    await ada.expect(m.PeerJoined)
    live = await board.row(chat_id, "live")
    assert live["participant"]["seat"] == "connected"

    await sam.send(m.Stats(rtt_ms=700, loss=0.1, pair="relay", transport="udp"))
    await sam.expect(m.Quality)
    rated = await board.row(chat_id)
    assert (rated["participant"]["verdict"], rated["media"]) == ("poor", "turn")

    drop(sam)
    assert (await board.row(chat_id, "reconnecting"))["participant"]["seat"] == "reconnecting"
    sam, _ = await join(people_node, SAM, chat_id)
    await board.row(chat_id, "live")

    # A board opened now starts from the snapshot of the rooms on the other node.
    late = await open_board(board_node, event_id)
    _, again = await late.next()
    assert [r["group"] for r in again["rows"] if r["id"] == chat_id] == ["live"]
    late.close()

    asked = await people_node.call(
        SAM,
        "POST",
        f"/api/v1/chats/{chat_id}/support",
        {"text": "  My  audio cuts out "},
        expect=201,
    )
    assert asked["text"] == "My audio cuts out" and asked["answered_at"] is None
    again = await people_node.call(
        SAM, "POST", f"/api/v1/chats/{chat_id}/support", {"text": "Hello?"}, expect=429
    )
    assert again["code"] == "support_pending" and again["retry_after_s"] == 60
    flagged = await board.row(chat_id)
    assert flagged["support_open"] == 1
    assert flagged["support"][0]["text"] == "My audio cuts out"

    answer = await board_node.call(
        ORGANIZER,
        "POST",
        f"/api/v1/chats/{chat_id}/support/answer",
        {"text": "Try the Devices button and pick the headset."},
        expect=201,
    )
    assert answer["sender_id"] == SUPPORT_SENDER
    for person in (ada, sam):
        said = await person.expect(m.ChatMessage)
        assert (said.sender_id, said.text, said.seq) == (
            SUPPORT_SENDER,
            "Try the Devices button and pick the headset.",
            answer["seq"],
        )
    answered = await board.row(chat_id)
    assert answered["support_open"] == 0 and answered["support"][0]["answered_at"]
    log = await people_node.call(ADA, "GET", f"/api/v1/chats/{chat_id}/messages")
    assert [(x["sender_id"], x["text"]) for x in log["messages"]] == [
        (SUPPORT_SENDER, "Try the Devices button and pick the headset.")
    ]
    # A cancel ends the row at once (its people's sockets are closed by the room).
    await people_node.call(ADA, "POST", f"/api/v1/chats/{chat_id}/cancel", {"reason": "Ill."})
    ended = await board.row(chat_id, "ended")
    assert ended["state"] == "cancelled"
    board.close()
    await ada.close()
    await sam.close()


async def test_board_and_support_refuse_the_wrong_people(nodes: tuple[Api, Api]) -> None:
    api, _ = nodes
    chat_id, chat = await live_chat(api)
    for person in (ADA, SAM):
        refused = await api.call(
            person, "GET", f"/api/v1/events/{chat['event_id']}/live", expect=403
        )
        assert refused["code"] == "wrong_role"
    refused = await api.call(
        SAM, "POST", f"/api/v1/chats/{chat_id}/support/answer", {"text": "hi"}, expect=403
    )
    assert refused["code"] == "wrong_role"
    blank = await api.call(
        ORGANIZER, "POST", f"/api/v1/chats/{chat_id}/support/answer", {"text": "  "}, expect=422
    )
    assert "text" in (blank.get("field") or blank["detail"])
    long = await api.call(
        SAM, "POST", f"/api/v1/chats/{chat_id}/support", {"text": "x" * 501}, expect=422
    )
    assert "text" in long["detail"]


async def open_mine(api: Api, person: Person) -> SseReader:
    response = await api.client.get(
        "/api/v1/me/events", headers={"Authorization": f"Bearer {api.token(person)}"}
    )
    assert response.status == 200
    reader = SseReader(response)
    assert (await reader.next())[0] == "hello"
    return reader


async def next_chat(reader: SseReader, wanted: Callable[[Any], bool]) -> Any:
    while True:
        name, news = await reader.next()
        if name == "chat" and wanted(news):
            return news


async def test_each_person_hears_of_their_own_chats_from_any_node(nodes: tuple[Api, Api]) -> None:
    """Ada's stream on one node hears Sam's cancel and request made on the other; Sam's hears
    Ada's approval but not what he did himself; Priya's hears nothing of chats not hers."""
    ada_node, sam_node = nodes
    chat_id, chat = await live_chat(ada_node)
    ada = await open_mine(ada_node, ADA)
    priya = await open_mine(ada_node, PRIYA)
    sam = await open_mine(sam_node, SAM)
    await sam_node.call(SAM, "POST", f"/api/v1/chats/{chat_id}/cancel", {"reason": "Ill."})
    # (Through Redis the news of the booking made just before may still arrive first.)
    news = await next_chat(ada, lambda n: n["state"] == "cancelled")
    assert (news["chat_id"], news["with"]) == (chat_id, SAM.name)
    asked = await sam_node.call(
        SAM, "POST", f"/api/v1/events/{chat['event_id']}/chats", {"employee_id": ADA.id}, expect=201
    )
    news = await next_chat(ada, lambda n: n["chat_id"] == asked["id"])
    assert (news["state"], news["with"]) == ("requested", SAM.name)
    await ada_node.call(ADA, "POST", f"/api/v1/chats/{asked['id']}/approve")
    # Sam's first news is Ada's approval: not his own cancel and request.
    name, news = await sam.next()
    assert (name, news["chat_id"], news["state"]) == ("chat", asked["id"], "approved")
    assert news["with"] == ADA.name
    # Priya heard nothing of Ada's and Sam's chats: the first news she gets is of her own.
    mine = await ada_node.call(
        PRIYA,
        "POST",
        f"/api/v1/events/{chat['event_id']}/chats",
        {"employee_id": ADA.id},
        expect=201,
    )
    await ada_node.call(ADA, "POST", f"/api/v1/chats/{mine['id']}/decline", {"message": "Later."})
    name, news = await priya.next()
    assert (name, news["chat_id"], news["state"]) == ("chat", mine["id"], "declined")
    sam.close()
    ada.close()
    priya.close()
