"""Domain errors: a stable `kind` for the edge to map, and a sentence a person understands.

Pure like the rules that raise them; what a database refusal means is `store_integrity.py`.
"""

from __future__ import annotations

from enum import StrEnum


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
    TOO_CLOSE = "too_close"  # a booking within the event's minimum gap of another chat
    TOO_LARGE = "too_large"
    NOT_PDF = "not_pdf"  # an upload that is not a readable PDF, whatever its name


class DomainError(Exception):
    """Raised by storage and rules; the web layer turns it into problem+json."""

    def __init__(self, kind: ErrorKind, message: str, **extra: object) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.extra = extra
