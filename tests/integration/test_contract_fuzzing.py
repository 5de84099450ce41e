"""Schemathesis against a real Duet: every REST operation, every check, as each role: 0 failures.

The server is the real app on a free loopback port (real SQLite, the demo event seeded, a
fixed clock); schemathesis sends what the OpenAPI document allows and what it forbids, as an
organizer, an employee and a participant, and checks every answer (status, content type, body
schema, auth enforced, 405 with Allow, invalid data refused, valid data accepted, no 5xx).

A schema cannot state every rule. Where the server refuses a schema-valid request because of
a rule the document states in words on that operation (a day ending before it starts, a date
that is not a day of the event, an SDP without media), the refusal is excused, and only when the
operation's description names the rule and the server's sentence matches it. Anything else
fails the test.

Bounded and repeatable: a fixed seed, derandomized generation, no example database, and
`MAX_EXAMPLES` per operation and phase.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import schemathesis
from aiohttp import web
from schemathesis.engine import events, from_schema
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER

from scheduling.clock import ManualClock
from tests.support.app import TEST_NOW, TEST_SECRET
from web.app import create_app
from web.auth import mint_token
from web.config import Config
from web.demo import DEMO_EVENT_ID, LIVE_CHAT_ID, PEOPLE, seed_or_refresh
from web.keys import ENGINE
from web.openapi import openapi_document

MAX_EXAMPLES = 10
SEED = 20261130
# One person per role; the organizer must name a company to read a quota (a rule by role).
ROLES = {
    "organizer": ("olivia", {"query.company_id": "acme"}),
    "employee": ("ada", {}),
    "participant": ("sam", {}),
}
# The signaling socket is a WebSocket upgrade, not REST (tests/integration/test_ws_bad_input.py and the room tests drive it);
# the live board and a person's events are streams that never end (tests/integration/test_live_board.py drives them).
NOT_FUZZED = ("/api/v1/ws", "/api/v1/events/{event_id}/live", "/api/v1/me/events")


@dataclass(frozen=True)
class DocumentedRefusal:
    """A 422 the server may give a schema-valid request: the rule is in the operation's words."""

    operations: str  # regex over "METHOD /path"
    rule: str  # words the operation's description must contain
    code: str = "invalid"
    detail: str = ""  # regex the server's sentence must match


REFUSALS = (
    DocumentedRefusal(
        r"(POST|PUT) /api/v1/events(/\{event_id\})?",
        "every day ends after it starts",
        detail=r"the end time must be after the start time|is listed twice",
    ),
    DocumentedRefusal(
        r"GET /api/v1/events/\{event_id\}/(grid|offers)"
        r"|PUT /api/v1/events/\{event_id\}/availability",
        "is one of its days",
        detail=r"is not a day of this event|are not offered on|is not a \d+-minute slot of"
        r"|A slot in the past cannot be offered|must be one of the event's days",
    ),
    DocumentedRefusal(
        r"POST /api/v1/chats/\{chat_id\}/(book|reschedule)",
        "free, published, future slot of the chat's employee",
        detail=r"not one of this employee's slots|not offered yet|already started"
        r"|already the chat's slot",
    ),
    DocumentedRefusal(
        r"POST /api/v1/events/\{event_id\}/availability/confirm",
        "with nothing chosen yet the answer is 422",
        detail=r"Choose at least one slot",
    ),
    DocumentedRefusal(r"POST /api/v1/precall", "422 bad_offer", code="bad_offer"),
    DocumentedRefusal(
        r"(POST|PUT) /api/v1/events/\{event_id\}/webhooks",
        "are refused (422 url_refused)",
        code="url_refused",
    ),
    DocumentedRefusal(
        r"PUT /api/v1/me/resume",
        "judged by its content",
        code="not_pdf",
        detail=r"not a PDF|cannot be read as one|is empty",
    ),
)


def description(operation: str) -> str:
    method, path = operation.split(" ", 1)
    return str(openapi_document()["paths"][path][method.lower()].get("description", ""))


def excused_by(operation: str, answer: dict[str, Any]) -> DocumentedRefusal | None:
    for refusal in REFUSALS:
        if (
            re.fullmatch(refusal.operations, operation)
            and answer.get("code") == refusal.code
            and re.search(refusal.detail, str(answer.get("detail", "")))
            and refusal.rule in description(operation)
        ):
            return refusal
    return None


@dataclass
class Run:
    role: str
    operations: set[str] = field(default_factory=set)
    cases: int = 0
    failures: list[str] = field(default_factory=list)
    excused: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


