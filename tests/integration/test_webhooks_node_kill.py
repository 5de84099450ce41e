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

from tests.support.apiclient import ORGANIZER
from tests.support.duet_nodes import DuetNode, Rest, launch_node, poll, wait_ready
from tests.support.seed import confirmed_chat_on, next_event_day
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


async def test_kill_9_mid_delivery_then_restart_loses_nothing(
    session: aiohttp.ClientSession, nodes: list[DuetNode], tmp_path: Path, database_url: str
) -> None:
    node = launch_node("hooks-a", tmp_path, SECRET, database_url, env=ENV)
    nodes.append(node)
    await wait_ready(session, node)
    api = Rest(session, node, SECRET)
    async with receiver() as rx:
        rx.mode = "slow"  # the first delivery is held open: the node is mid-delivery
        created: dict[str, Any] = {}

        async def endpoint_on(event_id: str) -> None:
            created["event_id"] = event_id
            types = ["chat.requested", "chat.approved", "chat.confirmed"]
            path = f"/api/v1/events/{event_id}/webhooks"
            body = {"url": rx.url, "event_types": types}
            created.update(await api.call(ORGANIZER, "POST", path, body, expect=201))
            rx.secret = created["secret"]

        chat_id, _ = await confirmed_chat_on(
            api, next_event_day(datetime.now(UTC)), on_event=endpoint_on
        )
        event_id = created["event_id"]
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
