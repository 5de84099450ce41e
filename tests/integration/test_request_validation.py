"""Request bodies and query strings are checked by their structs: a refusal names the field.

The structs in web/request_bodies.py both decode the input and are the OpenAPI document's
schemas, so each limit the document states is the one the server keeps: these tests send what
the document forbids and read the sentence back; rules by role live in scheduling/roles.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.apiclient import ADA, ORGANIZER, SAM, Api
from tests.support.seed import WINTER_FAIR as EVENT
from tests.support.seed import publish_with_profile as publish
from tests.support.seed import setup_event
from web.openapi import openapi_document

pytestmark = pytest.mark.both_backends


def schema(name: str) -> dict[str, Any]:
    return openapi_document()["components"]["schemas"][name]


async def refused(api: Api, person: Any, method: str, path: str, body: Any) -> dict[str, Any]:
    return await api.call(person, method, path, body, expect=422)


async def test_event_fields_are_refused_by_name_with_what_they_must_be(api: Api) -> None:
    day = EVENT["days"][0]
    cases = [
        ({"days": [day | {"date": "01.12.2026"}]}, "days[0].date", "a date like 2026-11-28"),
        ({"days": [day | {"start": "9:00"}]}, "days[0].start", "a time like 09:30"),
        ({"days": [day | {"end": "24:00"}]}, "days[0].end", "a time like 09:30"),
        ({"days": [day | {"durations": [45]}]}, "days[0].durations[0]", "10, 15, 20, 30"),
        ({"days": []}, "days", "a list of 1 to 31 items"),
        (
            {"quotas": [{"company_id": "acme", "slot_quota": 10_001}]},
            "quotas[0].slot_quota",
            "0 to 10000",
        ),
        (
            {"quotas": [{"company_id": "", "slot_quota": 1}]},
            "quotas[0].company_id",
            "1 to 100 characters",
        ),
        ({"support_url": "ftp://files.example/"}, "support_url", "https://"),
        ({"support_url": "https://"}, "support_url", "https://"),
        # A control character that JavaScript's \s does not cover is refused by both engines.
        ({"support_url": "http://help\x1c.example"}, "support_url", "https://"),
        ({"name": "   "}, "name", "a name"),
        ({"timezone": "Mars/Olympus"}, "timezone", "IANA time zone"),
        ({"join_opens_before_s": 3601}, "join_opens_before_s", "0 to 3600 seconds"),
        ({"join_grace_after_s": True}, "join_grace_after_s", "0 to 1800 seconds"),
        ({"media_mode": "sfu"}, "media_mode", '"p2p", "relay"'),
    ]
    for change, name, words in cases:
        problem = await refused(api, ORGANIZER, "POST", "/api/v1/events", EVENT | change)
        assert problem["field"] == name, (change, problem)
        assert problem["detail"].startswith(f"'{name}' must be "), problem
        assert words in problem["detail"], problem
    missing = await refused(api, ORGANIZER, "POST", "/api/v1/events", {"name": "Fair"})
    assert missing["detail"] == "The field 'timezone' is required."
    assert missing["field"] == "timezone"
    listed = await refused(api, ORGANIZER, "POST", "/api/v1/events", [EVENT])
    assert listed["detail"] == "The body must be a JSON object."


async def test_the_document_states_the_limits_the_server_keeps() -> None:
    day = schema("EventDay")["properties"]
    assert day["start"]["pattern"] == "^([01][0-9]|2[0-3]):[0-5][0-9]$"
    assert day["date"]["format"] == "date"
    assert (
        schema("SlotQuota")["properties"]["slot_quota"].items()
        >= {"minimum": 0, "maximum": 10_000}.items()
    )
    url = schema("EventInput")["properties"]["support_url"]
    assert url["pattern"] == "^(https?://[^\\s\\x00-\\x1f\\x7f-\\x9f\\ufeff]+)?$"
    # The document's reader (JavaScript semantics) and the server (Python's) agree on it.
    for text in ("http://a\x1cb", "http://a\x85b", "http://a\ufeffb", "http://a b"):
        assert re.fullmatch(url["pattern"], text) is None, repr(text)
    assert re.fullmatch(url["pattern"], "https://help.example/booth?x=1") is not None
    offer = schema("PrecallOffer")["properties"]["sdp"]
    assert offer["minLength"] == 1 and offer["pattern"] == "\\S"
    assert schema("ChatRequest")["oneOf"] == [
        {"required": ["employee_id"]},
        {"required": ["participant_id"]},
    ]
    assert "Europe/Berlin" in schema("TimeZoneName")["enum"]
    key = next(
        p
        for p in openapi_document()["paths"]["/api/v1/events"]["post"]["parameters"]
        if p["name"] == "Idempotency-Key"
    )
    assert key["schema"] == {"type": "string", "minLength": 1, "maxLength": 200}
    grid = openapi_document()["paths"]["/api/v1/events/{event_id}/grid"]["get"]["parameters"]
    assert {p["name"]: p["required"] for p in grid} == {
        "event_id": True,
        "date": True,
        "duration_min": True,
    }


async def test_a_whole_number_written_as_5_0_is_a_whole_number(api: Api) -> None:
    """JSON Schema's integer includes 5.0; a client that writes it so is not refused."""
    event_id = await setup_event(api)
    saved = await api.call(
        ORGANIZER, "PUT", f"/api/v1/events/{event_id}/quotas/acme", {"slot_quota": 7.0}
    )
    assert {q["company_id"]: q["slot_quota"] for q in saved["quotas"]}["acme"] == 7
    half = await refused(
        api, ORGANIZER, "PUT", f"/api/v1/events/{event_id}/quotas/acme", {"slot_quota": 7.5}
    )
    assert half["field"] == "slot_quota" and "whole number from 0 to 10000" in half["detail"]


