"""What the database's refusals mean: constraint and trigger failures read as domain errors.

Integrity holds in the database (unique keys, foreign keys, triggers in `migrations/`), whatever
the concurrency; the stores check the same rules first for a friendly message, and map what the
database still refuses (a race lost between their read and their write) through this module.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from scheduling.errors import DomainError, ErrorKind

_TRIGGER_MESSAGES: dict[str, tuple[ErrorKind, str]] = {
    "participant_overlap": (
        ErrorKind.OVERLAP,
        "You already have a chat at that time; pick a slot that does not overlap it.",
    ),
    "employee_slot_overlap": (
        ErrorKind.OVERLAP,
        "That slot overlaps one you already offer; pick one duration per day.",
    ),
    "quota_exceeded": (
        ErrorKind.QUOTA,
        "Your company has reached its 1-1 slot quota for this event.",
    ),
    "no_free_slot": (
        ErrorKind.NO_FREE_SLOT,
        "Ensure you have slots available: every free slot is already promised to an approved "
        "request. Add slots before approving more.",
    ),
    "slot_in_use": (
        ErrorKind.NO_FREE_SLOT,
        "That slot cannot be removed: approved requests still need your free slots.",
    ),
    "chats.slot_id": (
        ErrorKind.SLOT_TAKEN,
        "That slot was just taken by someone else; please pick another one.",
    ),
    "uq_chats_open_pair": (
        ErrorKind.DUPLICATE,
        "There is already an open request between you two for this event.",
    ),
    "chats.event_id, chats.employee_id, chats.participant_id": (
        ErrorKind.DUPLICATE,
        "There is already an open request between you two for this event.",
    ),
}


def from_integrity_error(exc: IntegrityError) -> DomainError:
    """Translate a constraint or trigger failure into the domain error it stands for."""
    text = str(exc.orig)
    for needle, (kind, message) in _TRIGGER_MESSAGES.items():
        if needle in text:
            return DomainError(kind, message)
    return DomainError(ErrorKind.WRONG_STATE, "That change conflicts with data saved meanwhile.")
