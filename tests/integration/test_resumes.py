"""Résumés through the real API on SQLite and PostgreSQL: checked by content, stored in the
database, read only by the company the participant talks to, served as an attachment."""

from __future__ import annotations

import pytest

from scheduling.resume_rules import MAX_RESUME_BYTES
from tests.support.apiclient import ADA, ALAN, GRACE, ORGANIZER, PRIYA, SAM, Api, Person
from tests.support.around import approved_chat, new_event, pdf_bytes, starts

pytestmark = pytest.mark.both_backends


async def upload(
    api: Api,
    body: bytes,
    *,
    who: Person = SAM,
    name: str = "cv.pdf",
    content_type: str = "application/pdf",
    expect: int = 200,
) -> dict:
    resp = await api.client.put(
        "/api/v1/me/resume",
        params={"filename": name},
        data=body,
        headers={"Authorization": f"Bearer {api.token(who)}", "Content-Type": content_type},
    )
    answer = await resp.json(content_type=None)
    assert resp.status == expect, answer
    if expect >= 400:
        assert resp.content_type == "application/problem+json"
        assert answer["status"] == expect and answer["detail"].endswith(".")
    return dict(answer)


async def fetch(api: Api, who: Person, path: str) -> tuple[int, bytes, dict[str, str]]:
    resp = await api.client.get(path, headers={"Authorization": f"Bearer {api.token(who)}"})
    return resp.status, await resp.read(), dict(resp.headers)


async def test_upload_replace_and_delete_and_who_may_read_it(api: Api) -> None:
    event_id = await new_event(api)
    chat_id, _ = await approved_chat(
        api, event_id, ADA, SAM, (await starts(api, event_id, 30))[:1], 30
    )
    await approved_chat(api, event_id, GRACE, PRIYA, (await starts(api, event_id, 30))[:1], 30)
    first = pdf_bytes(2, "first")

    # A PDF is a PDF by its bytes: an odd name and a generic type are fine.
    stored = await upload(
        api, first, name="../../My CV\x00.bin", content_type="application/octet-stream"
    )
    assert stored["pages"] == 2 and stored["size"] == len(first)
    assert stored["filename"] == "My CV_.bin.pdf" and stored["url"] == "/api/v1/me/resume.pdf"
    assert (await api.call(SAM, "GET", "/api/v1/me/resume"))["size"] == len(first)

    # The employee sees the link on the request card, colleagues may fetch it too.
    cards = await api.call(ADA, "GET", f"/api/v1/chats?event_id={event_id}")
    assert [c["resume_url"] for c in cards["chats"]] == [f"/api/v1/chats/{chat_id}/resume.pdf"]
    assert (await api.call(ADA, "GET", f"/api/v1/chats/{chat_id}"))["resume_url"]
    assert (await api.call(SAM, "GET", f"/api/v1/chats/{chat_id}"))["resume_url"] is None
    assert (await api.call(ORGANIZER, "GET", f"/api/v1/chats/{chat_id}"))["resume_url"] is None
    for reader in (ADA, ALAN):
        status, body, headers = await fetch(api, reader, f"/api/v1/chats/{chat_id}/resume.pdf")
        assert status == 200 and body == first
        assert headers["Content-Type"] == "application/pdf"
        assert headers["Content-Disposition"].startswith('attachment; filename="My CV_.bin.pdf"')
        assert headers["X-Content-Type-Options"] == "nosniff"
    # Another company, another participant, the owner through the chat's address: 404; the
    # organizer, who may see the chat, is told the résumé is not theirs: 403.
    for outsider, status in ((GRACE, 404), (PRIYA, 404), (SAM, 404), (ORGANIZER, 403)):
        problem = await api.call(
            outsider, "GET", f"/api/v1/chats/{chat_id}/resume.pdf", expect=status
        )
        assert problem["code"] in ("not_found", "forbidden")
    status, body, headers = await fetch(api, SAM, "/api/v1/me/resume.pdf")
    assert (
        status == 200 and body == first and headers["Content-Disposition"].startswith("attachment")
    )
    for other in (ADA, ORGANIZER):
        for method, path in (
            ("GET", "/api/v1/me/resume"),
            ("GET", "/api/v1/me/resume.pdf"),
            ("DELETE", "/api/v1/me/resume"),
        ):
            assert (await api.call(other, method, path, expect=403))["code"] == "wrong_role"
        await upload(api, first, who=other, expect=403)
    # Another participant has their own (none): Sam's is never theirs.
    await api.call(PRIYA, "GET", "/api/v1/me/resume", expect=404)
    await api.call(PRIYA, "DELETE", "/api/v1/me/resume", expect=404)
    await api.call(None, "GET", f"/api/v1/chats/{chat_id}/resume.pdf", expect=401)

    # Replacing keeps one résumé, the new one.
    second = pdf_bytes(1, "second")
    assert (await upload(api, second, name="résumé 2026.pdf"))["pages"] == 1
    status, body, headers = await fetch(api, ALAN, f"/api/v1/chats/{chat_id}/resume.pdf")
    assert (
        body == second
        and "filename*=UTF-8''r%C3%A9sum%C3%A9%202026.pdf" in headers["Content-Disposition"]
    )

    # Deleting is the participant's choice; afterwards nobody gets it.
    resp = await api.client.delete(
        "/api/v1/me/resume", headers={"Authorization": f"Bearer {api.token(SAM)}"}
    )
    assert resp.status == 204
    problem = await api.call(ADA, "GET", f"/api/v1/chats/{chat_id}/resume.pdf", expect=404)
    assert "has not shared a résumé" in problem["detail"]
    await api.call(SAM, "GET", "/api/v1/me/resume", expect=404)
    await api.call(SAM, "DELETE", "/api/v1/me/resume", expect=404)
    assert (await api.call(ADA, "GET", f"/api/v1/chats/{chat_id}"))["resume_url"] is None


