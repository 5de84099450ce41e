"""Domain errors: a stable `kind` for the edge to map, and a sentence a person understands."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.exc import IntegrityError


class ErrorKind(StrEnum):
    INVALID = "invalid"  # a field is wrong
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"  # not yours / not your role
    WRONG_STATE = "wrong_state"
    SLOT_TAKEN = "slot_taken"
    QUOTA = "quota_reached"
    NO_FREE_SLOT = "no_free_slot"
    OVERLAP = "overlap"
    DUPLICATE = "duplicate"


class DomainError(Exception):
    """Raised by storage and rules; the web layer turns it into problem+json."""

    def __init__(self, kind: ErrorKind, message: str, **extra: object) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.extra = extra


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
