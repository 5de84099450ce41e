"""The join grant on two nodes sharing a database and Redis: a cancel or a reschedule made
through one node is refused by the other's very next grant (the grant caches nothing about a
chat: scheduling/store_join.py reads it in one statement every time)."""

from __future__ import annotations

import pytest

from tests.support.apiclient import ADA, SAM, Api
from tests.support.rooms import live_chat

pytestmark = [pytest.mark.redis, pytest.mark.both_backends]


async def test_a_cancel_on_one_node_is_refused_by_the_others_next_grant(
    two_nodes: tuple[Api, Api],
) -> None:
    on_a, on_b = two_nodes
    chat_id, _ = await live_chat(on_a)
    granted = await on_b.call(SAM, "POST", f"/api/v1/chats/{chat_id}/join")
    assert granted["join_window"]["open"] is True
    await on_a.call(SAM, "POST", f"/api/v1/chats/{chat_id}/cancel", {"reason": "Sorry."})
    for person in (SAM, ADA):
        refused = await on_b.call(person, "POST", f"/api/v1/chats/{chat_id}/join", expect=409)
        assert refused["code"] == "chat_cancelled"


async def test_a_reschedule_on_one_node_moves_the_others_next_grant(
    two_nodes: tuple[Api, Api],
) -> None:
    on_a, on_b = two_nodes
    chat_id, chat = await live_chat(on_a)
    await on_b.call(ADA, "POST", f"/api/v1/chats/{chat_id}/join")
    event_id = chat["event_id"]
    grid = await on_a.call(
        ADA, "GET", f"/api/v1/events/{event_id}/grid?date=2026-12-01&duration_min=30"
    )
    later = grid["slots"][-1]["starts_at"]  # 2.5 hours on: its window is not open yet
    mine = await on_a.call(ADA, "GET", f"/api/v1/events/{event_id}/availability")
    slots = sorted({*(s["starts_at"] for s in mine["slots"]), later})
    await on_a.call(
        ADA,
        "PUT",
        f"/api/v1/events/{event_id}/availability",
        {"days": [{"date": "2026-12-01", "duration_min": 30, "slots": slots}]},
    )
    await on_a.call(ADA, "POST", f"/api/v1/events/{event_id}/availability/confirm")
    free = await on_a.call(SAM, "GET", f"/api/v1/events/{event_id}/employees/{ADA.id}/slots")
    slot = next(s for s in free["slots"] if s["starts_at"] == later)
    await on_a.call(SAM, "POST", f"/api/v1/chats/{chat_id}/reschedule", {"slot_id": slot["id"]})
    refused = await on_b.call(ADA, "POST", f"/api/v1/chats/{chat_id}/join", expect=409)
    assert refused["code"] == "too_early"
    assert refused["join"]["join_opens_at"] < later
