"""A node killed with SIGKILL in the middle of sending a webhook loses nothing: restarted, it
gives its claims back and sends every event, in order, with the ids the receiver first saw.

A real `duet serve` process (real clock), a real receiver in the test holding the first
delivery open until the node is dead.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.apiclient import ADA, ORGANIZER, SAM
from tests.support.duet_nodes import DuetNode, Rest, launch_node, poll, wait_ready
from tests.support.seed import EVENT, next_event_day
from tests.support.webhook_receiver import receiver

pytestmark = pytest.mark.both_backends

SECRET = "webhook-kill-test-secret-0123456789abcdef"
ENV = {"DUET_WEBHOOK_ALLOW_PRIVATE": "true", "DUET_WEBHOOK_TIMEOUT_S": "30"}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def nodes() -> Iterator[list[DuetNode]]:
    started: list[DuetNode] = []
    yield started
    for node in started:
        node.stop()


async def _confirmed_chat(api: Rest, event_id: str, day: str) -> str:
    grid = await api.call(ADA, "GET", f"/api/v1/events/{event_id}/grid?date={day}&duration_min=30")
    start = grid["slots"][0]["starts_at"]
    body = {"days": [{"date": day, "duration_min": 30, "slots": [start]}]}
    await api.call(ADA, "PUT", f"/api/v1/events/{event_id}/availability", body)
    await api.call(ADA, "POST", f"/api/v1/events/{event_id}/availability/confirm")
    chat = await api.call(
        SAM, "POST", f"/api/v1/events/{event_id}/chats", {"employee_id": ADA.id}, expect=201
    )
    await api.call(ADA, "POST", f"/api/v1/chats/{chat['id']}/approve")
    free = await api.call(SAM, "GET", f"/api/v1/events/{event_id}/employees/{ADA.id}/slots")
    slot = next(s for s in free["slots"] if s["starts_at"] == start)
    await api.call(SAM, "POST", f"/api/v1/chats/{chat['id']}/book", {"slot_id": slot["id"]})
    return str(chat["id"])


async def test_kill_9_mid_delivery_then_restart_loses_nothing(
    session: aiohttp.ClientSession, nodes: list[DuetNode], tmp_path: Path, database_url: str
) -> None:
    node = launch_node("hooks-a", tmp_path, SECRET, database_url, env=ENV)
    nodes.append(node)
    await wait_ready(session, node)
    api = Rest(session, node, SECRET)
    day = next_event_day(datetime.now(UTC)).isoformat()
    event = {**EVENT, "days": [{**EVENT["days"][0], "date": day}]}
    event_id = (await api.call(ORGANIZER, "POST", "/api/v1/events", event, expect=201))["id"]
    async with receiver() as rx:
        rx.mode = "slow"  # the first delivery is held open: the node is mid-delivery
        created = await api.call(
            ORGANIZER,
            "POST",
            f"/api/v1/events/{event_id}/webhooks",
            {"url": rx.url, "event_types": ["chat.requested", "chat.approved", "chat.confirmed"]},
            expect=201,
        )
        rx.secret = created["secret"]
        chat_id = await _confirmed_chat(api, event_id, day)
        await asyncio.wait_for(rx.arrived.wait(), 10)
        in_flight = rx.requests[0]
        assert in_flight.type == "chat.requested" and in_flight.verified

        os.kill(node.process.pid, signal.SIGKILL)
        node.process.wait(timeout=10)
        rx.mode = "ok"
        restarted = launch_node("hooks-a", tmp_path, SECRET, database_url, port=node.port, env=ENV)
        nodes.append(restarted)
        await wait_ready(session, restarted)

        async def all_arrived() -> bool:
            return len(rx.accepted) >= 3

        # Its claims given back at start, the node sends at once (no 100 s lease to wait out).
        await poll(all_arrived, 15.0, "the three webhooks after the restart")
        api = Rest(session, restarted, SECRET)
        endpoint = created["endpoint"]["id"]
        rows: list[dict[str, Any]] = []

        async def all_marked() -> bool:
            # The receiver has answered; the node records the answer just after.
            nonlocal rows
            listed = await api.call(
                ORGANIZER, "GET", f"/api/v1/events/{event_id}/webhooks/{endpoint}/deliveries"
            )
            rows = listed["deliveries"]
            return {r["status"] for r in rows} == {"delivered"}

        await poll(all_marked, 10.0, "the three deliveries marked delivered")
    assert {r["status"] for r in rows} == {"delivered"} and len(rows) == 3
    assert [r.type for r in rx.accepted] == ["chat.requested", "chat.approved", "chat.confirmed"]
    assert {r.chat_id for r in rx.accepted} == {chat_id}
    assert {r.webhook_id for r in rx.accepted} == {r["webhook_id"] for r in rows}
    assert rx.accepted[0].webhook_id == in_flight.webhook_id  # the same message, sent again
    assert all(r.verified for r in rx.requests)
