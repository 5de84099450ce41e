"""REST API benchmark: slot listing, offers and the booking flow of a large fair, over real HTTP.

    .venv/bin/python bench/bench_api.py --quick     # smoke run, under 30 s
    .venv/bin/python bench/bench_api.py             # full run (two to four minutes)

What one run does, all on 127.0.0.1, the server stopped by its PID at the end:

1. bulk-inserts (SQLAlchemy Core, after the Alembic migrations) one event of 300 companies x 3
   employees x 3 days into a temporary SQLite file: every employee published 30-minute slots from
   09:00 to 17:00 UTC on each day (48 slots each, 43,200 in all), as "Confirm Availability" would;
2. starts `duet serve` in its own process (``DUET_*`` variables, a free loopback port; pinned to
   core 0 with ``taskset`` when there are two cores, this process then runs on core 1);
3. at each concurrency level, measures with aiohttp: GET /healthz (the baseline: the cheapest
   route, so ``x healthz`` is a ratio that survives a noisy machine), an employee's free slots,
   the offers list (all 900 employees), and the booking flow: participants request chats
   (POST .../chats), employees approve them, participants book a slot; each step is timed on its
   own, and ``book`` is the call that races for the slot under the write lock.

Requests are bounded by count and by a time cap per phase; every answer other than the expected
status is counted in ``err`` (and any 5xx makes the exit status 1).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scheduling.db import make_engine, migrate, write_tx  # noqa: E402
from scheduling.model import Role  # noqa: E402
from scheduling.schema import (  # noqa: E402
    availabilities,
    availability_days,
    chats,
    companies,
    event_companies,
    event_days,
    events,
    slots,
    users,
)
from scheduling.store_events import UserRecord  # noqa: E402
from web.auth import mint_token  # noqa: E402

LOOPBACK = "127.0.0.1"
SECRET = "bench-secret-not-for-production-0123456789abcdef"
EVENT_ID = "apibench"
COMPANIES = 300
EMPLOYEES_PER_COMPANY = 3
DAYS = 3
SLOT_MIN = 30
DAY_START, DAY_END = dtime(9, 0), dtime(17, 0)
SLOTS_PER_DAY = (DAY_END.hour - DAY_START.hour) * 60 // SLOT_MIN
BATCH = 2000


@dataclass(frozen=True)
class Plan:
    levels: tuple[int, ...]
    reads: int  # healthz and slot listings per level
    offers: int  # the offers list is ~1,000x heavier: fewer of them
    flows: int  # request -> approve -> book per level
    phase_seconds: float


FULL = Plan(levels=(1, 16, 64), reads=1000, offers=100, flows=300, phase_seconds=15.0)
QUICK = Plan(levels=(1, 16, 64), reads=150, offers=10, flows=48, phase_seconds=2.0)


# --- seeding ---------------------------------------------------------------------------------------


def company_of(employee_id: str) -> str:
    """Employees are e<company>-<k>: e042-1 works for co042."""
    return "co" + employee_id[1:].split("-")[0]


def _batches(rows: list[dict[str, object]]) -> Iterator[list[dict[str, object]]]:
    for i in range(0, len(rows), BATCH):
        yield rows[i : i + BATCH]


def live_chat_id(n: int) -> str:
    return f"{0xA91 << 116 | n:032x}"


async def seed(database_url: str, first_day: datetime) -> dict[str, list[int]]:
    """The event, companies, employees, published slots; returns each employee's slot ids.

    Each employee also has one confirmed chat in a slot running now (with participant
    g<employee>, chat `live_chat_id(k)`), for the join grant."""
    now = datetime.now(UTC)
    employees = [
        (f"e{c:03d}-{k}", f"co{c:03d}")
        for c in range(COMPANIES)
        for k in range(EMPLOYEES_PER_COMPANY)
    ]
    days = [first_day.date() + timedelta(days=d) for d in range(DAYS)]
    engine = make_engine(database_url)
    try:
        await migrate(engine)
        async with write_tx(engine) as conn:
            await conn.execute(
                companies.insert(),
                [{"id": f"co{c:03d}", "name": f"Company {c}"} for c in range(COMPANIES)],
            )
            people = [{"id": "organizer", "name": "Org", "role": "organizer", "company_id": None}]
            people += [
                {"id": e, "name": f"Employee {e}", "role": "employee", "company_id": co}
                for e, co in employees
            ]
            await conn.execute(users.insert(), people)
            await conn.execute(
                events.insert().values(
                    id=EVENT_ID,
                    name="API benchmark fair",
                    timezone="UTC",
                    created_by="organizer",
                    created_at=now,
                )
            )
            await conn.execute(
                event_days.insert(),
                [
                    {
                        "event_id": EVENT_ID,
                        "day": d,
                        "start_time": DAY_START,
                        "end_time": DAY_END,
                        "durations": str(SLOT_MIN),
                    }
                    for d in days
                ],
            )
            quota = EMPLOYEES_PER_COMPANY * (DAYS * SLOTS_PER_DAY + 1)  # + the live chat's slot
            await conn.execute(
                event_companies.insert(),
                [
                    {"event_id": EVENT_ID, "company_id": f"co{c:03d}", "slot_quota": quota}
                    for c in range(COMPANIES)
                ],
            )
            await conn.execute(
                availabilities.insert(),
                [
                    {
                        "event_id": EVENT_ID,
                        "employee_id": e,
                        "company_id": co,
                        "status": "published",
                        "background": "Benchmarks",
                        "topics": '["careers"]',
                        "published_at": now,
                        "updated_at": now,
                    }
                    for e, co in employees
                ],
            )
            await conn.execute(
                availability_days.insert(),
                [
                    {"event_id": EVENT_ID, "employee_id": e, "day": d, "duration_min": SLOT_MIN}
                    for e, _ in employees
                    for d in days
                ],
            )
            rows: list[dict[str, object]] = []
            slot_id = 0
            ids: dict[str, list[int]] = {}
            for e, co in employees:
                for d in days:
                    start = datetime.combine(d, DAY_START, UTC)
                    for i in range(SLOTS_PER_DAY):
                        slot_id += 1
                        ids.setdefault(e, []).append(slot_id)
                        rows.append(
                            {
                                "id": slot_id,
                                "event_id": EVENT_ID,
                                "employee_id": e,
                                "company_id": co,
                                "day": d,
                                "starts_at": start + timedelta(minutes=SLOT_MIN * i),
                                "ends_at": start + timedelta(minutes=SLOT_MIN * (i + 1)),
                                "published": True,
                            }
                        )
            for n, batch in enumerate(_batches(rows)):
                await conn.execute(slots.insert(), batch)
                if n == 0 and conn.dialect.name == "postgresql":
                    # The quota trigger's count is planned once per session: planned on an empty
                    # table it scans the whole table for every row (155 s for 43,200 slots).
                    # Statistics after the first batch invalidate that plan: it uses the index.
                    await conn.exec_driver_sql("ANALYZE slots")
            # The live chats of the join grant: a slot from a minute ago for an hour.
            live_start = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
            live_end = live_start + timedelta(hours=1)
            await conn.execute(
                users.insert(),
                [
                    {"id": f"g{k}", "name": f"Guest {k}", "role": "participant", "company_id": None}
                    for k in range(len(employees))
                ],
            )
            live_slots = [
                {
                    "id": slot_id + 1 + k,
                    "event_id": EVENT_ID,
                    "employee_id": e,
                    "company_id": co,
                    "day": live_start.date(),
                    "starts_at": live_start,
                    "ends_at": live_end,
                    "published": True,
                }
                for k, (e, co) in enumerate(employees)
            ]
            for batch in _batches(live_slots):
                await conn.execute(slots.insert(), batch)
            live = [
                {
                    "id": live_chat_id(k),
                    "event_id": EVENT_ID,
                    "company_id": co,
                    "employee_id": e,
                    "participant_id": f"g{k}",
                    "initiator": "participant",
                    "state": "confirmed",
                    "slot_id": slot_id + 1 + k,
                    "starts_at": live_start,
                    "ends_at": live_end,
                    "created_at": now,
                    "updated_at": now,
                }
                for k, (e, co) in enumerate(employees)
            ]
            for batch in _batches(live):
                await conn.execute(chats.insert(), batch)
    finally:
        await engine.dispose()
    return ids


# --- the server process ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def pin_cpus() -> tuple[list[str], bool]:
    """Server on core 0, this process on core 1, when there are two cores and taskset."""
    if (os.cpu_count() or 1) < 2 or shutil.which("taskset") is None:
        return [], False
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, {1})
        return ["taskset", "-c", "0"], True
    return [], False


def start_server(
    database_url: str,
    port: int,
    workdir: Path,
    prefix: list[str],
    name: str = "server",
    more: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    # This checkout's code, whichever checkout the virtualenv's `duet` script was installed from.
    argv = [sys.executable, "-m", "web.cli", "serve"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUET_")}
    env["PYTHONPATH"] = str(ROOT)
    env |= (more or {}) | {
        "DUET_DATABASE_URL": database_url,
        "DUET_JWT_SECRET": SECRET,
        "DUET_HOST": LOOPBACK,
        "DUET_PORT": str(port),
        "DUET_LOG_LEVEL": "WARNING",
        "DUET_SECRET_FILE": str(workdir / "jwt_secret"),
    }
    log = (workdir / f"{name}.log").open("wb")
    return subprocess.Popen(
        [*prefix, *argv], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT
    )


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # aiohttp's run_app shuts down cleanly on SIGINT
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


async def wait_ready(client: Client, proc: subprocess.Popen[bytes]) -> None:
    """Poll /readyz (migrations run at start) until the server answers, or it exited."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"duet serve exited with {proc.returncode}; see server.log")
        with contextlib.suppress(aiohttp.ClientError):
            if await client.get("/readyz") == 200:
                return
        await asyncio.sleep(0.1)
    raise RuntimeError("duet serve did not become ready within 60 s")


