"""`duet serve` nodes as real processes, for the tests that need several (Redis, HAProxy,
failover): started on free loopback ports, polled until `/readyz`, stopped by their PID."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from tests.support.apiclient import ADA, ORGANIZER, SAM, Person
from tests.support.app import REPO_ROOT
from tests.support.services import free_port
from web.auth import mint_token

ROOT = REPO_ROOT


@dataclass
class DuetNode:
    """A `duet serve` process we started; stopped by its PID."""

    node_id: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout)


def launch_node(
    node_id: str,
    workdir: Path,
    secret: str,
    database_url: str,
    *,
    redis_port: int | None = None,
    port: int | None = None,
    env: dict[str, str] | None = None,
) -> DuetNode:
    """Start `duet serve` as its own process (its own session: our signals reach only it)."""
    port = port or free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DUET_")}
    if redis_port is not None:
        environment |= {
            "DUET_BROKER": "redis",
            "DUET_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        }
    environment |= {
        "DUET_NODE_ID": node_id,
        "DUET_HOST": "127.0.0.1",
        "DUET_PORT": str(port),
        "DUET_DATABASE_URL": database_url,
        "DUET_JWT_SECRET": secret,
        "DUET_SECRET_FILE": str(workdir / "jwt_secret"),
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    log = workdir / f"{node_id}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "web.cli", "serve"],
            cwd=ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # our signals reach only this process
        )
    return DuetNode(node_id, port, process, log)


async def migrate_database(database_url: str, workdir: Path, within: float = 60.0) -> None:
    """`duet migrate` once, before any node starts: what docs/deploy.md asks of operators, and
    what lets several nodes then start at the same time (each `serve` finds nothing to do)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DUET_")}
    environment |= {
        "DUET_DATABASE_URL": database_url,
        "DUET_SECRET_FILE": str(workdir / "jwt_secret"),
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "web.cli", "migrate"],
        cwd=ROOT,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=within,
        check=False,
    )
    assert done.returncode == 0, (
        f"duet migrate failed:\n{done.stdout.decode()}{done.stderr.decode()}"
    )


async def poll(
    check: Callable[[], Awaitable[bool]], within: float, what: str, every: float = 0.05
) -> None:
    """Bounded polling of a condition another process controls (no event to wait on)."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{what}: not true after {within}s")
        await asyncio.sleep(every)  # poll interval, bounded by the deadline


async def wait_ready(session: aiohttp.ClientSession, node: DuetNode) -> None:
    async def ready() -> bool:
        assert node.process.poll() is None, f"{node.node_id} exited:\n{node.output()}"
        try:
            async with session.get(f"{node.url}/readyz") as resp:
                return resp.status == 200
        except aiohttp.ClientConnectionError:
            return False

    await poll(ready, 30.0, f"{node.node_id} /readyz")


DURATION_MIN = 10


class Rest:
    """The REST API of one node, with tokens minted at the real current time."""

    def __init__(self, session: aiohttp.ClientSession, node: DuetNode, secret: str) -> None:
        self.session = session
        self.node = node
        self.secret = secret

    async def call(
        self, person: Person, method: str, path: str, json: Any = None, expect: int = 200
    ) -> Any:
        token = mint_token(self.secret, person.record, datetime.now(UTC), timedelta(hours=1))
        async with self.session.request(
            method, self.node.url + path, json=json, headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            body = await resp.read()
            assert resp.status == expect, f"{method} {path}: {resp.status} {body[:500]!r}"
            return await resp.json(content_type=None) if body else None


async def book_chat_now(api: Rest) -> tuple[str, datetime]:
    """A confirmed 10-minute chat starting within 5 minutes, so its join window is open now.

    The event's day starts at the next whole minute after now (+1 minute of margin for the
    booking calls), in UTC; if the slots would cross midnight UTC the day is described in
    UTC-12, where it is still the same calendar day.
    """
    now = datetime.now(UTC)
    start = now.replace(second=0, microsecond=0) + timedelta(minutes=2)
    end = start + timedelta(minutes=3 * DURATION_MIN)
    zone = ZoneInfo("UTC") if end.date() == start.date() else ZoneInfo("Etc/GMT+12")
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    day = local_start.date().isoformat()
    event = await api.call(
        ORGANIZER,
        "POST",
        "/api/v1/events",
        {
            "name": "Multinode Fair",
            "timezone": zone.key,
            "days": [
                {
                    "date": day,
                    "start": local_start.strftime("%H:%M"),
                    "end": local_end.strftime("%H:%M"),
                    "durations": [DURATION_MIN],
                }
            ],
            "quotas": [{"company_id": ADA.company, "slot_quota": 10}],
        },
        expect=201,
    )
    event_id = event["id"]
    grid = await api.call(
        ADA, "GET", f"/api/v1/events/{event_id}/grid?date={day}&duration_min={DURATION_MIN}"
    )
    now = datetime.now(UTC)
    slot_start = next(
        s["starts_at"]
        for s in grid["slots"]
        if now < instant(s["starts_at"]) <= now + timedelta(minutes=5)
    )
    await api.call(
        ADA,
        "PUT",
        f"/api/v1/events/{event_id}/availability",
        {"days": [{"date": day, "duration_min": DURATION_MIN, "slots": [slot_start]}]},
    )
    await api.call(ADA, "POST", f"/api/v1/events/{event_id}/availability/confirm")
    chat = await api.call(
        SAM, "POST", f"/api/v1/events/{event_id}/chats", {"employee_id": ADA.id}, expect=201
    )
    await api.call(ADA, "POST", f"/api/v1/chats/{chat['id']}/approve")
    free = await api.call(SAM, "GET", f"/api/v1/events/{event_id}/employees/{ADA.id}/slots")
    slot = next(s for s in free["slots"] if s["starts_at"] == slot_start)
    booked = await api.call(
        SAM, "POST", f"/api/v1/chats/{chat['id']}/book", {"slot_id": slot["id"]}
    )
    assert booked["state"] == "confirmed", booked
    return chat["id"], instant(slot_start)


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
