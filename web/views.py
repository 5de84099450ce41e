"""JSON shapes of the API's resources, in one place so the OpenAPI schemas have one twin."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from scheduling.join_window import join_window
from scheduling.model import Profile, SlotRecord
from scheduling.states import allowed_actions, tab_of
from scheduling.store_availability import AvailabilityRecord, Offer
from scheduling.store_chats import ChatRecord, HistoryEntry
from scheduling.store_events import EventRecord, UserRecord
from web.auth import Principal
from web.json_io import iso


def event_json(event: EventRecord, company_names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": event.id,
        "name": event.name,
        "timezone": event.timezone,
        "days": [
            {
                "date": d.day.isoformat(),
                "start": d.start.strftime("%H:%M"),
                "end": d.end.strftime("%H:%M"),
                "durations": list(d.durations),
            }
            for d in event.days
        ],
        "quotas": [
            {"company_id": cid, "company_name": company_names.get(cid, cid), "slot_quota": q}
            for cid, q in sorted(event.quotas.items())
        ],
        "employee_requests_allowed": event.employee_requests_allowed,
        "join_opens_before_s": event.join_policy.opens_before_s,
        "join_grace_after_s": event.join_policy.grace_after_s,
        "support_url": event.support_url,
        "media_mode": event.media_mode,
    }


def profile_json(p: Profile) -> dict[str, Any]:
    return {
        "background": p.background,
        "experience_level": p.experience_level,
        "languages": list(p.languages),
        "topics": list(p.topics),
        "custom_question": p.custom_question,
    }


def slot_json(s: SlotRecord) -> dict[str, Any]:
    return {
        "id": s.id,
        "date": s.day.isoformat(),
        "starts_at": iso(s.starts_at),
        "ends_at": iso(s.ends_at),
        "published": s.published,
        "booked": s.booked,
    }


def availability_json(a: AvailabilityRecord) -> dict[str, Any]:
    return {
        "event_id": a.event_id,
        "employee_id": a.employee_id,
        "status": a.status,
        "pending_changes": a.pending_changes,
        "profile": profile_json(a.profile),
        "days": [
            {"date": d.isoformat(), "duration_min": m} for d, m in sorted(a.durations.items())
        ],
        "slots": [slot_json(s) for s in a.slots],
    }


def offer_json(o: Offer, company_names: dict[str, str]) -> dict[str, Any]:
    return {
        "employee_id": o.employee_id,
        "name": o.name,
        "headline": o.headline,
        "company_id": o.company_id,
        "company_name": company_names.get(o.company_id, o.company_id),
        "profile": profile_json(o.profile),
        "free_slots": o.free_slots,
    }


def user_json(u: UserRecord) -> dict[str, Any]:
    return {
        "id": u.id,
        "name": u.name,
        "role": u.role.value,
        "company_id": u.company_id,
        "headline": u.headline,
    }


def chat_json(
    chat: ChatRecord, event: EventRecord, who: Principal, now: datetime
) -> dict[str, Any]:
    side = chat.side_of(who.user_id)
    window = join_window(chat.view, event.join_policy, now)
    return {
        "id": chat.id,
        "event_id": chat.event_id,
        "company_id": chat.company_id,
        "employee": {"id": chat.employee_id, "name": chat.employee_name},
        "participant": {"id": chat.participant_id, "name": chat.participant_name},
        "initiator": chat.initiator.value,
        "state": chat.state.value,
        "tab": tab_of(chat.state).value,
        "slot": None
        if chat.starts_at is None
        else {"id": chat.slot_id, "starts_at": iso(chat.starts_at), "ends_at": iso(chat.ends_at)},
        "request_message": chat.request_message,
        "answer": chat.answer,
        "decline_message": chat.decline_message,
        "cancel_reason": chat.cancel_reason,
        "no_show_side": chat.no_show_side,
        "actions": []
        if side is None
        else [a.value for a in allowed_actions(chat.state, side, chat.initiator)],
        "join": window.to_dict(now),
        "ics_url": f"/api/v1/chats/{chat.id}.ics" if chat.starts_at is not None else None,
        "created_at": iso(chat.created_at),
        "updated_at": iso(chat.updated_at),
    }


def history_json(h: HistoryEntry) -> dict[str, Any]:
    return {
        "at": iso(h.at),
        "actor_id": h.actor_id,
        "actor_side": h.actor_side,
        "action": h.action,
        "from": h.from_state,
        "to": h.to_state,
        "reason": h.reason,
    }
