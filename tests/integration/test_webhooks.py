"""Webhooks end to end: the outbox written with each change, a real receiver that is down,
broken, too slow and then healthy, the backoff to the 24 h give-up, replay, two workers on one
database, and the organizer's API. Time moves on the ManualClock; only the receiver's answers
and Duet's per-attempt timeout are real time (they are a real server's)."""

from __future__ import annotations

import asyncio
import contextvars
import gc
from datetime import timedelta
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from jsonschema import Draft202012Validator
from prometheus_client.parser import text_string_to_metric_families

from rooms import attendance
from scheduling.db import make_engine, read_tx, write_tx
from scheduling.schema import webhook_deliveries, webhook_events
from scheduling.states import Action
from scheduling.store_chats import Actor, act, get_chat
from scheduling.store_webhooks import claim, record, record_many
from scheduling.webhook_payloads import (
    CallQualityPayload,
    CallQualitySide,
    EventType,
    RoomPayload,
    SupportPayload,
)
from signaling import messages as m
from signaling.ws import NODE
from tests.support import seed
from tests.support.apiclient import ADA, MEI, ORGANIZER, PRIYA, SAM, Api
from tests.support.app import TEST_SECRET
from tests.support.duet_nodes import poll
from tests.support.rooms import (
    closed_with,
    drop,
    eventually,
    live_chat,
    pair,
    rejoin,
    room_closes_at,
)
from tests.support.webhook_receiver import receiver
from web.config import Config
from web.keys import ENGINE, WEBHOOKS
from web.metrics import METRICS
from web.openapi import openapi_document
from web.webhook_worker import GIVE_UP_AFTER, DeliveryWorker, backoff

pytestmark = pytest.mark.both_backends

GOOD_STATS = m.Stats(rtt_ms=40, loss=0.0, jitter_ms=4, frames_decoded=300, fps=30, pair="host")
TIMEOUT_S = 0.5  # Duet's per-attempt timeout here: the "slow" receiver never answers in time


@pytest.fixture
def app_config(database_url: str) -> Config:
    return Config(
        database_url=database_url,
        jwt_secret=TEST_SECRET,
        dev_login=True,
        webhook_allow_private=True,  # the receiver is on loopback
        webhook_timeout_s=TIMEOUT_S,
    )


async def event_with_endpoint(
    api: Api, url: str, types: list[str] | None = None
) -> tuple[str, dict[str, Any], str]:
    """The seed's event, and an endpoint on it: (event id, endpoint, its secret)."""
    event = await api.call(ORGANIZER, "POST", "/api/v1/events", seed.EVENT, expect=201)
    created = await api.call(
        ORGANIZER,
        "POST",
        f"/api/v1/events/{event['id']}/webhooks",
        {"url": url, "event_types": types or [t.value for t in EventType]},
        expect=201,
    )
    assert created["secret"].startswith("whsec_")
    return event["id"], created["endpoint"], created["secret"]


def deliveries_path(event_id: str, endpoint: dict[str, Any]) -> str:
    return f"/api/v1/events/{event_id}/webhooks/{endpoint['id']}/deliveries"


async def deliveries(api: Api, event_id: str, endpoint: dict[str, Any]) -> list[dict[str, Any]]:
    found = await api.call(ORGANIZER, "GET", deliveries_path(event_id, endpoint))
    return list(found["deliveries"])


def worker_of(api: Api) -> DeliveryWorker:
    return api.client.app[WEBHOOKS]