async def test_what_is_not_a_pdf_is_refused_in_a_sentence(api: Api) -> None:
    real = pdf_bytes()
    html = b"<html><script>alert(1)</script></html>"
    problem = await upload(api, html, name="cv.pdf", expect=422)
    assert problem["code"] == "not_pdf" and "not a PDF" in problem["detail"]
    problem = await upload(api, b"%PDF-1.7\nnot really a pdf at all", expect=422)
    assert problem["code"] == "not_pdf" and "cannot be read" in problem["detail"]
    problem = await upload(api, b"", expect=422)
    assert problem["code"] == "not_pdf" and "empty" in problem["detail"]
    too_big = real + b"%" * (MAX_RESUME_BYTES + 1 - len(real))
    problem = await upload(api, too_big, expect=413)
    assert problem["code"] == "too_large" and "5 MB" in problem["detail"]
    # Nothing was stored by any of them.
    await api.call(SAM, "GET", "/api/v1/me/resume", expect=404)
    # A PDF just under the limit is fine (trailing bytes after %%EOF are ignored by readers).
    padded = real + b"\n%" + b" " * (MAX_RESUME_BYTES - len(real) - 2)
    assert (await upload(api, padded))["size"] == MAX_RESUME_BYTES


async def test_an_invitation_shares_nothing_until_the_participant_accepts(api: Api) -> None:
    """An employee may invite anyone: the invitation alone must not open their résumé (else a
    recruiter could invite every participant to read every résumé)."""
    event_id = await new_event(api)
    await approved_chat(api, event_id, ADA, SAM, (await starts(api, event_id, 30))[:2], 30)
    await api.call(PRIYA, "GET", "/api/v1/me")  # Priya is known once she has signed in
    await upload(api, pdf_bytes(1, "priya"), who=PRIYA)
    invite = await api.call(
        ADA, "POST", f"/api/v1/events/{event_id}/chats", {"participant_id": PRIYA.id}, expect=201
    )
    path = f"/api/v1/chats/{invite['id']}/resume.pdf"
    problem = await api.call(ADA, "GET", path, expect=404)
    assert "not accepted this invitation" in problem["detail"]
    assert (await api.call(ADA, "GET", f"/api/v1/chats/{invite['id']}"))["resume_url"] is None
    await api.call(PRIYA, "POST", f"/api/v1/chats/{invite['id']}/approve")
    status, body, _ = await fetch(api, ALAN, path)
    assert status == 200 and body == pdf_bytes(1, "priya")
    assert (await api.call(ADA, "GET", f"/api/v1/chats/{invite['id']}"))["resume_url"] == path