# --- measuring -------------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    concurrency: int
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    server_errors: int = 0
    wall: float = 0.0

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        if len(self.latencies) == 1:
            return self.latencies[0] * 1000
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(q) - 1] * 1000


Call = Callable[[int], Awaitable[int]]  # request number -> HTTP status


async def measure(
    name: str, concurrency: int, count: int, call: Call, expect: int, seconds: float
) -> Result:
    """`count` calls by `concurrency` workers, stopping early after `seconds`."""
    result = Result(name, concurrency)
    numbers = iter(range(count))
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        for n in numbers:
            if time.perf_counter() > deadline:
                return
            t0 = time.perf_counter()
            status = await call(n)
            result.latencies.append(time.perf_counter() - t0)
            if status != expect:
                result.errors += 1
                result.server_errors += status >= 500

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.wall = time.perf_counter() - t0
    return result


@dataclass
class Flow:
    """One booking flow: a new participant, an employee, the slot to book, the chat once made."""

    participant_token: str
    employee: str
    slot_id: int
    chat_id: str = ""


class Client:
    """The bench's HTTP side: one aiohttp session to the server under test, on loopback only."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def get(self, path: str, token: str | None = None) -> int:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        async with self.session.get(self.base + path, headers=headers) as resp:
            await resp.read()
            return resp.status

    async def post_status(self, path: str, token: str) -> int:
        async with self.session.post(
            self.base + path, headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            await resp.read()
            return resp.status

    async def post(self, path: str, token: str, body: object = None) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {token}"}
        async with self.session.post(self.base + path, json=body, headers=headers) as resp:
            data = await resp.json(content_type=None)
            return resp.status, data


async def booking(
    client: Client, flows: list[Flow], tokens: dict[str, str], level: int, secs: float
) -> list[Result]:
    """request -> approve -> book, each step timed on its own, for the chats that got that far."""
    ev = f"/api/v1/events/{EVENT_ID}"

    async def request(n: int) -> int:
        f = flows[n]
        status, data = await client.post(
            f"{ev}/chats", f.participant_token, {"employee_id": f.employee}
        )
        f.chat_id = str(data.get("id", ""))
        return status

    async def approve(n: int) -> int:
        f = made[n]
        status, _ = await client.post(f"/api/v1/chats/{f.chat_id}/approve", tokens[f.employee])
        return status

    async def book(n: int) -> int:
        f = made[n]
        body = {"slot_id": f.slot_id}
        status, _ = await client.post(f"/api/v1/chats/{f.chat_id}/book", f.participant_token, body)
        return status

    results = [await measure("POST request", level, len(flows), request, 201, secs)]
    made = [f for f in flows if f.chat_id]
    results.append(await measure("POST approve", level, len(made), approve, 200, secs))
    results.append(await measure("POST book", level, len(made), book, 200, secs))
    return results


async def run(plan: Plan, keep: bool, pg2: bool = False) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="duet-apibench-"))
    now = datetime.now(UTC)
    prefix, pinned = pin_cpus()
    helpers: list[Any] = []  # services to stop at the end (PostgreSQL, Redis, HAProxy)
    procs: list[subprocess.Popen[bytes]] = []
    ssl_context: Any = None
    try:
        if pg2:
            from tests.support.services import postgres_url, psql, start_postgres, start_redis

            pg = start_postgres()
            helpers.append(pg)
            psql(pg, "CREATE DATABASE apibench")
            database_url = postgres_url(pg, "apibench")
        else:
            database_url = f"sqlite+aiosqlite:///{workdir / 'bench.sqlite3'}"
        t0 = time.perf_counter()
        slot_ids = await seed(database_url, now + timedelta(days=1))
        seeded_in = time.perf_counter() - t0
        if pg2:
            redis = start_redis(workdir)
            helpers.append(redis)
            more = {"DUET_BROKER": "redis", "DUET_REDIS_URL": f"redis://{LOOPBACK}:{redis.port}/0"}
            ports = [free_port(), free_port()]
            for name, port in zip(("duet-a", "duet-b"), ports, strict=True):
                env = more | {"DUET_NODE_ID": name}
                procs.append(start_server(database_url, port, workdir, prefix, name, env))
            for proc, port in zip(procs, ports, strict=True):
                await wait_ready_at(f"http://{LOOPBACK}:{port}", proc)
            from tests.support.haproxy import start_haproxy

            proxy = start_haproxy(workdir, list(zip(("duet-a", "duet-b"), ports, strict=True)))
            helpers.append(proxy)
            base, ssl_context = proxy.url, proxy.ssl_context()
            where = "two nodes on PostgreSQL + Redis, through HAProxy (TLS)"
        else:
            port = free_port()
            procs.append(start_server(database_url, port, workdir, prefix))
            base, where = f"http://{LOOPBACK}:{port}", "one node on SQLite"
        for pid in [h.service.pid if hasattr(h, "service") else h.pid for h in helpers]:
            if pinned:  # the services share the client's core; the server core holds Duet
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(pid, {1})
        return await measure_all(
            plan, base, ssl_context, procs, slot_ids, now, seeded_in, pinned, where, workdir, keep
        )
    finally:
        for proc in procs:
            stop_server(proc)
        for helper in reversed(helpers):
            with contextlib.suppress(Exception):
                helper.stop()
                if "tempdir" in getattr(helper, "files", {}):
                    shutil.rmtree(helper.files["tempdir"], ignore_errors=True)


async def wait_ready_at(base: str, proc: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as session:
        await wait_ready(Client(session, base), proc)


async def measure_all(
    plan: Plan,
    base: str,
    ssl_context: Any,
    procs: list[subprocess.Popen[bytes]],
    slot_ids: dict[str, list[int]],
    now: datetime,
    seeded_in: float,
    pinned: bool,
    where: str,
    workdir: Path,
    keep: bool,
) -> int:
    employees = sorted(slot_ids)
    print(
        f"seeded {COMPANIES} companies x {EMPLOYEES_PER_COMPANY} employees x {DAYS} days = "
        f"{sum(map(len, slot_ids.values())):,} published slots in {seeded_in:.1f} s"
    )
    rng = random.Random(7)
    tokens = {
        e: mint_token(SECRET, UserRecord(e, e, Role.EMPLOYEE, company_of(e)), now)
        for e in employees
    }
    viewer = mint_token(SECRET, UserRecord("viewer", "Viewer", Role.PARTICIPANT, None), now)
    guests = [
        mint_token(SECRET, UserRecord(f"g{k}", f"Guest {k}", Role.PARTICIPANT, None), now)
        for k in range(len(employees))
    ]
    next_slot = dict.fromkeys(employees, 0)
    participants = itertools.count()
    results: list[Result] = []
    ev = f"/api/v1/events/{EVENT_ID}"
    try:
        connector = aiohttp.TCPConnector(limit=max(plan.levels), ssl=ssl_context or True)
        async with aiohttp.ClientSession(connector=connector) as session:
            client = Client(session, base)
            await wait_ready(client, procs[0])
            # Warm-up: first connections, first queries, the server's caches.
            await asyncio.gather(*(client.get("/healthz") for _ in range(20)))
            await client.get(f"{ev}/offers", viewer)
            for level in plan.levels:
                secs = plan.phase_seconds
                reads: list[tuple[str, int, Call]] = [
                    ("GET /healthz", plan.reads, lambda _n: client.get("/healthz")),
                    (
                        "GET slots (1 employee)",
                        plan.reads,
                        lambda _n: client.get(
                            f"{ev}/employees/{rng.choice(employees)}/slots", viewer
                        ),
                    ),
                    (
                        f"GET offers ({len(employees)})",
                        plan.offers,
                        lambda _n: client.get(f"{ev}/offers", viewer),
                    ),
                ]
                reads.append(
                    (
                        "POST join grant",
                        plan.reads,
                        lambda n: client.post_status(
                            f"/api/v1/chats/{live_chat_id(n % len(guests))}/join",
                            guests[n % len(guests)],
                        ),
                    )
                )
                for name, count, call in reads:
                    results.append(await measure(name, level, count, call, 200, secs))
                flows = []
                for _ in range(plan.flows):  # each chat: a new participant, a random employee
                    p = f"p{next(participants):05d}"
                    e = employees[rng.randrange(len(employees))]
                    slot = slot_ids[e][next_slot[e] % len(slot_ids[e])]
                    next_slot[e] += 1
                    token = mint_token(SECRET, UserRecord(p, p, Role.PARTICIPANT, None), now)
                    flows.append(Flow(token, e, slot))
                results += await booking(client, flows, tokens, level, secs)
    finally:
        pass
    print_table(results, pinned, where)
    if keep:
        print(f"kept {workdir} (server.log, bench.sqlite3)")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if any(r.server_errors for r in results) else 0


def print_table(results: list[Result], pinned: bool, where: str = "one node on SQLite") -> None:
    baseline = {r.concurrency: r.rps for r in results if r.name == "GET /healthz"}
    pinning = "server on core 0, client on core 1" if pinned else "server and client unpinned"
    print(f"\nDuet REST API on 127.0.0.1, {where} ({pinning}); x healthz = req/s / healthz req/s")
    header = f"{'endpoint':<24} {'conc':>4} {'n':>5} {'err':>4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'x healthz':>9}"
    print(header)
    print("-" * len(header))
    for r in results:
        ratio = r.rps / baseline[r.concurrency] if baseline.get(r.concurrency) else float("nan")
        print(
            f"{r.name:<24} {r.concurrency:>4} {len(r.latencies):>5} {r.errors:>4} "
            f"{r.rps:>8.0f} {r.pct(50):>8.1f} {r.pct(99):>8.1f} {ratio:>9.3f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts, under 30 s")
    parser.add_argument("--levels", help="concurrency levels, e.g. 1,16,64")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (log, database)")
    parser.add_argument(
        "--pg2",
        action="store_true",
        help="two nodes on PostgreSQL + Redis through HAProxy (started like the tests do)",
    )
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.levels:
        plan = Plan(
            tuple(int(x) for x in args.levels.split(",")),
            plan.reads,
            plan.offers,
            plan.flows,
            plan.phase_seconds,
        )
    return asyncio.run(run(plan, args.keep, args.pg2))


if __name__ == "__main__":
    raise SystemExit(main())