async def test_every_event_arrives_in_order_through_an_outage(api: Api) -> None:
    async with receiver(started=False) as rx:
        event_id, endpoint, rx.secret = await event_with_endpoint(api, rx.url)
        worker = worker_of(api)
        first, _ = await seed.confirmed_chat(api)  # requested, approved, confirmed
        second, _ = await seed.confirmed_chat(api, participant=PRIYA, nth=1)
        await api.call(PRIYA, "POST", f"/api/v1/chats/{second}/cancel", {"reason": "Ill."})
        expected = {
            first: ["chat.requested", "chat.approved", "chat.confirmed"],
            second: ["chat.requested", "chat.approved", "chat.confirmed", "chat.cancelled"],
        }

        # Down: connections refused. Only each chat's first event is tried: the rest wait.
        await worker.drain()
        rows = await deliveries(api, event_id, endpoint)
        assert len(rows) == 7 and {r["status"] for r in rows} == {"pending"}
        assert {(r["chat_id"], r["type"]) for r in rows if r["attempts"]} == {
            (first, "chat.requested"),
            (second, "chat.requested"),
        }
        assert all("Error" in r["last_error"] for r in rows if r["attempts"])

        # Up but answering 500, then too slow for the timeout.
        await rx.start()
        for mode in ("error", "slow"):
            rx.mode = mode
            api.clock.advance(timedelta(hours=1))
            await worker.drain()
        assert {r.type for r in rx.requests} == {"chat.requested"}  # nothing overtook
        rows = await deliveries(api, event_id, endpoint)
        errors = {r["last_error"] for r in rows if r["attempts"]}
        assert errors == {f"no answer within {TIMEOUT_S:g} s"}, errors

        # Healthy: everything arrives, each chat's events in order, every signature valid.
        rx.mode = "ok"
        api.clock.advance(timedelta(hours=1))
        await worker.drain()
        rows = await deliveries(api, event_id, endpoint)
        assert {r["status"] for r in rows} == {"delivered"}
        ids = {r["webhook_id"] for r in rows}
        assert {r.webhook_id for r in rx.accepted} == ids  # every event, at least once
        assert all(r.verified for r in rx.requests)
        for chat_id, types in expected.items():
            assert [r.type for r in rx.accepted if r.chat_id == chat_id] == types
        # A retry is the same message: the ids the slow receiver saw are the ones delivered.
        slow_ids = {r.webhook_id for r in rx.requests if r.mode == "slow"}
        assert slow_ids and slow_ids <= ids
        cancelled = next(r.body for r in rx.accepted if r.type == "chat.cancelled")
        assert cancelled["data"]["reason"] == "Ill." and cancelled["data"]["chat_id"] == second
        assert cancelled["timestamp"].endswith("Z")

    scrape = api.client.app[METRICS].response().body
    assert isinstance(scrape, bytes)
    families = {f.name: f for f in text_string_to_metric_families(scrape.decode())}
    outcomes = {
        s.labels["outcome"]: s.value
        for s in families["duet_webhook_deliveries"].samples
        if s.name.endswith("_total")
    }
    assert outcomes["delivered"] == 7 and outcomes["retry"] >= 6 and outcomes["failed"] == 0
    assert families["duet_webhook_deliveries_pending"].samples[0].value == 0


async def test_backoff_gives_up_after_24_hours_and_a_retry_sends_it_again(api: Api) -> None:
    async with receiver() as rx:
        rx.mode = "error"
        event_id, endpoint, rx.secret = await event_with_endpoint(api, rx.url, ["chat.requested"])
        worker = worker_of(api)
        worker.rand = lambda: 0.5  # the middle of the jitter: the schedule is exact
        await api.call(ADA, "PUT", f"/api/v1/events/{event_id}/availability", seed_day())
        await api.call(ADA, "POST", f"/api/v1/events/{event_id}/availability/confirm")
        await api.call(SAM, "POST", f"/api/v1/events/{event_id}/chats", {"employee_id": "ada"}, 201)
        start = api.clock.now()
        waits: list[timedelta] = []
        while True:
            await worker.drain()
            (row,) = await deliveries(api, event_id, endpoint)
            if row["status"] == "failed":
                break
            assert row["status"] == "pending" and row["last_status"] == 500
            due = seed.at(row["next_attempt_at"])
            waits.append(due - api.clock.now())
            api.clock.set(due)
        assert waits[:4] == [timedelta(seconds=s) for s in (5, 10, 20, 40)]
        assert max(waits) == timedelta(hours=1)  # the cap
        assert row["attempts"] == len(waits) + 1 == len(rx.requests)
        assert api.clock.now() - start <= GIVE_UP_AFTER < api.clock.now() - start + waits[-1] * 2
        assert len({r.webhook_id for r in rx.requests}) == 1

        # Replay: the organizer sends it again; the receiver is fixed meanwhile.
        rx.mode = "ok"
        retried = await api.call(
            ORGANIZER, "POST", deliveries_path(event_id, endpoint) + f"/{row['id']}/retry"
        )
        assert retried["status"] == "pending" and retried["attempts"] == 0
        await worker.drain()
        (row,) = await deliveries(api, event_id, endpoint)
        assert row["status"] == "delivered" and row["webhook_id"] == rx.requests[0].webhook_id
        assert [r.webhook_id for r in rx.accepted] == [row["webhook_id"]]
        problem = await api.call(
            ORGANIZER, "POST", deliveries_path(event_id, endpoint) + "/999999/retry", expect=404
        )
        assert problem["field"] == "delivery_id"


