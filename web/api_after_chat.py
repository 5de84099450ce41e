"""After the chat: a company's notes, ratings and next steps per participant, no-show marks and
follow-up invitations (its employees only); the participant's feedback, and the organizer's
per-company summary of it."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduling.after_chat_rules import (
    MIN_RESPONSES_FOR_COMMENTS,
    check_company_member,
    check_feedback,
    check_follow_up,
    check_no_show_mark,
)
from scheduling.db import read_tx, write_tx
from scheduling.errors import DomainError, ErrorKind
from scheduling.join_window import window_times
from scheduling.model import Role, Side
from scheduling.store_after_chat import (
    FeedbackRecord,
    MarkRecord,
    NotesRecord,
    company_marks,
    feedback_summary,
    get_feedback,
    list_notes,
    save_feedback,
    save_notes,
    set_mark,
)
from scheduling.store_chats import ChatRecord, create_request, get_chat, require_chat
from scheduling.store_events import company_names, ensure_user, join_terms, require_event
from web import request_bodies as rb
from web import resources as r
from web.api_chats import CHAT_ID
from web.auth import Principal, principal
from web.json_io import Body, json_response
from web.keys import CLOCK, ENGINE
from web.views import chat_view

routes = web.RouteTableDef()

NOTES = Body(rb.NotesInput)
NO_SHOW_MARK = Body(rb.NoShowMark)
FOLLOW_UP = Body(rb.FollowUp)
FEEDBACK = Body(rb.FeedbackInput)


def _company(who: Principal) -> str:
    assert who.company_id is not None  # verify_token guarantees it for employees
    return who.company_id


def _notes_view(n: NotesRecord) -> r.ParticipantNotes:
    return r.ParticipantNotes(
        n.participant_id,
        n.participant_name,
        n.notes,
        n.rating,
        n.next_step,  # type: ignore[arg-type]  # checked when saved
        n.updated_by,
        n.updated_at,
    )


def _mark_view(m: MarkRecord) -> r.ChatMark:
    return r.ChatMark(m.chat_id, m.participant_no_show, m.marked_by, m.marked_at)


def _feedback_view(f: FeedbackRecord) -> r.Feedback:
    return r.Feedback(f.chat_id, f.score, f.comment, f.created_at)


async def _company_chat(request: web.Request, who: Principal, conn: AsyncConnection) -> ChatRecord:
    """The chat, if the caller is an employee of its company (`check_company_member`)."""
    chat = await get_chat(conn, request.match_info["chat_id"])
    check_company_member(
        who.role,
        who.company_id,
        None if chat is None else chat.company_id,
        "Notes, marks and follow-ups belong to the company of the chat.",
    )
    assert chat is not None
    return chat


@routes.get("/api/v1/events/{event_id}/notes")
async def get_notes(request: web.Request) -> web.Response:
    """My company's notes on participants, and its no-show marks, for one event."""
    who = principal(request, Role.EMPLOYEE)
    async with read_tx(request.app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
        notes = await list_notes(conn, event.id, _company(who))
        marks = await company_marks(conn, event.id, _company(who))
    return json_response(
        r.CompanyNotes(
            event.id,
            _company(who),
            [_notes_view(n) for n in notes],
            [_mark_view(m) for m in marks],
        )
    )


@routes.put("/api/v1/events/{event_id}/notes/{participant_id}")
async def put_notes(request: web.Request) -> web.Response:
    who = principal(request, Role.EMPLOYEE)
    data = await NOTES.read(request)
    async with write_tx(request.app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
        saved = await save_notes(
            conn,
            event_id=event.id,
            company_id=_company(who),
            participant_id=request.match_info["participant_id"],
            notes=data.notes,
            rating=data.rating,
            next_step=data.next_step,
            by=who.user_id,
            now=request.app[CLOCK].now(),
        )
    return json_response(_notes_view(saved))


@routes.put(f"/api/v1/chats/{CHAT_ID}/no-show")
async def put_no_show(request: web.Request) -> web.Response:
    """Mark (or unmark) that the participant did not come, once the slot has passed."""
    who = principal(request)
    data = await NO_SHOW_MARK.read(request)
    now = request.app[CLOCK].now()
    async with write_tx(request.app[ENGINE]) as conn:
        chat = await _company_chat(request, who, conn)
        check_no_show_mark(chat.state, chat.ends_at, now)
        mark = await set_mark(conn, chat.id, data.participant_no_show, who.user_id, now)
    return json_response(_mark_view(mark))


@routes.post(f"/api/v1/chats/{CHAT_ID}/follow-up")
async def post_follow_up(request: web.Request) -> web.Response:
    """Invite the participant of a past chat to another one: an employee-initiated request."""
    who = principal(request)
    data = await FOLLOW_UP.read(request)
    now = request.app[CLOCK].now()
    async with write_tx(request.app[ENGINE]) as conn:
        chat = await _company_chat(request, who, conn)
        check_follow_up(chat.state)
        event = await require_event(conn, chat.event_id)
        await ensure_user(conn, who.as_user())
        invitation = await create_request(
            conn,
            event,
            employee_id=who.user_id,
            participant_id=chat.participant_id,
            initiator=Side.EMPLOYEE,
            message=data.message,
            answer="",
            now=now,
        )
    return json_response(chat_view(invitation, event, who, now), status=201)


@routes.put(f"/api/v1/chats/{CHAT_ID}/feedback")
async def put_feedback(request: web.Request) -> web.Response:
    """The participant's feedback after the call; organizers see it only per company."""
    who = principal(request, Role.PARTICIPANT)
    data = await FEEDBACK.read(request)
    now = request.app[CLOCK].now()
    async with write_tx(request.app[ENGINE]) as conn:
        chat = await require_chat(conn, request.match_info["chat_id"], who.user_id, who.role)
        opens_at = None
        if chat.starts_at is not None and chat.ends_at is not None:
            policy = (await join_terms(conn, chat.event_id)).join_policy
            opens_at = window_times(chat.starts_at, chat.ends_at, policy).opens_at
        comment = check_feedback(chat.state, opens_at, now, data.score, data.comment)
        saved = await save_feedback(conn, chat.id, data.score, comment, now)
    return json_response(_feedback_view(saved))


@routes.get(f"/api/v1/chats/{CHAT_ID}/feedback")
async def get_my_feedback(request: web.Request) -> web.Response:
    who = principal(request, Role.PARTICIPANT)
    async with read_tx(request.app[ENGINE]) as conn:
        chat = await require_chat(conn, request.match_info["chat_id"], who.user_id, who.role)
        found = await get_feedback(conn, chat.id)
    if found is None:
        raise DomainError(ErrorKind.NOT_FOUND, "You have not given feedback on this chat yet.")
    return json_response(_feedback_view(found))


@routes.get("/api/v1/events/{event_id}/feedback")
async def get_feedback_summary(request: web.Request) -> web.Response:
    principal(request, Role.ORGANIZER)
    async with read_tx(request.app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
        summary = await feedback_summary(conn, event.id)
        names = await company_names(conn)
    return json_response(
        r.FeedbackSummary(
            event.id,
            MIN_RESPONSES_FOR_COMMENTS,
            [
                r.CompanyFeedback(
                    s.company_id,
                    names.get(s.company_id, s.company_id),
                    s.responses,
                    s.average,
                    list(s.scores),
                    list(s.comments),
                )
                for s in summary
            ],
        )
    )