async def test_availability_and_query_strings_name_the_field(api: Api) -> None:
    event_id = await setup_event(api)
    ev = f"/api/v1/events/{event_id}"
    naive = await refused(
        api,
        ADA,
        "PUT",
        f"{ev}/availability",
        {"days": [{"date": "2026-12-01", "duration_min": 30, "slots": ["2026-12-01T08:00:00"]}]},
    )
    assert naive["field"] == "days[0].slots[0]"
    assert "with a time zone" in naive["detail"]
    word = await refused(
        api,
        ADA,
        "PUT",
        f"{ev}/availability",
        {"days": [{"date": "2026-12-01", "duration_min": 30, "slots": "some"}]},
    )
    assert word["field"] == "days[0].slots" and '"all"' in word["detail"]
    profile = await refused(
        api, ADA, "PUT", f"{ev}/availability", {"profile": {"topics": ["ok", " "]}}
    )
    assert profile["field"] == "profile.topics[1]"
    grid = await api.call(ADA, "GET", f"{ev}/grid?date=tomorrow&duration_min=30", expect=422)
    assert grid["field"] == "date" and "2026-11-28" in grid["detail"]
    grid = await api.call(ADA, "GET", f"{ev}/grid?date=2026-12-01&duration_min=x", expect=422)
    assert grid["field"] == "duration_min" and "10, 15, 20, 30" in grid["detail"]
    grid = await api.call(ADA, "GET", f"{ev}/grid?date=2026-12-01", expect=422)
    assert grid["detail"] == "The field 'duration_min' is required."
    tab = await api.call(SAM, "GET", "/api/v1/chats?tab=archive", expect=422)
    assert tab["field"] == "tab" and "in_scheduling" in tab["detail"]


async def test_who_names_whom_in_a_chat_request_depends_on_the_role(api: Api) -> None:
    event_id = await setup_event(api)
    await publish(api, event_id, ADA, "2026-12-01", 30, "all")
    chats = f"/api/v1/events/{event_id}/chats"
    both = await refused(api, SAM, "POST", chats, {"employee_id": "ada", "participant_id": "sam"})
    assert "not both" in both["detail"]
    neither = await refused(api, SAM, "POST", chats, {"message": "Hi"})
    assert "employee_id" in neither["detail"] and "participant_id" in neither["detail"]
    as_employee = await api.call(SAM, "POST", chats, {"participant_id": "mei"}, expect=403)
    assert "name the employee" in as_employee["detail"]
    as_participant = await api.call(ADA, "POST", chats, {"employee_id": "alan"}, expect=403)
    assert "name the participant" in as_participant["detail"]
    quota = await api.call(ORGANIZER, "GET", f"/api/v1/events/{event_id}/quota", expect=422)
    assert quota["field"] == "company_id"
    mine = await api.call(ADA, "GET", f"/api/v1/events/{event_id}/quota?company_id=globex")
    assert mine["company_id"] == "acme"  # an employee always reads their own company


async def test_chat_actions_read_their_own_body(api: Api) -> None:
    event_id = await setup_event(api)
    await publish(api, event_id, ADA, "2026-12-01", 30, "all")
    chat = await api.call(
        SAM, "POST", f"/api/v1/events/{event_id}/chats", {"employee_id": "ada"}, expect=201
    )
    base = f"/api/v1/chats/{chat['id']}"
    blank = await refused(api, ADA, "POST", f"{base}/decline", {"message": " \n "})
    assert blank["field"] == "message" and "short message" in blank["detail"]
    await api.call(ADA, "POST", f"{base}/approve")
    text = await refused(api, SAM, "POST", f"{base}/book", {"slot_id": "1"})
    assert text["field"] == "slot_id" and "whole number" in text["detail"]
    # A name that is not an action is no route: 405 with the methods the address has.
    resp = await api.client.post(
        f"{base}/history", headers={"Authorization": f"Bearer {api.token(SAM)}"}
    )
    assert resp.status == 405 and resp.headers["Allow"] == "GET,HEAD"
    offer = await refused(api, SAM, "POST", "/api/v1/precall", {"sdp": " ", "type": "offer"})
    assert offer["field"] == "sdp"
