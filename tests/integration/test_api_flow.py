"""The whole 1-1 chat journey through HTTP on a real SQLite file, both ways it can start."""

from __future__ import annotations

from datetime import timedelta

import pytest
from icalendar import Calendar

from tests.support import seed
from tests.support.apiclient import ADA, ALAN, GRACE, MEI, ORGANIZER, PRIYA, SAM, Api

pytestmark = pytest.mark.both_backends

EVENT = seed.WINTER_FAIR
setup_event = seed.setup_event
publish = seed.publish_with_profile


async def test_participant_initiated_journey(api: Api) -> None:
    event_id = await setup_event(api)
    grid = await api.call(
        ADA, "GET", f"/api/v1/events/{event_id}/grid?date=2026-12-01&duration_min=30"
    )
    starts = [s["starts_at"] for s in grid["slots"]]
    assert starts[0] == "2026-12-01T08:00:00Z" and len(starts) == 6  # 09:00 Berlin is 08:00 UTC

    # Requests are closed until the employee confirms availability.
    problem = await api.call(
        SAM, "POST", f"/api/v1/events/{event_id}/chats", {"employee_id": "ada"}, expect=404
    )
    assert "no such employee" in problem["detail"]
    draft = await api.call(
        ADA,
        "PUT",
        f"/api/v1/events/{event_id}/availability",
        {"days": [{"date": "2026-12-01", "duration_min": 30, "slots": starts[:3]}]},
    )
    assert draft["status"] == "draft" and draft["pending_changes"] == 3
    problem = await api.call(
        SAM, "POST", f"/api/v1/events/{event_id}/chats", {"employee_id": "ada"}, expect=409
    )
    assert "not confirmed their availability" in problem["detail"]
    published = await api.call(ADA, "POST", f"/api/v1/events/{event_id}/availability/confirm")
    assert published["status"] == "published" and published["company_slots"] == {
        "quota": 6,
        "used": 3,
        "available": 3,
    }

    # The quota holds: Alan cannot publish 6 more when 3 remain, and is told how many remain.
    await api.call(
        ALAN,
        "PUT",
        f"/api/v1/events/{event_id}/availability",
        {"days": [{"date": "2026-12-01", "duration_min": 30, "slots": "all"}]},
    )
    problem = await api.call(
        ALAN, "POST", f"/api/v1/events/{event_id}/availability/confirm", expect=409
    )
    assert problem["code"] == "quota_reached" and "3" in problem["detail"]

    offers = await api.call(SAM, "GET", f"/api/v1/events/{event_id}/offers")
    assert [o["employee_id"] for o in offers["offers"]] == ["ada"]
    assert offers["offers"][0]["free_slots"] == 3

    chat = await api.call(
        SAM,
        "POST",
        f"/api/v1/events/{event_id}/chats",
        {"employee_id": "ada", "answer": "Backend roles"},
        expect=201,
    )
    assert (
        chat["state"] == "requested"
        and chat["tab"] == "requested"
        and chat["actions"] == ["withdraw"]
    )
    cid = chat["id"]
    requested = await api.call(ADA, "GET", "/api/v1/chats?tab=requested")
    assert [c["id"] for c in requested["chats"]] == [cid]
    assert requested["chats"][0]["actions"] == ["approve", "decline"]

    # Not yours: another participant cannot see or move it.
    await api.call(PRIYA, "POST", f"/api/v1/chats/{cid}/approve", expect=404)
    approved = await api.call(ADA, "POST", f"/api/v1/chats/{cid}/approve")
    assert approved["state"] == "approved" and approved["tab"] == "in_scheduling"
    again = await api.call(ADA, "POST", f"/api/v1/chats/{cid}/approve", expect=409)
    assert again["code"] == "wrong_state"

    free = await api.call(SAM, "GET", f"/api/v1/events/{event_id}/employees/ada/slots")
    assert len(free["slots"]) == 3
    booked = await api.call(
        SAM, "POST", f"/api/v1/chats/{cid}/book", {"slot_id": free["slots"][0]["id"]}
    )
    assert booked["state"] == "confirmed" and booked["slot"]["starts_at"] == starts[0]
    assert booked["join"]["open"] is False and booked["join"]["reason"] == "too_early"
    assert booked["join"]["join_opens_at"] == "2026-12-01T07:55:00Z"
    assert booked["join"]["join_closes_at"] == "2026-12-01T08:32:00Z"

    # Decline needs a message a person can act on.
    other = await api.call(
        PRIYA, "POST", f"/api/v1/events/{event_id}/chats", {"employee_id": "ada"}, expect=201
    )
    await api.call(ADA, "POST", f"/api/v1/chats/{other['id']}/decline", {}, expect=422)
    declined = await api.call(
        ADA,
        "POST",
        f"/api/v1/chats/{other['id']}/decline",
        {"message": "Please talk to my colleague Alan at the booth."},
    )
    assert declined["state"] == "declined" and declined["tab"] == "history"

    ics1 = Calendar.from_ical(await api.call(SAM, "GET", f"/api/v1/chats/{cid}.ics"))
    moved = await api.call(
        SAM, "POST", f"/api/v1/chats/{cid}/reschedule", {"slot_id": free["slots"][1]["id"]}
    )
    assert moved["slot"]["starts_at"] == starts[1]
    ics2 = Calendar.from_ical(await api.call(SAM, "GET", f"/api/v1/chats/{cid}.ics"))
    ev1, ev2 = ics1.walk("VEVENT")[0], ics2.walk("VEVENT")[0]
    assert ev1["UID"] == ev2["UID"] and int(ev2["SEQUENCE"]) == int(ev1["SEQUENCE"]) + 1
    schedule = await api.call(SAM, "GET", "/api/v1/me/schedule")
    assert [c["id"] for c in schedule["chats"]] == [cid]

    # Join window edges, against the server's (injected) clock.
    api.clock.set(api.clock.now().replace(year=2026, month=12, day=1, hour=8, minute=25))
    live = await api.call(ADA, "GET", f"/api/v1/chats/{cid}")
    assert live["join"]["open"] is True and live["join"]["now"] == "2026-12-01T08:25:00Z"

    cancelled = await api.call(
        ADA, "POST", f"/api/v1/chats/{cid}/cancel", {"reason": "Sick today, sorry."}
    )
    assert cancelled["state"] == "cancelled" and cancelled["cancel_reason"] == "Sick today, sorry."
    ics3 = Calendar.from_ical(await api.call(SAM, "GET", f"/api/v1/chats/{cid}.ics"))
    assert ics3["METHOD"] == "CANCEL" and int(ics3.walk("VEVENT")[0]["SEQUENCE"]) == 2
    history = await api.call(SAM, "GET", f"/api/v1/chats/{cid}/history")
    assert [h["action"] for h in history["history"]] == [
        "request",
        "approve",
        "book",
        "reschedule",
        "cancel",
    ]
    assert history["history"][-1]["actor_id"] == "ada"