def seed_day() -> dict[str, Any]:
    return {"days": [{"date": "2026-12-01", "duration_min": 30, "slots": "all"}]}


def test_backoff_doubles_to_an_hour_with_a_quarter_of_jitter() -> None:
    for attempts, base in ((1, 5), (2, 10), (5, 80), (11, 3600), (40, 3600)):
        low, high = backoff(attempts, lambda: 0.0), backoff(attempts, lambda: 1.0)
        assert low == timedelta(seconds=base * 0.75) and high == timedelta(seconds=base * 1.25)


async def test_a_change_that_fails_writes_no_event(api: Api) -> None:
    async with receiver() as rx:
        _, _, rx.secret = await event_with_endpoint(api, rx.url)
        chat_id, _ = await seed.confirmed_chat(api)
        engine = api.client.app[ENGINE]

        async def count() -> int:
            async with read_tx(engine) as db:
                return int(
                    (
                        await db.execute(sa.select(sa.func.count()).select_from(webhook_events))
                    ).scalar_one()
                )

        before = await count()
        assert before == 3
        # The change and its event in one transaction that then fails: neither is kept.
        with pytest.raises(RuntimeError):
            async with write_tx(engine) as db:
                chat = await get_chat(db, chat_id)
                assert chat is not None
                side = chat.side_of(ADA.id)
                assert side is not None
                await act(db, chat, Action.CANCEL, Actor(ADA.id, side), api.clock.now(), text="x")
                raise RuntimeError("the rest of the change failed")
        assert await count() == before
        # A refused change through the API writes none either.
        await api.call(SAM, "POST", f"/api/v1/chats/{chat_id}/approve", expect=409)
        assert await count() == before
        async with read_tx(engine) as db:
            chat = await get_chat(db, chat_id)
        assert chat is not None and chat.state.value == "confirmed"


async def test_two_workers_never_send_one_event_at_once(api: Api, database_url: str) -> None:
    """Two nodes' workers on one database: each delivery is sent by one of them at a time, and
    a chat's events still arrive in order; a claim of a node that died runs out."""
    await worker_of(api).close()  # the app's own worker stays out of this
    async with receiver() as rx:
        event_id, _, rx.secret = await event_with_endpoint(api, rx.url)
        rx.hold_s = 0.005
        chats = [
            (await seed.confirmed_chat(api, participant=p, nth=i))[0]
            for i, p in enumerate((SAM, PRIYA))
        ]
        engine = api.client.app[ENGINE]
        now = api.clock.now()
        async with write_tx(engine) as db:
            await record_many(
                db,
                [
                    (EventType.ROOM_OPENED, c, RoomPayload(chat_id=c, event_id=event_id, at=now))
                    for _ in range(8)
                    for c in chats
                ],
                now=now,
            )
        clock = api.clock
        engines = [make_engine(database_url), make_engine(database_url)]
        workers = [
            DeliveryWorker(e, clock, f"node-{i}", allow_private=True, timeout_s=5)
            for i, e in enumerate(engines)
        ]
        try:
            for w in workers:
                await w.start(background=False)
            # A node claims a delivery and dies before sending it: nobody sends it meanwhile.
            async with write_tx(engines[0]) as db:
                (held,) = await claim(db, "dead-node", clock.now(), timedelta(minutes=1), 1)
            while sum(await asyncio.gather(*(w.run_once() for w in workers))):
                pass
            assert held.message_id not in {r.webhook_id for r in rx.requests}
            clock.advance(timedelta(minutes=2))  # its lease ran out
            while sum(await asyncio.gather(*(w.run_once() for w in workers))):
                pass
        finally:
            for w in workers:
                await w.close()
            for e in engines:
                await e.dispose()
        async with read_tx(engine) as db:
            total = (
                await db.execute(sa.select(sa.func.count()).select_from(webhook_deliveries))
            ).scalar_one()
            statuses = set((await db.execute(sa.select(webhook_deliveries.c.status))).scalars())
        assert statuses == {"delivered"}
        ids = [r.webhook_id for r in rx.accepted]
        assert len(ids) == len(set(ids)) == total  # each once: never two senders of one event
        assert rx.max_in_flight_per_chat == 1
        assert all(r.verified for r in rx.accepted)
        assert held.message_id in ids
        for chat_id in chats:
            types = [r.type for r in rx.accepted if r.chat_id == chat_id]
            assert types[:3] == ["chat.requested", "chat.approved", "chat.confirmed"]
        assert sum(w.outcomes["delivered"] for w in workers) == total