def fuzz(base_url: str, role: str, token: str, parameters: dict[str, str]) -> Run:
    """One role's schemathesis run (blocking: it runs in a thread, the server in the loop)."""
    run = Run(role)
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            # Generation speed on a loaded 2-core machine is not what this test is about.
            "suppress-health-check": ["too_slow"],
            "base-url": base_url,
            "auth": {"openapi": {"bearer": {"bearer": token}}},
            "parameters": {"event_id": DEMO_EVENT_ID, "chat_id": LIVE_CHAT_ID} | parameters,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "checks": {"enabled": True},
            "cache": {"enabled": False},
            "operations": [{"include-path": path, "enabled": False} for path in NOT_FUZZED],
        }
    )
    schema = schemathesis.openapi.from_dict(openapi_document(), config=config)

    def filter_failure(_ctx: Any, failure: Any, case: Any, response: Any) -> bool:
        """Keep every failure but a documented refusal of schema-valid data."""
        if failure.title != "Schema-valid request rejected" or response.status_code != 422:
            return True
        refusal = excused_by(failure.operation, orjson.loads(response.content))
        if refusal is None:
            return True
        run.excused[f"{failure.operation}: {refusal.rule}"] += 1
        return False

    schema.hook(filter_failure)
    started = time.monotonic()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            run.cases += len(event.recorder.cases)
            run.operations.add(event.recorder.label)
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.failure_info is not None:
                        case = event.recorder.cases[case_id].value
                        run.failures.append(
                            f"[{role}] {check.failure_info.failure.operation}: "
                            f"{check.failure_info.failure.title}\n  {case.as_curl_command()}\n  "
                            + str(check.failure_info.failure.message).replace("\n", " / ")[:400]
                        )
        elif isinstance(event, events.NonFatalError):
            run.failures.append(f"[{role}] {event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            run.failures.append(f"[{role}] schemathesis stopped: {event.exception!r}")
    run.seconds = time.monotonic() - started
    return run


@contextmanager
def fresh_idempotency_keys() -> Iterator[None]:
    """Each generated request is a new request, so it carries a key of its own.

    Reusing a key for a different request is refused by design (422 idempotency_key_reused,
    as in the IETF Idempotency-Key draft); schemathesis draws "0" again and again, so without
    this almost every unsafe request would stop at that refusal and never reach its handler.
    A valid key stays valid: a counter is prefixed and the length kept within 200.
    """
    counter = itertools.count()

    def before_call(_ctx: Any, case: Any, _kwargs: dict[str, Any]) -> None:
        key = (case.headers or {}).get("Idempotency-Key")
        if isinstance(key, str) and 1 <= len(key) <= 200:
            case.headers["Idempotency-Key"] = f"{next(counter)}-{key}"[:200]

    GLOBAL_HOOK_DISPATCHER.register_hook_with_name(before_call, "before_call")
    try:
        yield
    finally:
        GLOBAL_HOOK_DISPATCHER.unregister(before_call)


@asynccontextmanager
async def serving(tmp_path: Path, clock: ManualClock) -> AsyncIterator[str]:
    """The real app on a free 127.0.0.1 port with the demo event seeded."""
    config = Config(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/duet.sqlite3",
        jwt_secret=TEST_SECRET,
        dev_login=True,
    )
    app = create_app(config, clock=clock)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        await seed_or_refresh(app[ENGINE], clock.now())
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@pytest.mark.timeout(600)
async def test_schemathesis_finds_nothing_as_any_role(tmp_path: Path) -> None:
    clock = ManualClock(TEST_NOW)
    people = {p.id: p for p in PEOPLE}
    runs: list[Run] = []
    async with serving(tmp_path, clock) as base_url:
        with fresh_idempotency_keys():
            for role, (person, parameters) in ROLES.items():
                token = mint_token(TEST_SECRET, people[person], clock.now(), timedelta(days=1))
                runs.append(await asyncio.to_thread(fuzz, base_url, role, token, parameters))
    for run in runs:
        print(
            f"schemathesis {run.role}: {len(run.operations)} operations, {run.cases} cases, "
            f"{len(run.failures)} failures, {sum(run.excused.values())} documented refusals, "
            f"{run.seconds:.0f} s"
        )
        for rule, count in sorted(run.excused.items()):
            print(f"  excused {count}x {rule}")
    failures = [f for run in runs for f in run.failures]
    assert not failures, "\n".join(failures[:20])
    described = {
        f"{method.upper()} {path}"
        for path, ops in openapi_document()["paths"].items()
        for method in ops
        if path not in NOT_FUZZED
    }
    for run in runs:  # every operation was exercised, as every role
        assert described <= run.operations, described - run.operations
        assert run.cases > 10 * len(described)


def test_an_excuse_needs_the_rule_in_the_document_and_a_matching_sentence() -> None:
    """The excuses are not a blanket: a 422 for a field's shape is never excused."""
    end = {"code": "invalid", "detail": "On 2026-12-01 the end time must be after the start time."}
    assert excused_by("POST /api/v1/events", end) is not None
    assert excused_by("POST /api/v1/chats/{chat_id}/book", end) is None
    shape = {"code": "invalid", "detail": "'days[0].start' must be a time like 09:30."}
    assert excused_by("POST /api/v1/events", shape) is None
    assert excused_by("POST /api/v1/precall", {"code": "invalid", "detail": "x"}) is None
    for refusal in REFUSALS:  # each rule is written where the operation is described
        assert any(
            refusal.rule in str(op.get("description", ""))
            for ops in openapi_document()["paths"].values()
            for op in ops.values()
        ), refusal