async def test_employee_initiated_journey(api: Api) -> None:
    event_id = await setup_event(api)
    grid = await api.call(
        GRACE, "GET", f"/api/v1/events/{event_id}/grid?date=2026-12-02&duration_min=20"
    )
    await publish(
        api, event_id, GRACE, "2026-12-02", 20, [s["starts_at"] for s in grid["slots"][:2]]
    )
    await api.call(PRIYA, "GET", "/api/v1/me")  # Priya is known to Duet once she has signed in...
    await api.call(
        PRIYA, "POST", f"/api/v1/events/{event_id}/chats", {"employee_id": "grace"}, expect=201
    )
    people = await api.call(GRACE, "GET", f"/api/v1/events/{event_id}/participants")
    assert "priya" in [p["id"] for p in people["participants"]]
    await api.call(SAM, "GET", f"/api/v1/events/{event_id}/offers")
    await api.call(
        SAM, "POST", f"/api/v1/events/{event_id}/chats", {"employee_id": "grace"}, expect=201
    )
    mine = await api.call(SAM, "GET", "/api/v1/chats")
    await api.call(SAM, "POST", f"/api/v1/chats/{mine['chats'][0]['id']}/withdraw")

    invite = await api.call(
        GRACE,
        "POST",
        f"/api/v1/events/{event_id}/chats",
        {"participant_id": "sam", "message": "Loved your project, want to chat?"},
        expect=201,
    )
    assert invite["initiator"] == "employee" and invite["actions"] == ["withdraw"]
    as_sam = await api.call(SAM, "GET", f"/api/v1/chats/{invite['id']}")
    assert as_sam["actions"] == ["approve", "decline"]
    accepted = await api.call(SAM, "POST", f"/api/v1/chats/{invite['id']}/approve")
    assert accepted["state"] == "approved"
    slots = await api.call(SAM, "GET", f"/api/v1/events/{event_id}/employees/grace/slots")
    booked = await api.call(
        SAM, "POST", f"/api/v1/chats/{invite['id']}/book", {"slot_id": slots["slots"][0]["id"]}
    )
    assert booked["state"] == "confirmed"
    # One free slot is left, so Grace may still promise it to Priya...
    pending = await api.call(GRACE, "GET", "/api/v1/chats?tab=requested")
    assert len(pending["chats"]) == 1
    await api.call(GRACE, "POST", f"/api/v1/chats/{pending['chats'][0]['id']}/approve")
    # ...but a third approval finds no free slot left to promise: one free slot, one approved.
    await api.call(MEI, "GET", "/api/v1/me")
    third = await api.call(
        MEI, "POST", f"/api/v1/events/{event_id}/chats", {"employee_id": "grace"}, expect=201
    )
    refused = await api.call(GRACE, "POST", f"/api/v1/chats/{third['id']}/approve", expect=409)
    assert (
        refused["code"] == "no_free_slot" and "Ensure you have slots available" in refused["detail"]
    )
    # An employee who has not confirmed availability cannot invite yet.
    problem = await api.call(
        ALAN, "POST", f"/api/v1/events/{event_id}/chats", {"participant_id": "sam"}, expect=409
    )
    assert "Confirm your availability" in problem["detail"]