async def test_the_organizer_manages_endpoints(api: Api) -> None:
    async with receiver() as rx:
        event_id, endpoint, secret = await event_with_endpoint(api, rx.url, ["chat.confirmed"])
        base = f"/api/v1/events/{event_id}/webhooks"
        listed = await api.call(ORGANIZER, "GET", base)
        assert [e["id"] for e in listed["endpoints"]] == [endpoint["id"]]
        assert "secret" not in listed["endpoints"][0]  # shown once, at creation
        assert endpoint["event_types"] == ["chat.confirmed"] and endpoint["enabled"] is True

        off = await api.call(
            ORGANIZER,
            "PUT",
            f"{base}/{endpoint['id']}",
            {"enabled": False, "event_types": ["chat.requested", "chat.confirmed"]},
        )
        assert off["enabled"] is False and off["event_types"] == [
            "chat.requested",
            "chat.confirmed",
        ]
        await seed.confirmed_chat(api)
        assert await deliveries(api, event_id, endpoint) == []  # disabled: nothing recorded

        await api.call(
            ORGANIZER,
            "PUT",
            f"{base}/{endpoint['id']}",
            {"enabled": True, "event_types": ["chat.cancelled"]},
        )
        rotated = await api.call(ORGANIZER, "POST", f"{base}/{endpoint['id']}/rotate-secret")
        assert rotated["secret"].startswith("whsec_") and rotated["secret"] != secret
        rx.secret = rotated["secret"]
        chats = await api.call(SAM, "GET", "/api/v1/chats")
        chat_id = chats["chats"][0]["id"]
        await api.call(SAM, "POST", f"/api/v1/chats/{chat_id}/cancel", {"reason": "Sorry."})
        await worker_of(api).drain()
        assert [(r.type, r.verified) for r in rx.accepted] == [("chat.cancelled", True)]

        # Refusals a person can act on.
        for who, expect in ((ADA, 403), (SAM, 403), (None, 401)):
            await api.call(who, "GET", base, expect=expect)
        bad = await api.call(
            ORGANIZER,
            "POST",
            base,
            {"url": "ftp://example.com", "event_types": ["chat.confirmed"]},
            expect=422,
        )
        assert bad["field"] == "url"
        bad = await api.call(
            ORGANIZER, "POST", base, {"url": rx.url, "event_types": ["chat.nothing"]}, expect=422
        )
        assert "event_types" in bad["field"]
        missing = await api.call(ORGANIZER, "GET", f"{base}/{'0' * 32}", expect=404)
        assert missing["field"] == "endpoint_id"
        await api.call(ORGANIZER, "GET", "/api/v1/events/nope/webhooks", expect=404)

        await api.call(ORGANIZER, "DELETE", f"{base}/{endpoint['id']}")
        assert (await api.call(ORGANIZER, "GET", base))["endpoints"] == []
        async with read_tx(api.client.app[ENGINE]) as db:  # its events went with it
            kept = await db.execute(sa.select(sa.func.count()).select_from(webhook_events))
            assert kept.scalar_one() == 0


