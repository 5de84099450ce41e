"""What a request must name, by the caller's role: the rules a request's schema cannot state.

A schema describes a body whoever sends it; these rules depend on who sends it, so they live
here and the OpenAPI document states them in words on the operations that use them.
"""

from __future__ import annotations

from scheduling.errors import DomainError, ErrorKind
from scheduling.model import Role, Side


def chat_parties(
    role: Role, user_id: str, employee_id: str | None, participant_id: str | None
) -> tuple[str, str, Side]:
    """(employee, participant, initiator) of a new chat request made by `user_id`.

    A participant requests a chat with an employee; an employee invites a participant. Naming
    the other kind of person is a request the caller's role may not make.
    """
    if role == Role.PARTICIPANT:
        if employee_id is None:
            raise DomainError(
                ErrorKind.FORBIDDEN,
                "Only an employee can invite a participant; as a participant, name the "
                "employee you would like to talk to (employee_id).",
            )
        return employee_id, user_id, Side.PARTICIPANT
    if role == Role.EMPLOYEE:
        if participant_id is None:
            raise DomainError(
                ErrorKind.FORBIDDEN,
                "Only a participant can request a chat with an employee; as an employee, name "
                "the participant you invite (participant_id).",
            )
        return user_id, participant_id, Side.EMPLOYEE
    raise DomainError(ErrorKind.FORBIDDEN, "Only a participant or an employee can start a chat.")


def quota_company(role: Role, own_company: str | None, named: str | None) -> str:
    """Whose slot figure a caller reads: an employee their own company's, an organizer the named one."""
    if role == Role.EMPLOYEE and own_company:
        return own_company
    if role == Role.ORGANIZER:
        if not named:
            raise DomainError(
                ErrorKind.INVALID, "Name the company with ?company_id=.", field="company_id"
            )
        return named
    raise DomainError(ErrorKind.FORBIDDEN, "Only an employee or an organizer can read a quota.")
