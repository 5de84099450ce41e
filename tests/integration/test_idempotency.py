"""Idempotency keys hold under concurrency and when the answer cannot be stored.

Twenty copies of one request with one `Idempotency-Key`, sent at once, make one change and get
twenty identical answers, for every operation that takes the header. And the change and its
stored answer commit together: when storing the answer fails (the database refuses it, as a
crash between the two would leave things), the change is not kept either, so the retry makes it
once and succeeds instead of finding "already done" with no answer to replay.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from scheduling.db import write_tx
from scheduling.schema import (
    chat_messages,
    chats,
    events,
    idempotency_keys,
    mail_opt_outs,
    support_requests,
)
from scheduling.store_chats import get_chat, settle_chats
from signaling import messages as m
from signaling.close_codes import CloseCode
from tests.support.apiclient import ADA, ORGANIZER, SAM, Api, Person
from tests.support.rooms import closed_with, live_chat, pair
from tests.support.seed import EVENT, at
from web.idempotency import IDEMPOTENT
from web.keys import ENGINE

pytestmark = pytest.mark.both_backends

COPIES = 20


async def _at_once(
    api: Api, person: Person, method: str, path: str, body: Any, key: str
) -> list[tuple[int, bytes]]:
    headers = {"Authorization": f"Bearer {api.token(person)}", "Idempotency-Key": key}

    async def one() -> tuple[int, bytes]:
        resp = await api.client.request(method, path, json=body, headers=headers)
        return resp.status, await resp.read()

    return await asyncio.gather(*(one() for _ in range(COPIES)))


async def _count(api: Api, table: sa.Table, *where: Any) -> int:
    async with write_tx(api.client.app[ENGINE]) as conn:
        return int(
            (
                await conn.execute(sa.select(sa.func.count()).select_from(table).where(*where))
            ).scalar_one()
        )


async def test_twenty_concurrent_copies_make_one_change_and_twenty_identical_answers(
    api: Api,
) -> None:
    seen: set[tuple[str, str]] = set()
    keys = itertools.count()  # one key per request (a route may be tried twice)

    async def check(
        person: Person,
        method: str,
        route: str,
        path: str,
        body: Any,
        effect: Callable[[], Awaitable[int]] | None = None,
        expect: int = 200,
    ) -> dict[str, Any]:
        before = await effect() if effect else 0
        answers = await _at_once(api, person, method, path, body, f"key-{next(keys)}")
        assert len(set(answers)) == 1, f"{method} {path}: {sorted(set(answers))[:3]}"
        status, raw = answers[0]
        assert status == expect, (method, path, raw[:300])
        if effect is not None:
            assert await effect() == before + 1, f"{method} {path} made more than one change"
        seen.add((method, route))
        return orjson.loads(raw)

    async def events_made() -> int:
        return await _count(api, events)

    event = await check(
        ORGANIZER, "POST", "/api/v1/events", "/api/v1/events", EVENT, events_made, 201
    )
    event_id = event["id"]
    ev = f"/api/v1/events/{event_id}"
    await check(
        ORGANIZER, "PUT", "/api/v1/events/{event_id}", ev, {**EVENT, "name": "Renamed Fair"}
    )
    await check(
        ORGANIZER,
        "PUT",
        "/api/v1/events/{event_id}/quotas/{company_id}",
        f"{ev}/quotas/acme",
        {"slot_quota": 12},
    )
    grid = await api.call(ADA, "GET", f"{ev}/grid?date=2026-12-01&duration_min=30")
    slots = [s["starts_at"] for s in grid["slots"][:3]]
    await check(
        ADA,
        "PUT",
        "/api/v1/events/{event_id}/availability",
        f"{ev}/availability",
        {"days": [{"date": "2026-12-01", "duration_min": 30, "slots": slots}]},
    )
    await check(
        ADA,
        "POST",
        "/api/v1/events/{event_id}/availability/confirm",
        f"{ev}/availability/confirm",
        None,
    )

    async def chats_made() -> int:
        return await _count(api, chats)

    chat = await check(
        SAM,
        "POST",
        "/api/v1/events/{event_id}/chats",
        f"{ev}/chats",
        {"employee_id": ADA.id},
        chats_made,
        201,
    )

    async def history_rows() -> int:
        return len((await api.call(SAM, "GET", f"/api/v1/chats/{chat['id']}/history"))["history"])

    action = "/api/v1/chats/{chat_id}/{action}"
    await check(ADA, "POST", action, f"/api/v1/chats/{chat['id']}/approve", None, history_rows)
    free = await api.call(SAM, "GET", f"{ev}/employees/{ADA.id}/slots")
    booked = await check(
        SAM,
        "POST",
        action,
        f"/api/v1/chats/{chat['id']}/book",
        {"slot_id": free["slots"][0]["id"]},
        history_rows,
    )
    assert booked["state"] == "confirmed"

    async def support_asked() -> int:
        return await _count(api, support_requests)

    async def chat_logged() -> int:
        return await _count(api, chat_messages)

    support = f"/api/v1/chats/{chat['id']}/support"
    await check(
        SAM,
        "POST",
        "/api/v1/chats/{chat_id}/support",
        support,
        {"text": "No sound"},
        support_asked,
        201,
    )
    await check(
        ORGANIZER,
        "POST",
        "/api/v1/chats/{chat_id}/support/answer",
        f"{support}/answer",
        {"text": "Try the Devices button."},
        chat_logged,
        201,
    )

    # Once the chat took place, a follow-up invitation is a new chat: made once.
    api.clock.set(at(booked["slot"]["ends_at"]))
    async with write_tx(api.client.app[ENGINE]) as conn:
        record = await get_chat(conn, chat["id"])
        assert record is not None and await settle_chats(conn, [(record, "")], api.clock.now())
    await check(
        ADA,
        "POST",
        "/api/v1/chats/{chat_id}/follow-up",
        f"/api/v1/chats/{chat['id']}/follow-up",
        {"message": "Again?"},
        chats_made,
        201,
    )

    # Ada's key: Sam's next key is the one his booking used (the same route adds nothing to seen).
    zone = await check(
        ADA, "PUT", "/api/v1/me/time-zone", "/api/v1/me/time-zone", {"time_zone": "Asia/Kolkata"}
    )
    assert zone == {"time_zone": "Asia/Kolkata"}

    async def opt_outs() -> int:
        return await _count(api, mail_opt_outs)

    await check(
        ADA,  # keys are per person: Sam's last one named the booking
        "PUT",
        "/api/v1/me/notifications",
        "/api/v1/me/notifications",
        {"kinds": [{"kind": "reminder", "enabled": False}]},
        opt_outs,
    )
    assert seen == set(IDEMPOTENT)  # every operation that takes the header was tried


async def test_a_change_whose_answer_cannot_be_stored_is_not_kept_and_the_retry_works(
    api: Api,
) -> None:
    """The crash-between-commit-and-answer window, made deterministic: the database refuses to
    store the answer. Before, the booking stayed committed without an answer, and the retry
    with the same key got 409 wrong_state for a booking that had succeeded."""
    event = await api.call(ORGANIZER, "POST", "/api/v1/events", EVENT, expect=201)
    ev = f"/api/v1/events/{event['id']}"
    chat_body = {"employee_id": ADA.id}
    grid = await api.call(ADA, "GET", f"{ev}/grid?date=2026-12-01&duration_min=30")
    await api.call(
        ADA,
        "PUT",
        f"{ev}/availability",
        {
            "days": [
                {"date": "2026-12-01", "duration_min": 30, "slots": [grid["slots"][0]["starts_at"]]}
            ]
        },
    )
    await api.call(ADA, "POST", f"{ev}/availability/confirm")
    chat = await api.call(SAM, "POST", f"{ev}/chats", chat_body, expect=201)
    await api.call(ADA, "POST", f"/api/v1/chats/{chat['id']}/approve")
    free = await api.call(SAM, "GET", f"{ev}/employees/{ADA.id}/slots")
    book = {"slot_id": free["slots"][0]["id"]}
    engine = api.client.app[ENGINE]
    async with write_tx(engine) as conn:
        for statement in _answer_lost_triggers(conn.dialect.name):
            await conn.exec_driver_sql(statement)
    headers = {"Idempotency-Key": "book-once"}
    await api.call(
        SAM, "POST", f"/api/v1/chats/{chat['id']}/book", book, expect=500, headers=headers
    )
    assert (await api.call(SAM, "GET", f"/api/v1/chats/{chat['id']}"))["state"] == "approved"
    async with write_tx(engine) as conn:
        for name in ("answer_lost_insert", "answer_lost_update"):
            on = " ON idempotency_keys" if conn.dialect.name == "postgresql" else ""
            await conn.exec_driver_sql(f"DROP TRIGGER {name}{on}")
    retried = await api.call(SAM, "POST", f"/api/v1/chats/{chat['id']}/book", book, headers=headers)
    assert retried["state"] == "confirmed"
    again = await api.call(SAM, "POST", f"/api/v1/chats/{chat['id']}/book", book, headers=headers)
    assert again == retried
    assert await _count(api, idempotency_keys, idempotency_keys.c.key == "book-once") == 1


def _answer_lost_triggers(dialect: str) -> list[str]:
    """Triggers that refuse storing any finished answer, as a full disk would."""
    if dialect == "sqlite":
        refuse = "SELECT RAISE(ABORT, 'no space left on device')"
        return [
            f"CREATE TRIGGER answer_lost_{verb.lower()} BEFORE {verb} ON idempotency_keys "
            f"WHEN NEW.status >= 100 BEGIN {refuse}; END"
            for verb in ("INSERT", "UPDATE")
        ]
    return [
        "CREATE FUNCTION answer_lost() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'no space left on device'; END $$",
        *(
            f"CREATE TRIGGER answer_lost_{verb.lower()} BEFORE {verb} ON idempotency_keys "
            "FOR EACH ROW WHEN (NEW.status >= 100) EXECUTE FUNCTION answer_lost()"
            for verb in ("INSERT", "UPDATE")
        ),
    ]


async def test_the_header_is_ignored_where_nothing_is_changed_and_routing_comes_first(
    api: Api,
) -> None:
    """A join grant or a pre-call check takes no part (it never holds the write lock), and a
    method the route does not have is 405 before the key is looked at."""
    long_key = {"Idempotency-Key": "k" * 500}
    problem = await api.call(ORGANIZER, "PATCH", "/api/v1/events", {}, expect=405, headers=long_key)
    assert problem["status"] == 405
    event = await api.call(ORGANIZER, "POST", "/api/v1/events", EVENT, expect=201)
    await api.call(
        ORGANIZER,
        "PUT",
        f"/api/v1/events/{event['id']}/availability/confirm",
        None,
        expect=405,
        headers=long_key,
    )
    await api.call(ORGANIZER, "GET", "/api/v1/events", headers=long_key)  # not a change: ignored


async def test_a_cancel_with_a_key_closes_the_room_once_it_is_committed(api: Api) -> None:
    """The room-closing hook waits for the transaction that holds the change and its answer."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    headers = {"Idempotency-Key": "cancel-1"}
    await api.call(
        SAM, "POST", f"/api/v1/chats/{chat_id}/cancel", {"reason": "ill"}, headers=headers
    )
    for client in (ada, sam):
        code, before = await closed_with(client)
        assert code == CloseCode.CHAT_CANCELLED and isinstance(before[-1], m.RoomClosing)