async def test_a_call_sends_room_and_participant_events_in_order(api: Api) -> None:
    """Entering, hanging up, coming back, dropping past the grace, the room's close: each is a
    webhook, written with the change it reports, and they arrive in the order they happened."""
    async with receiver() as rx:
        _, _, rx.secret = await event_with_endpoint(api, rx.url)
        worker = worker_of(api)
        chat_id, chat = await live_chat(api)
        ada, sam = await pair(api, chat_id)
        # Sam's client measures the call once (saved when his socket ends) and asks for help.
        await sam.send(GOOD_STATS)
        await sam.expect(m.Quality)
        await ada.expect(m.PeerQuality)
        await api.call(
            SAM, "POST", f"/api/v1/chats/{chat_id}/support", {"text": "No sound"}, expect=201
        )
        await sam.send(m.Leave())
        await closed_with(sam)
        sam, _ = await rejoin(api, SAM, chat_id)
        await ada.expect(m.PeerJoined)
        drop(ada)
        await sam.expect(m.PeerReconnecting)
        api.clock.advance(timedelta(seconds=61))  # Ada's grace runs out
        await sam.expect(m.PeerLeft)
        api.clock.set(room_closes_at(chat))  # the room closes and the node settles it

        async def arrived() -> bool:
            await worker.drain()
            return any(r.type == "call.quality" for r in rx.accepted)

        await poll(arrived, 10.0, "the call.quality webhook")
        await sam.close()
    got = [
        (r.type, r.body["data"].get("user_id"), r.body["data"].get("reason"))
        for r in rx.accepted
        if r.chat_id == chat_id
    ]
    # Support is written at once, joins within a second (the node's join buffer): where it
    # falls among the joins depends on that second, so it is checked on its own.
    assert got.count(("support.requested", SAM.id, None)) == 1
    got.remove(("support.requested", SAM.id, None))
    assert got == [
        ("chat.requested", None, ""),
        ("chat.approved", None, ""),
        ("chat.confirmed", None, ""),
        ("room.opened", None, None),
        ("participant.joined", ADA.id, "joined"),
        ("participant.joined", SAM.id, "joined"),
        ("participant.left", SAM.id, "left"),
        ("participant.joined", SAM.id, "joined"),
        ("participant.left", ADA.id, "timeout"),
        ("room.closed", None, None),
        ("chat.completed", None, ""),
        ("call.quality", None, None),
    ]
    assert all(r.verified for r in rx.accepted)
    asked = next(r.body["data"] for r in rx.accepted if r.type == "support.requested")
    assert asked["message"] == "No sound" and asked["side"] == "participant"
    quality = next(r.body["data"] for r in rx.accepted if r.type == "call.quality")
    # Only Sam's client reported: one side, his median figures and the grade of them.
    assert [(q["user_id"], q["side"], q["samples"]) for q in quality["sides"]] == [
        (SAM.id, "participant", 1)
    ]
    assert quality["sides"][0]["rtt_ms_median"] == 40.0
    assert quality["sides"][0]["verdict"] == "good"
    sides = {
        r.body["data"]["user_id"]: r.body["data"]["side"]
        for r in rx.accepted
        if "side" in r.body["data"] and "user_id" in r.body["data"]
    }
    assert sides == {ADA.id: "employee", SAM.id: "participant"}


async def _participant_events(api: Api, chat_id: str) -> list[tuple[str, str, str]]:
    """The chat's stored room and participant events: (type, user id, reason), in order."""
    async with read_tx(api.client.app[ENGINE]) as db:
        rows = await db.execute(
            sa.select(webhook_events.c.type, webhook_events.c.payload)
            .where(webhook_events.c.chat_id == chat_id)
            .order_by(webhook_events.c.id)
        )
        found = [(kind, orjson.loads(payload)["data"]) for kind, payload in rows]
    return [
        (kind, data.get("user_id", ""), data.get("reason", ""))
        for kind, data in found
        if kind.startswith(("room.", "participant."))
    ]


async def test_joins_and_leaves_are_written_in_one_batch_in_order_without_cyclic_garbage(
    api: Api,
) -> None:
    """Seats emptied go through the node's join buffer: one transaction for many joins and
    leaves, each `participant.left` after that person's join; and a flush makes no reference
    cycle (a socket's life must make none, web/gc_policy.py)."""
    async with receiver() as rx:
        _, _, rx.secret = await event_with_endpoint(api, rx.url)
        chat_id, _ = await live_chat(api)
        buffer = attendance.JoinBuffer(api.client.app[ENGINE], flush_every_s=3600)
        now = api.clock.now()

        def a_call() -> None:
            buffer.add(chat_id, ADA.id, now, entered=True)
            buffer.add(chat_id, SAM.id, now, entered=True)
            buffer.left(chat_id, SAM.id, "left", now)
            buffer.add(chat_id, SAM.id, now, entered=True)
            buffer.add(chat_id, SAM.id, now)  # a resume: no event
            buffer.left(chat_id, ADA.id, "timeout", now)

        a_call()
        await buffer.flush()  # statements compiled, connections opened
        gc.collect()
        gc.disable()
        try:
            a_call()
            await buffer.flush()
            assert gc.collect() == 0
        finally:
            gc.enable()
        await buffer.close()
    call = [
        ("participant.joined", ADA.id, "joined"),
        ("participant.joined", SAM.id, "joined"),
        ("participant.left", SAM.id, "left"),
        ("participant.joined", SAM.id, "joined"),
        ("participant.left", ADA.id, "timeout"),
    ]
    assert await _participant_events(api, chat_id) == [("room.opened", "", ""), *call, *call]


