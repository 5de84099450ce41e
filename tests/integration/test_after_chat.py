"""After the chat, through the real API on SQLite and PostgreSQL: a company's private notes,
no-show marks and follow-up invitations; the participant's feedback and the organizer's
per-company summary; and who gets 403 or 404 for each."""

from __future__ import annotations

from datetime import timedelta

import pytest

from scheduling.db import write_tx
from scheduling.store_chats import get_chat, settle_chats
from tests.support.apiclient import ADA, ALAN, GRACE, ORGANIZER, PRIYA, SAM, Api
from tests.support.around import approved_chat, new_event, starts
from tests.support.seed import at
from web.keys import ENGINE

pytestmark = pytest.mark.both_backends


async def confirmed(api: Api) -> tuple[str, str, dict]:
    """Ada's confirmed chat with Sam at 08:00-08:30 UTC, and Grace's with Priya."""
    event_id = await new_event(api)
    grid = await starts(api, event_id, 30)
    chat_id, free = await approved_chat(api, event_id, ADA, SAM, grid[:2], 30)
    chat = await api.call(SAM, "POST", f"/api/v1/chats/{chat_id}/book", {"slot_id": free[grid[0]]})
    other, other_free = await approved_chat(api, event_id, GRACE, PRIYA, grid[:1], 30)
    await api.call(PRIYA, "POST", f"/api/v1/chats/{other}/book", {"slot_id": other_free[grid[0]]})
    return event_id, chat_id, chat


async def settle(api: Api, chat_id: str, missing: str = "") -> None:
    """What the room's closing does once the slot is over (rooms/attendance.py)."""
    async with write_tx(api.client.app[ENGINE]) as conn:
        chat = await get_chat(conn, chat_id)
        assert chat is not None
        assert len(await settle_chats(conn, [(chat, missing)], api.clock.now())) == 1


async def test_notes_are_the_companys_own(api: Api) -> None:
    event_id, _chat_id, _ = await confirmed(api)
    path = f"/api/v1/events/{event_id}/notes"
    written = await api.call(
        ADA,
        "PUT",
        f"{path}/{SAM.id}",
        {"notes": "  Strong on SQL; =cmd|' /C calc'!A0  ", "rating": 4, "next_step": "interview"},
    )
    assert written["notes"] == "Strong on SQL; =cmd|' /C calc'!A0" and written["rating"] == 4
    assert written["updated_by"] == ADA.id and written["participant_name"] == SAM.name
    # A colleague sees and edits them; another company never does.
    seen = await api.call(ALAN, "GET", path)
    assert seen["company_id"] == "acme"
    assert [(n["participant_id"], n["next_step"]) for n in seen["notes"]] == [(SAM.id, "interview")]
    await api.call(ALAN, "PUT", f"{path}/{SAM.id}", {"notes": "Agreed.", "rating": None})
    again = (await api.call(ADA, "GET", path))["notes"][0]
    assert again["notes"] == "Agreed." and again["rating"] is None and again["next_step"] == ""
    assert (await api.call(GRACE, "GET", path))["notes"] == []
    problem = await api.call(GRACE, "PUT", f"{path}/{SAM.id}", {"notes": "x"}, expect=404)
    assert "no chat with this participant" in problem["detail"]
    for outsider in (SAM, ORGANIZER):
        await api.call(outsider, "GET", path, expect=403)
        await api.call(outsider, "PUT", f"{path}/{SAM.id}", {"notes": "x"}, expect=403)
    bad = await api.call(ADA, "PUT", f"{path}/{SAM.id}", {"rating": 6}, expect=422)
    assert bad["field"] == "rating"
    bad = await api.call(ADA, "PUT", f"{path}/{SAM.id}", {"next_step": "hire"}, expect=422)
    assert bad["field"] == "next_step"
    await api.call(ADA, "PUT", f"/api/v1/events/{'f' * 32}/notes/{SAM.id}", {}, expect=404)