async def test_bad_input_is_refused_with_sentences(api: Api) -> None:
    problem = await api.call(SAM, "POST", "/api/v1/events", EVENT, expect=403)
    assert problem["detail"] == "Only an organizer can do this."
    problem = await api.call(
        ORGANIZER, "POST", "/api/v1/events", EVENT | {"timezone": "Mars/Olympus"}, expect=422
    )
    assert "IANA time zone" in problem["detail"]
    problem = await api.call(
        ORGANIZER,
        "POST",
        "/api/v1/events",
        EVENT
        | {"days": [{"date": "2026-12-01", "start": "10:00", "end": "09:00", "durations": [15]}]},
        expect=422,
    )
    assert "end time must be after" in problem["detail"]
    problem = await api.call(
        ORGANIZER,
        "POST",
        "/api/v1/events",
        EVENT
        | {"days": [{"date": "2026-12-01", "start": "09:00", "end": "10:00", "durations": [45]}]},
        expect=422,
    )
    assert "10, 15, 20, 30" in problem["detail"]
    problem = await api.call(None, "GET", "/api/v1/chats", expect=401)
    assert "sign in" in problem["detail"]
    resp = await api.client.post(
        "/api/v1/events",
        data=b"{not json",
        headers={
            "Authorization": f"Bearer {api.token(ORGANIZER)}",
            "Content-Type": "application/json",
        },
    )
    assert resp.status == 400 and resp.content_type == "application/problem+json"
    assert "not valid JSON" in (await resp.json(content_type=None))["detail"]
    resp = await api.client.get("/api/v1/chats", headers={"Authorization": "Bearer nonsense"})
    assert resp.status == 401 and "not valid" in (await resp.json(content_type=None))["detail"]
    await api.call(SAM, "GET", "/api/v1/nothing-here", expect=404)
    event_id = await setup_event(api)
    problem = await api.call(
        ADA,
        "PUT",
        f"/api/v1/events/{event_id}/availability",
        {"days": [{"date": "2026-12-01", "duration_min": 20, "slots": "all"}]},
        expect=422,
    )
    assert "20" in problem["detail"]
    problem = await api.call(
        ADA,
        "PUT",
        f"/api/v1/events/{event_id}/availability",
        {"days": [{"date": "2026-12-01", "duration_min": 30, "slots": ["2026-12-01T08:10:00Z"]}]},
        expect=422,
    )
    assert "not a 30-minute slot" in problem["detail"]


async def test_idempotency_key_replays_the_first_answer(api: Api) -> None:
    event_id = await setup_event(api)
    await publish(api, event_id, ADA, "2026-12-01", 30, "all")
    headers = {"Idempotency-Key": "req-1"}
    first = await api.call(
        SAM,
        "POST",
        f"/api/v1/events/{event_id}/chats",
        {"employee_id": "ada"},
        expect=201,
        headers=headers,
    )
    second = await api.call(
        SAM,
        "POST",
        f"/api/v1/events/{event_id}/chats",
        {"employee_id": "ada"},
        expect=201,
        headers=headers,
    )
    assert first["id"] == second["id"]
    mine = await api.call(SAM, "GET", "/api/v1/chats")
    assert len(mine["chats"]) == 1
    problem = await api.call(
        SAM,
        "POST",
        f"/api/v1/events/{event_id}/chats",
        {"employee_id": "alan"},
        expect=422,
        headers=headers,
    )
    assert problem["code"] == "idempotency_key_reused"


async def test_booked_slot_cannot_be_removed(api: Api) -> None:
    event_id = await setup_event(api)
    grid = await api.call(
        ADA, "GET", f"/api/v1/events/{event_id}/grid?date=2026-12-01&duration_min=30"
    )
    starts = [s["starts_at"] for s in grid["slots"]]
    await publish(api, event_id, ADA, "2026-12-01", 30, starts[:2])
    chat = await api.call(
        SAM, "POST", f"/api/v1/events/{event_id}/chats", {"employee_id": "ada"}, expect=201
    )
    await api.call(ADA, "POST", f"/api/v1/chats/{chat['id']}/approve")
    free = await api.call(SAM, "GET", f"/api/v1/events/{event_id}/employees/ada/slots")
    await api.call(
        SAM, "POST", f"/api/v1/chats/{chat['id']}/book", {"slot_id": free["slots"][0]["id"]}
    )
    problem = await api.call(
        ADA,
        "PUT",
        f"/api/v1/events/{event_id}/availability",
        {"days": [{"date": "2026-12-01", "duration_min": 30, "slots": starts[1:3]}]},
        expect=409,
    )
    assert "booked and cannot be removed" in problem["detail"]
    # Adding slots later is fine; they wait for the next "Confirm Availability".
    more = await api.call(
        ADA,
        "PUT",
        f"/api/v1/events/{event_id}/availability",
        {"days": [{"date": "2026-12-01", "duration_min": 30, "slots": starts[:4]}]},
    )
    assert more["pending_changes"] == 2
    api.clock.advance(timedelta(days=30))
    ended = await api.call(SAM, "GET", f"/api/v1/chats/{chat['id']}")
    assert ended["join"]["open"] is False and ended["join"]["reason"] == "ended"