async def test_an_idle_delivery_round_makes_no_cyclic_garbage(api: Api) -> None:
    """Every node's worker looks for due deliveries every second, webhooks or not: its round
    must leave nothing for the collector (it ran during the soak test's cycle check)."""
    worker = worker_of(api)
    await worker.run_once()  # statements compiled, connections opened
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            assert await worker.run_once() == 0
        assert gc.collect() == 0
    finally:
        gc.enable()


async def test_a_leave_near_the_rooms_close_is_written_at_once(api: Api) -> None:
    """Another node may settle the room as soon as it closes, and cannot see this node's
    buffer: a seat emptied in the last seconds is written at once (after its join), like a
    join then, so `participant.left` comes before `room.closed`."""
    async with receiver() as rx:
        _, _, rx.secret = await event_with_endpoint(api, rx.url)
        chat_id, chat = await live_chat(api)
        node = api.client.app[NODE]
        node.joins.flush_every_s = 3600  # the buffer's timer never fires in this test
        ada, sam = await pair(api, chat_id)
        assert await _participant_events(api, chat_id) == []  # still buffered
        api.clock.set(room_closes_at(chat) - timedelta(seconds=10))
        await sam.send(m.Leave())
        await closed_with(sam)
        await eventually(
            lambda: all(c.user_id != SAM.id for c in node.local.values()), "Sam's socket gone"
        )
        await node.joins.idle()
        assert await _participant_events(api, chat_id) == [
            ("room.opened", "", ""),
            ("participant.joined", ADA.id, "joined"),
            ("participant.joined", SAM.id, "joined"),
            ("participant.left", SAM.id, "left"),
        ]
        await ada.close()


async def test_support_and_call_quality_payloads_match_the_openapi_webhooks(api: Api) -> None:
    """The two events other parts of Duet raise (Support, the call-quality summary) go through
    the same `record`; every body a receiver gets matches the document's `webhooks` section."""
    async with receiver() as rx:
        event_id, _, rx.secret = await event_with_endpoint(api, rx.url)
        chat_id, _ = await seed.confirmed_chat(api)
        now = api.clock.now()
        support = SupportPayload(
            chat_id=chat_id,
            event_id=event_id,
            request_id="4f1c0a",
            user_id=SAM.id,
            side="participant",
            message="I cannot hear Ada.",
            at=now,
        )
        quality = CallQualityPayload(
            chat_id=chat_id,
            event_id=event_id,
            ended_at=now,
            sides=[
                CallQualitySide(
                    user_id=ADA.id, side="employee", samples=12, rtt_ms_median=41.5, verdict="good"
                ),
                CallQualitySide(user_id=SAM.id, side="participant", samples=0),
            ],
        )
        async with write_tx(api.client.app[ENGINE]) as db:
            await record(db, EventType.SUPPORT_REQUESTED, chat_id, support, now=now)
            await record(db, EventType.CALL_QUALITY, chat_id, quality, now=now)
            with pytest.raises(TypeError, match="carries a SupportPayload"):
                await record(db, EventType.SUPPORT_REQUESTED, chat_id, quality, now=now)
        await worker_of(api).drain()
    doc = openapi_document()
    assert set(doc["webhooks"]) == {t.value for t in EventType}
    for got in rx.accepted:
        schema = doc["webhooks"][got.type]["post"]["requestBody"]["content"]["application/json"]
        root = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema["schema"]}
        root["components"] = doc["components"]
        validator = Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)
        errors = sorted(validator.iter_errors(got.body), key=str)
        assert not errors, f"{got.type}: {errors[0]}"
    types = [r.type for r in rx.accepted]
    assert types[-2:] == ["support.requested", "call.quality"] and len(types) == 5
    assert rx.accepted[-2].body["data"]["message"] == "I cannot hear Ada."
    assert rx.accepted[-1].body["data"]["sides"][1]["rtt_ms_median"] is None