async def test_a_no_show_mark_once_the_slot_is_over(api: Api) -> None:
    event_id, chat_id, chat = await confirmed(api)
    mark = f"/api/v1/chats/{chat_id}/no-show"
    early = await api.call(ADA, "PUT", mark, {"participant_no_show": True}, expect=409)
    assert "once the chat's time slot is over" in early["detail"]
    api.clock.set(at(chat["slot"]["ends_at"]))
    marked = await api.call(ADA, "PUT", mark, {"participant_no_show": True})
    assert marked["participant_no_show"] is True and marked["marked_by"] == ADA.id
    await settle(api, chat_id, "participant")
    unmarked = await api.call(ALAN, "PUT", mark, {"participant_no_show": False})
    assert unmarked["marked_by"] == ALAN.id
    marks = (await api.call(ADA, "GET", f"/api/v1/events/{event_id}/notes"))["marks"]
    assert [(m["chat_id"], m["participant_no_show"]) for m in marks] == [(chat_id, False)]
    assert (await api.call(GRACE, "GET", f"/api/v1/events/{event_id}/notes"))["marks"] == []
    for outsider, status in ((GRACE, 404), (PRIYA, 404), (SAM, 404), (ORGANIZER, 403)):
        await api.call(outsider, "PUT", mark, {"participant_no_show": True}, expect=status)


async def test_invite_to_a_follow_up_chat(api: Api) -> None:
    event_id, chat_id, chat = await confirmed(api)
    follow = f"/api/v1/chats/{chat_id}/follow-up"
    problem = await api.call(ADA, "POST", follow, {"message": "Again?"}, expect=409)
    assert "Completed tab" in problem["detail"]
    api.clock.set(at(chat["slot"]["ends_at"]) + timedelta(minutes=5))
    await settle(api, chat_id)
    for outsider, status in ((GRACE, 404), (PRIYA, 404), (SAM, 404), (ORGANIZER, 403)):
        await api.call(outsider, "POST", follow, {"message": "x"}, expect=status)
    invitation = await api.call(
        ADA, "POST", follow, {"message": "Let's talk about the offer."}, expect=201
    )
    assert invitation["initiator"] == "employee" and invitation["state"] == "requested"
    assert invitation["participant"]["id"] == SAM.id and invitation["id"] != chat_id
    inbox = await api.call(SAM, "GET", f"/api/v1/chats?event_id={event_id}&tab=requested")
    assert [(c["id"], c["actions"]) for c in inbox["chats"]] == [
        (invitation["id"], ["approve", "decline"])
    ]
    duplicate = await api.call(ADA, "POST", follow, {}, expect=409)
    assert duplicate["code"] == "duplicate"
    # A colleague may invite too, once they offer chats themselves (the invite flow's rule).
    not_yet = await api.call(ALAN, "POST", follow, {}, expect=409)
    assert "Confirm your availability" in not_yet["detail"]


async def test_feedback_after_the_call_and_only_its_sum_for_the_organizer(api: Api) -> None:
    event_id, chat_id, chat = await confirmed(api)
    path = f"/api/v1/chats/{chat_id}/feedback"
    early = await api.call(SAM, "PUT", path, {"score": 5, "comment": "Great"}, expect=409)
    assert "once your chat can be joined" in early["detail"]
    await api.call(SAM, "GET", path, expect=404)
    api.clock.set(at(chat["join"]["join_opens_at"]))  # a few minutes before the slot
    given = await api.call(SAM, "PUT", path, {"score": 5, "comment": " Great chat. "})
    assert given["comment"] == "Great chat."
    given = await api.call(SAM, "PUT", path, {"score": 4, "comment": "Good chat."})
    assert (await api.call(SAM, "GET", path))["score"] == 4
    bad = await api.call(SAM, "PUT", path, {"score": 0}, expect=422)
    assert bad["field"] == "score"
    for outsider, status in ((PRIYA, 404), (ADA, 403), (ALAN, 403), (ORGANIZER, 403)):
        await api.call(outsider, "PUT", path, {"score": 1}, expect=status)
        await api.call(outsider, "GET", path, expect=status)

    summary = await api.call(ORGANIZER, "GET", f"/api/v1/events/{event_id}/feedback")
    assert summary["companies"] == [
        {
            "company_id": "acme",
            "company_name": "acme",
            "responses": 1,
            "average": 4.0,
            "scores": [0, 0, 0, 1, 0],
            "comments": [],  # one answer is not anonymous: its sentence stays hidden
        }
    ]
    assert summary["min_responses_for_comments"] == 5
    for outsider in (ADA, SAM):
        await api.call(outsider, "GET", f"/api/v1/events/{event_id}/feedback", expect=403)
