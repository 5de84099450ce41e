"""The chat's calendar file names its organizer and attendees (RFC 5546): a CANCEL without an
ORGANIZER is ignored by some calendars, so the cancelled chat would stay in them."""

from __future__ import annotations

import pytest
from icalendar import Calendar

from tests.support.apiclient import ADA, SAM, Api
from tests.support.seed import confirmed_chat

pytestmark = pytest.mark.both_backends


def _vevent(raw: bytes) -> tuple[str, dict[str, object]]:
    cal = Calendar.from_ical(raw)
    (event,) = cal.walk("VEVENT")
    return str(cal["METHOD"]), event


async def test_confirmed_and_cancelled_files_name_organizer_and_both_attendees(api: Api) -> None:
    chat_id, _ = await confirmed_chat(api)
    method, confirmed = _vevent(await api.call(SAM, "GET", f"/api/v1/chats/{chat_id}.ics"))
    assert method == "PUBLISH"
    organizer = confirmed["ORGANIZER"]
    assert str(organizer) == "urn:duet:user:ada" and organizer.params["CN"] == ADA.name
    attendees = confirmed["ATTENDEE"]
    assert {str(a) for a in attendees} == {"urn:duet:user:ada", "urn:duet:user:sam"}
    assert {a.params["CN"] for a in attendees} == {ADA.name, SAM.name}

    await api.call(SAM, "POST", f"/api/v1/chats/{chat_id}/cancel", {"reason": "sick"})
    method, cancelled = _vevent(await api.call(ADA, "GET", f"/api/v1/chats/{chat_id}.ics"))
    assert method == "CANCEL" and cancelled["STATUS"] == "CANCELLED"
    assert cancelled["UID"] == confirmed["UID"]
    assert cancelled["SEQUENCE"] > confirmed["SEQUENCE"]
    assert str(cancelled["ORGANIZER"]) == str(organizer)  # the same event, so it is removed
    assert {str(a) for a in cancelled["ATTENDEE"]} == {str(a) for a in attendees}