async def test_every_chat_transition_has_its_event(api: Api) -> None:
    async with receiver() as rx:
        event_id, _, rx.secret = await event_with_endpoint(api, rx.url)
        ev = f"/api/v1/events/{event_id}"
        await api.call(ADA, "PUT", f"{ev}/availability", seed_day())
        await api.call(ADA, "POST", f"{ev}/availability/confirm")
        free = (await api.call(SAM, "GET", f"{ev}/employees/ada/slots"))["slots"]
        booked = await api.call(SAM, "POST", f"{ev}/chats", {"employee_id": "ada"}, 201)
        await api.call(ADA, "POST", f"/api/v1/chats/{booked['id']}/approve")
        await api.call(
            SAM, "POST", f"/api/v1/chats/{booked['id']}/book", {"slot_id": free[0]["id"]}
        )
        moved = await api.call(
            SAM, "POST", f"/api/v1/chats/{booked['id']}/reschedule", {"slot_id": free[1]["id"]}
        )
        declined = await api.call(PRIYA, "POST", f"{ev}/chats", {"employee_id": "ada"}, 201)
        await api.call(
            ADA, "POST", f"/api/v1/chats/{declined['id']}/decline", {"message": "Ask Alan."}
        )
        withdrawn = await api.call(MEI, "POST", f"{ev}/chats", {"employee_id": "ada"}, 201)
        await api.call(MEI, "POST", f"/api/v1/chats/{withdrawn['id']}/withdraw")
        # Nobody came: settled as a no-show of both, and no room.closed (it never opened).
        after = seed.at(moved["slot"]["ends_at"]) + timedelta(minutes=10)
        api.clock.set(after)  # the node's periodic settler may get there first: either will do
        await attendance.settle_ended(api.client.app[ENGINE], after, [])
        await worker_of(api).drain()
    by_chat: dict[str, list[str]] = {}
    for got in rx.accepted:
        by_chat.setdefault(got.chat_id, []).append(got.type)
    assert by_chat == {
        booked["id"]: [
            "chat.requested",
            "chat.approved",
            "chat.confirmed",
            "chat.rescheduled",
            "chat.no_show",
        ],
        declined["id"]: ["chat.requested", "chat.declined"],
        withdrawn["id"]: ["chat.requested", "chat.withdrawn"],
    }
    data = {r.type: r.body["data"] for r in rx.accepted}
    assert data["chat.rescheduled"]["starts_at"] == free[1]["starts_at"]
    assert data["chat.rescheduled"]["sequence"] > data["chat.confirmed"]["sequence"]
    assert data["chat.declined"]["reason"] == "Ask Alan."
    assert data["chat.no_show"]["no_show_side"] == "both"
    assert data["chat.requested"]["initiator"] == "participant"


async def test_two_nodes_writing_the_first_joins_at_once_send_one_room_opened(
    api: Api, database_url: str, backend: str
) -> None:
    """Ada's node and Sam's node write their first joins in the same second: both read that
    nobody had come yet, and still only one `room.opened` is written (rooms_opened's row)."""
    async with receiver() as rx:
        _, _, rx.secret = await event_with_endpoint(api, rx.url)
    chat_id, _ = await live_chat(api)
    now = api.clock.now()
    other_node = make_engine(database_url)

    def first_join(user_id: str) -> attendance.Pending:
        return attendance.Pending(
            times={(chat_id, user_id): (now, now)}, entries=[(chat_id, user_id, now, "joined")]
        )

    async def sams_node() -> None:
        async with write_tx(other_node) as conn:
            await attendance._upsert(conn, first_join(SAM.id))

    async def sam_waits_for_ada() -> bool:
        async with read_tx(api.client.app[ENGINE]) as conn:
            waiting = await conn.execute(
                sa.text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            )
            return bool(waiting.scalar())

    try:
        async with write_tx(api.client.app[ENGINE]) as conn:
            await attendance._upsert(conn, first_join(ADA.id))
            # Sam's node starts before Ada's commits (a context of its own: no shared tx).
            sam = asyncio.create_task(sams_node(), context=contextvars.Context())
            if backend == "postgresql":  # it read "nobody came" and now waits on the row
                await poll(sam_waits_for_ada, 10.0, "Sam's node waiting on Ada's claim")
        await asyncio.wait_for(sam, 10)
    finally:
        await other_node.dispose()
    events = await _participant_events(api, chat_id)
    assert events.count(("room.opened", "", "")) == 1
    assert sorted(e for e in events if e[0] == "participant.joined") == [
        ("participant.joined", ADA.id, "joined"),
        ("participant.joined", SAM.id, "joined"),
    ]
