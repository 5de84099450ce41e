"""Which failures mean "the database is unavailable, try again" (503 with Retry-After), and the
one sentence an operator gets when it is so at start-up."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError

from scheduling.db import describe_failure, is_unavailable


class _DriverError(Exception):
    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("exc", "unavailable"),
    [
        (ConnectionRefusedError(111, "Connect call failed"), True),
        (TimeoutError(), True),
        (OSError(113, "No route to host"), True),
        (OperationalError("SELECT 1", {}, _DriverError("database is locked")), True),
        (DBAPIError("SELECT 1", {}, _DriverError("terminating connection", "57P01")), True),
        (DBAPIError("UPDATE", {}, _DriverError("deadlock detected", "40P01")), True),
        # Not an outage: a bug or a refused change keeps its own answer.
        (FileNotFoundError(2, "No such file or directory"), False),
        (IntegrityError("INSERT", {}, _DriverError("duplicate key", "23505")), False),
        (ProgrammingError("SELECT", {}, _DriverError("syntax error", "42601")), False),
        (DBAPIError("SELECT", {}, _DriverError("division by zero", "22012")), False),
        (ValueError("bad"), False),
    ],
)
def test_is_unavailable(exc: Exception, unavailable: bool) -> None:
    assert is_unavailable(exc) is unavailable


def test_describe_failure_names_the_server_and_hides_the_password() -> None:
    url = "postgresql+asyncpg://duet:hunter2@db.internal:6543/fair"
    refused = describe_failure(url, ConnectionRefusedError(111, "Connect call failed"))
    assert refused == (
        "Cannot reach the PostgreSQL server at db.internal:6543 (database 'fair'): connection "
        "refused; check that it is running and that database_url names the right host and port."
    )
    login = DBAPIError(
        "connect", {}, _DriverError('password authentication failed for user "duet"', "28P01")
    )
    said = describe_failure(url, login)
    assert said.startswith("The PostgreSQL server at db.internal:6543 refused user 'duet'")
    assert "password" in said and "hunter2" not in said and "hunter2" not in refused
