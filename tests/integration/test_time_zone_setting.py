"""Each person's own time zone: stored on the user, read back by /me, refused in words when
the zone is not one the server knows, and what server-side text formats times with."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from scheduling.db import read_tx
from scheduling.store_users import user_zone, zone_or
from tests.support.apiclient import ADA, SAM, Api
from web.keys import ENGINE

pytestmark = pytest.mark.both_backends


async def test_a_person_sets_and_clears_their_zone(api: Api) -> None:
    assert await api.call(SAM, "GET", "/api/v1/me/time-zone") == {"time_zone": None}
    assert (await api.call(SAM, "GET", "/api/v1/me"))["time_zone"] is None
    saved = await api.call(SAM, "PUT", "/api/v1/me/time-zone", {"time_zone": "Asia/Kolkata"})
    assert saved == {"time_zone": "Asia/Kolkata"}
    assert (await api.call(SAM, "GET", "/api/v1/me"))["time_zone"] == "Asia/Kolkata"
    assert (await api.call(ADA, "GET", "/api/v1/me"))["time_zone"] is None  # Sam's alone
    async with read_tx(api.client.app[ENGINE]) as conn:
        assert await user_zone(conn, SAM.id, "Europe/Berlin") == ZoneInfo("Asia/Kolkata")
        assert await user_zone(conn, ADA.id, "Europe/Berlin") == ZoneInfo("Europe/Berlin")
    await api.call(SAM, "PUT", "/api/v1/me/time-zone", {"time_zone": None})
    assert await api.call(SAM, "GET", "/api/v1/me/time-zone") == {"time_zone": None}


async def test_an_unknown_zone_is_refused_in_words(api: Api) -> None:
    problem = await api.call(
        SAM, "PUT", "/api/v1/me/time-zone", {"time_zone": "Mars/Olympus_Mons"}, expect=422
    )
    assert problem["field"] == "time_zone"
    assert problem["detail"] == ("'time_zone' must be an IANA time zone name such as Asia/Kolkata.")


def test_a_zone_this_server_does_not_know_falls_back_to_the_event_s() -> None:
    assert zone_or("Mars/Olympus_Mons", "Europe/Berlin") == ZoneInfo("Europe/Berlin")
    assert zone_or(None, "America/New_York") == ZoneInfo("America/New_York")
    assert zone_or("Pacific/Kiritimati", "UTC") == ZoneInfo("Pacific/Kiritimati")
