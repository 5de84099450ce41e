"""Domain records as the API's resources (`web/resources.py`), built in one place.

Building a struct (not a dict) means an answer cannot miss or misname a field of its OpenAPI
component, and msgspec encodes it faster than a dict.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime

from scheduling.join_window import JoinWindow as Window
from scheduling.join_window import join_window
from scheduling.model import Profile, Role, SlotRecord
from scheduling.resume_rules import resume_shared
from scheduling.states import allowed_actions, tab_of
from scheduling.store_availability import AvailabilityRecord, Offer
from scheduling.store_chats import ChatRecord, HistoryEntry
from scheduling.store_events import EventRecord, JoinTerms, UserRecord
from web import request_bodies as rb
from web import resources as r
from web.auth import Principal


def event_view(event: EventRecord, company_names: dict[str, str]) -> r.Event:
    return r.Event(
        id=event.id,
        name=event.name,
        timezone=event.timezone,  # type: ignore[arg-type]  # validated when saved
        days=[
            rb.EventDay(
                d.day,
                d.start.strftime("%H:%M"),
                d.end.strftime("%H:%M"),
                list(d.durations),  # type: ignore[arg-type]  # validated when saved
            )
            for d in event.days
        ],
        quotas=[
            r.Quota(cid, company_names.get(cid, cid), q) for cid, q in sorted(event.quotas.items())
        ],
        employee_requests_allowed=event.employee_requests_allowed,
        join_opens_before_s=event.join_policy.opens_before_s,
        join_grace_after_s=event.join_policy.grace_after_s,
        support_url=event.support_url,
        media_mode=event.media_mode,
        min_gap_min=event.min_gap_min,
    )


def profile_view(p: Profile) -> rb.Profile:
    return rb.Profile(
        p.background, p.experience_level, list(p.languages), list(p.topics), p.custom_question
    )


def slot_view(s: SlotRecord) -> r.Slot:
    return r.Slot(s.id, s.day, s.starts_at, s.ends_at, s.published, s.booked)


def free_slot_view(slot_id: int, day: date, starts_at: datetime, ends_at: datetime) -> r.Slot:
    """A row of `store_availability.free_slot_rows`: published and not booked, by definition."""
    return r.Slot(slot_id, day, starts_at, ends_at, True, False)


def availability_view(a: AvailabilityRecord, figure: dict[str, int]) -> r.Availability:
    return r.Availability(
        event_id=a.event_id,
        employee_id=a.employee_id,
        status=a.status,  # type: ignore[arg-type]
        pending_changes=a.pending_changes,
        profile=profile_view(a.profile),
        days=[r.DayDuration(d, m) for d, m in sorted(a.durations.items())],
        slots=[slot_view(s) for s in a.slots],
        company_slots=r.SlotsFigure(**figure),
    )


def offer_view(o: Offer, company_names: dict[str, str]) -> r.Offer:
    return r.Offer(
        o.employee_id,
        o.name,
        o.headline,
        o.company_id,
        company_names.get(o.company_id, o.company_id),
        profile_view(o.profile),
        o.free_slots,
        list(o.free_days),
    )


def user_view(u: UserRecord) -> r.User:
    return r.User(u.id, u.name, u.role, u.company_id, u.headline)


def window_view(window: Window, now: datetime) -> r.JoinWindow:
    return r.JoinWindow(
        window.is_open,
        window.opens_at,
        window.closes_at,
        now,
        None if window.reason is None else window.reason.value,
        window.message,
    )


def chat_view(
    chat: ChatRecord,
    event: EventRecord | JoinTerms,
    who: Principal,
    now: datetime,
    resume_holders: Collection[str] = (),
) -> r.Chat:
    """`event`: only its join policy is used (a write reads `join_terms`, one row, not the
    whole event). `resume_holders`: participants with a résumé, read for an employee caller."""
    side = chat.side_of(who.user_id)
    shared = (
        who.role == Role.EMPLOYEE
        and who.company_id == chat.company_id
        and chat.participant_id in resume_holders
        and resume_shared(chat.initiator, chat.state)
    )
    return r.Chat(
        id=chat.id,
        event_id=chat.event_id,
        company_id=chat.company_id,
        employee=r.Person(chat.employee_id, chat.employee_name),
        participant=r.Person(chat.participant_id, chat.participant_name),
        initiator=chat.initiator.value,  # type: ignore[arg-type]
        state=chat.state,
        tab=tab_of(chat.state),
        slot=None
        if chat.starts_at is None or chat.ends_at is None
        else r.ChatSlot(chat.slot_id, chat.starts_at, chat.ends_at),
        request_message=chat.request_message,
        answer=chat.answer,
        decline_message=chat.decline_message,
        cancel_reason=chat.cancel_reason,
        no_show_side=chat.no_show_side,
        actions=[] if side is None else allowed_actions(chat.state, side, chat.initiator),
        join=window_view(join_window(chat.view, event.join_policy, now), now),
        ics_url=f"/api/v1/chats/{chat.id}.ics" if chat.starts_at is not None else None,
        created_at=chat.created_at,
        updated_at=chat.updated_at,
        resume_url=f"/api/v1/chats/{chat.id}/resume.pdf" if shared else None,
    )


def history_view(h: HistoryEntry) -> r.HistoryItem:
    return r.HistoryItem(
        h.at, h.actor_id, h.actor_side, h.action, h.from_state, h.to_state, h.reason
    )
