"""After the chat: who may write a company's notes, mark a no-show, invite to a follow-up, and
give feedback, and when.

A company's notes, ratings, next steps and no-show marks are its own: only its employees read
or write them (the chat's employee and colleagues). The participant's feedback is theirs to
give once the chat can be joined; organizers see it only summed up per company
(`store_after_chat.feedback_summary`). Pure, with `now` a parameter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from scheduling.errors import DomainError, ErrorKind
from scheduling.model import ChatState, Role

MAX_NOTES: Final = 5000
MAX_COMMENT: Final = 280
NEXT_STEPS: Final = ("", "follow_up", "interview", "offer", "not_a_fit")
# Below this many answers a company's comments are not shown: too few to stay anonymous.
MIN_RESPONSES_FOR_COMMENTS: Final = 5
# States in which a chat had a slot that may have passed (the Completed tab, or not yet settled).
_HELD = (ChatState.CONFIRMED, ChatState.COMPLETED, ChatState.NO_SHOW)
_COMPLETED_TAB = (ChatState.COMPLETED, ChatState.NO_SHOW)


def check_company_member(
    role: Role, company_id: str | None, chat_company_id: str | None, organizer_refusal: str
) -> None:
    """An employee of the chat's company may go on; an organizer (who sees every chat) is told
    why not (403); anyone else gets the answer a missing chat gets (404)."""
    if chat_company_id is None:
        raise DomainError(ErrorKind.NOT_FOUND, "There is no such chat among yours.")
    if role == Role.ORGANIZER:
        raise DomainError(ErrorKind.FORBIDDEN, organizer_refusal)
    if role != Role.EMPLOYEE or company_id != chat_company_id:
        raise DomainError(ErrorKind.NOT_FOUND, "There is no such chat among yours.")


def check_notes(notes: str, rating: int | None, next_step: str, met: bool) -> str:
    """Cleaned notes; `met`: the company had a chat with this participant at the event."""
    if not met:
        raise DomainError(
            ErrorKind.NOT_FOUND,
            "Your company has no chat with this participant at this event, so there is nothing "
            "to take notes on.",
        )
    notes = notes.strip()
    if len(notes) > MAX_NOTES:
        raise DomainError(
            ErrorKind.INVALID, f"Notes are limited to {MAX_NOTES} characters.", field="notes"
        )
    if rating is not None and not 1 <= rating <= 5:
        raise DomainError(ErrorKind.INVALID, "A rating is 1 to 5 stars.", field="rating")
    if next_step not in NEXT_STEPS:
        raise DomainError(
            ErrorKind.INVALID,
            "The next step is one of " + ", ".join(s or '""' for s in NEXT_STEPS) + ".",
            field="next_step",
        )
    return notes


def check_no_show_mark(state: ChatState, ends_at: datetime | None, now: datetime) -> None:
    """A no-show can be marked once the chat's slot has passed, and only for a chat that had one."""
    if state not in _HELD or ends_at is None:
        raise DomainError(
            ErrorKind.WRONG_STATE,
            "Only a chat that was scheduled can be marked as missed.",
            state=state.value,
        )
    if now < ends_at:
        raise DomainError(
            ErrorKind.WRONG_STATE,
            "A no-show can be marked once the chat's time slot is over.",
            state=state.value,
        )


def check_follow_up(state: ChatState) -> None:
    """A follow-up invitation starts from a chat of the Completed tab."""
    if state not in _COMPLETED_TAB:
        raise DomainError(
            ErrorKind.WRONG_STATE,
            "A follow-up chat can be offered once this chat has taken place (Completed tab).",
            state=state.value,
        )


def check_feedback(
    state: ChatState, opens_at: datetime | None, now: datetime, score: int, comment: str
) -> str:
    """The participant's feedback, once the chat's Join window has opened (`opens_at`: people
    may join, talk and leave a few minutes before the slot starts); returns the sentence."""
    if state not in _HELD or opens_at is None or now < opens_at:
        raise DomainError(
            ErrorKind.WRONG_STATE,
            "Feedback opens once your chat can be joined.",
            state=state.value,
        )
    if not 1 <= score <= 5:
        raise DomainError(ErrorKind.INVALID, "The score is 1 to 5.", field="score")
    comment = comment.strip()
    if len(comment) > MAX_COMMENT:
        raise DomainError(
            ErrorKind.INVALID,
            f"Keep it to one sentence of at most {MAX_COMMENT} characters.",
            field="comment",
        )
    return comment


def shown_comments(comments: list[str]) -> list[str]:
    """The comments an organizer may read for one company: none below the anonymity floor,
    and in alphabetical order, so nothing links a sentence back to a chat."""
    kept = [c for c in comments if c]
    if len(comments) < MIN_RESPONSES_FOR_COMMENTS:
        return []
    return sorted(kept)
