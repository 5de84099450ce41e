"""What the database's refusals mean: constraint and trigger failures read as domain errors.

Integrity holds in the database (unique keys, foreign keys, triggers and, on PostgreSQL,
exclusion constraints in `migrations/`), whatever the concurrency; the stores check the same
rules first for a friendly message, and map what the database still refuses (a race lost between
their read and their write) through this module, so both backends give the same answer.

SQLite names a rule in its message (the trigger's RAISE text, or "UNIQUE constraint failed:
table.column"); PostgreSQL names it as the error's constraint (a unique index, an exclusion
constraint, or the CONSTRAINT of a trigger's RAISE).
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from scheduling.booking_gap import gap_message
from scheduling.errors import DomainError, ErrorKind

_TRIGGER_MESSAGES: dict[str, tuple[ErrorKind, str]] = {
    "participant_overlap": (
        ErrorKind.OVERLAP,
        "You already have a chat at that time; pick a slot that does not overlap it.",
    ),
    "participant_gap": (ErrorKind.TOO_CLOSE, gap_message()),
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

# PostgreSQL's names for the rules whose SQLite message names columns instead.
_CONSTRAINTS: dict[str, tuple[ErrorKind, str]] = {
    **{name: rule for name, rule in _TRIGGER_MESSAGES.items() if "." not in name},
    "uq_chats_slot_id": _TRIGGER_MESSAGES["chats.slot_id"],
    # The same start twice is an overlap too; PostgreSQL checks this older unique key first.
    "uq_slots_employee_id_starts_at": _TRIGGER_MESSAGES["employee_slot_overlap"],
}


def from_integrity_error(exc: IntegrityError) -> DomainError:
    """Translate a constraint or trigger failure into the domain error it stands for."""
    constraint = _constraint_name(exc)
    if constraint is not None and constraint in _CONSTRAINTS:
        kind, message = _CONSTRAINTS[constraint]
        return DomainError(kind, message)
    text = str(exc.orig)
    for needle, (kind, message) in _TRIGGER_MESSAGES.items():
        if needle in text:
            return DomainError(kind, message)
    return DomainError(ErrorKind.WRONG_STATE, "That change conflicts with data saved meanwhile.")


def _constraint_name(exc: IntegrityError) -> str | None:
    """The constraint PostgreSQL names (asyncpg keeps it on the error SQLAlchemy wraps)."""
    driver_error = getattr(exc.orig, "__cause__", None)
    name = getattr(driver_error, "constraint_name", None)
    return name if isinstance(name, str) else None
