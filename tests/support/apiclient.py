"""A small test client for Duet's REST API: people with tokens, and checked calls.

Every error answer is checked to be problem+json with a readable sentence, so each test that
expects a refusal also checks how the refusal is worded for a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from scheduling.clock import ManualClock
from scheduling.model import Role
from scheduling.store_events import UserRecord
from web.auth import mint_token


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    role: Role
    company: str | None = None
    email: str = ""  # the token's `email` claim, when set

    @property
    def record(self) -> UserRecord:
        return UserRecord(self.id, self.name, self.role, self.company, email=self.email)


ORGANIZER = Person("olivia", "Olivia Organizer", Role.ORGANIZER)
ADA = Person("ada", "Ada Lovelace", Role.EMPLOYEE, "acme")
ALAN = Person("alan", "Alan Turing", Role.EMPLOYEE, "acme")
GRACE = Person("grace", "Grace Hopper", Role.EMPLOYEE, "globex")
SAM = Person("sam", "Sam Student", Role.PARTICIPANT)
PRIYA = Person("priya", "Priya Patel", Role.PARTICIPANT)
MEI = Person("mei", "Mei Chen", Role.PARTICIPANT)


class Api:
    def __init__(self, client: TestClient, secret: str, clock: ManualClock) -> None:
        self.client = client
        self.secret = secret
        self.clock = clock

    def token(self, person: Person) -> str:
        return mint_token(self.secret, person.record, self.clock.now(), timedelta(days=30))

    async def call(
        self,
        person: Person | None,
        method: str,
        path: str,
        json: Any = None,
        expect: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Any:
        hdrs = dict(headers or {})
        if person is not None:
            hdrs["Authorization"] = f"Bearer {self.token(person)}"
        resp = await self.client.request(method, path, json=json, headers=hdrs)
        body = await resp.read()
        assert resp.status == expect, f"{method} {path}: {resp.status} {body[:500]!r}"
        if resp.status >= 400:
            assert resp.content_type == "application/problem+json", resp.content_type
            problem = await resp.json(content_type=None)
            assert problem["status"] == resp.status
            assert problem["detail"].endswith((".", "?", ")")) and len(problem["detail"]) > 10
            return problem
        if resp.content_type == "application/json":
            return await resp.json()
        return body
