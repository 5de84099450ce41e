"""Signaling benchmark: Duet's WebSocket relay against a bare aiohttp relay, measured in one run.

    .venv/bin/python bench/signaling/run.py --quick            # smoke run, under a minute
    .venv/bin/python bench/signaling/run.py --redis            # full run: 5,000 rooms, + two nodes

What one run does, all on 127.0.0.1, every process stopped by its PID at the end:

1. seeds a temporary SQLite file with N confirmed chats whose join window is open now
   (`seed.py`) and mints two join tickets per room (`rooms.tickets.mint_ticket`);
2. for each server -- `duet serve` (run by `gc_serve.py`, which times garbage collections), the
   bare aiohttp relay (`bare_relay.py`) on the default loop and on uvloop, and with ``--redis``
   two `duet serve` nodes sharing the SQLite file through a private redis-server -- it starts the
   server pinned to one core (``taskset -c 0``) and the Node `ws` load generator
   (`loadgen.mjs`) pinned to the other (``taskset -c 1``), then measures:
   - handshakes/s: WebSocket connect + `join` until `joined`, N x 2 sockets;
   - memory per idle connection: (RSS with every socket joined and idle - RSS before) / sockets;
   - at each offered load: relayed msgs/s, p50/p99 relay latency (send time travels in the
     message), server CPU (utime+stime from /proc/<pid>/stat) per relayed message;
   - garbage-collector pauses of the Duet process(es), per phase.
3. prints the tables; ratios to the bare relay are the figures that survive a noisy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import os
import platform
import queue
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from seed import Room, seed  # noqa: E402

from rooms.tickets import mint_ticket  # noqa: E402
from scheduling.model import Role  # noqa: E402
from scheduling.store_events import UserRecord  # noqa: E402
from web.auth import mint_token  # noqa: E402

LOOPBACK = "127.0.0.1"
SECRET = "bench-secret-not-for-production-0123456789abcdef"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PER_SOCKET_RATE_CAP = 18.0  # Duet allows 20 msgs/s per socket sustained (docs/protocol.md)
TICKET_LIFETIME_S = 900


# --- processes -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def pinned(argv: list[str], cpu: str | None) -> list[str]:
    return ["taskset", "-c", cpu, *argv] if cpu is not None else argv


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


def start(name: str, argv: list[str], workdir: Path, env: dict[str, str] | None = None) -> Proc:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=ROOT,
        )
    return Proc(name, popen, log)


def stop(proc: Proc, timeout: float = 20.0) -> None:
    """SIGTERM by PID, then SIGKILL by PID if it does not go."""
    if proc.popen.poll() is not None:
        return
    proc.popen.send_signal(signal.SIGTERM)
    try:
        proc.popen.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.popen.kill()
        proc.popen.wait(5)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def core_busy_seconds(cpu: str | None) -> float | None:
    """Busy time of one core (all processes), from /proc/stat; None when not pinned."""
    if cpu is None:
        return None
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{cpu} "):
            ticks = [int(x) for x in line.split()[1:]]
            return (sum(ticks) - ticks[3] - ticks[4]) / CLK_TCK  # minus idle and iowait
    return None


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def wait_http(port: int, path: str, proc: Proc, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited early:\n{proc.tail()}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://{LOOPBACK}:{port}{path}", timeout=2) as r,
        ):
            if r.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not answer {path} within {timeout:.0f}s:\n{proc.tail()}")


def wait_redis(port: int, proc: Proc, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"redis-server exited early:\n{proc.tail()}")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), 1) as s:
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                return
        time.sleep(0.1)
    raise RuntimeError("redis-server did not answer PING")


class LoadGen:
    """The Node `ws` generator, one JSON command per line on stdin, one answer per line back."""

    def __init__(self, cpu: str | None, workdir: Path, lifetime_s: int) -> None:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not installed")
        if not (HERE / "node_modules" / "ws").exists():
            raise RuntimeError("run `npm ci` in bench/signaling first (installs ws)")
        self.stderr_path = workdir / "loadgen.log"
        self._stderr: TextIO = self.stderr_path.open("w")
        self.popen = subprocess.Popen(
            pinned([node, str(HERE / "loadgen.mjs"), str(lifetime_s)], cpu),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            cwd=HERE,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self._lines.put(line)

    def call(self, cmd: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.popen.stdin is not None
        self.popen.stdin.write(json.dumps(cmd) + "\n")
        self.popen.stdin.flush()
        try:
            answer: dict[str, Any] = json.loads(self._lines.get(timeout=timeout))
        except queue.Empty as exc:
            raise RuntimeError(
                f"load generator did not answer {cmd['cmd']} in {timeout:.0f}s"
            ) from exc
        if answer.get("ev") == "error":
            raise RuntimeError(f"load generator: {answer['error']}")
        return answer

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.call({"cmd": "close"}, timeout=15)
        with contextlib.suppress(OSError):
            assert self.popen.stdin is not None
            self.popen.stdin.close()
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)
        self._stderr.close()


# --- servers ---------------------------------------------------------------------------------------


@dataclass
class Server:
    """One system under test: its processes (CPU and RSS are summed over them) and URLs."""

    name: str
    procs: list[Proc]
    urls: tuple[str, str]  # employee's socket URL, participant's
    gc_reports: list[Path] = field(default_factory=list)
    extra: list[Proc] = field(default_factory=list)  # helpers measured apart (redis-server)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    def extra_cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.extra)

    def rss(self) -> int:
        return sum(rss_kib(pid) for pid in self.pids)

    def gc_snapshot(self) -> list[dict[str, Any]]:
        """Ask each Duet process for its GC report (SIGUSR1); returns the windows since last time."""
        found: list[dict[str, Any]] = []
        for proc, report in zip(self.procs, self.gc_reports, strict=False):
            before = report.stat().st_mtime_ns if report.exists() else 0
            os.kill(proc.pid, signal.SIGUSR1)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if report.exists() and report.stat().st_mtime_ns != before:
                    with contextlib.suppress(ValueError, OSError):
                        found.append(json.loads(report.read_text()))
                        break
                time.sleep(0.02)
        return found

    def stop(self) -> None:
        for proc in (*self.procs, *self.extra):
            stop(proc)


def ws_url(port: int) -> str:
    return f"ws://{LOOPBACK}:{port}/api/v1/ws"


def duet_env(db: Path, port: int, **more: str) -> dict[str, str]:
    return {
        "DUET_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "DUET_JWT_SECRET": SECRET,
        "DUET_HOST": LOOPBACK,
        "DUET_PORT": str(port),
        **more,
    }


def start_duet(
    name: str, db: Path, workdir: Path, cpu: str | None, **env: str
) -> tuple[Proc, Path, int]:
    port = free_port()
    report = workdir / f"{name}-gc.json"
    argv = pinned([sys.executable, str(HERE / "gc_serve.py"), str(report), "serve"], cpu)
    proc = start(name, argv, workdir, duet_env(db, port, **env))
    wait_http(port, "/healthz", proc)
    return proc, report, port


def start_server(
    kind: str, db: Path, workdir: Path, cpu: str | None, helper_cpu: str | None
) -> Server:
    if kind == "duet":
        proc, report, port = start_duet("duet", db, workdir, cpu, DUET_NODE_ID="bench-a")
        return Server(kind, [proc], (ws_url(port), ws_url(port)), [report])
    if kind in ("bare", "bare-uvloop"):
        port = free_port()
        argv = [sys.executable, str(HERE / "bare_relay.py"), "--port", str(port)]
        if kind == "bare-uvloop":
            argv.append("--uvloop")
        proc = start(kind, pinned(argv, cpu), workdir)
        wait_http(port, "/healthz", proc)
        return Server(kind, [proc], (ws_url(port), ws_url(port)))
    if kind == "node":
        port = free_port()
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not installed")
        argv = [node, str(HERE / "node_relay.mjs"), "--port", str(port)]
        proc = start(kind, pinned(argv, cpu), workdir)
        wait_http(port, "/healthz", proc)
        return Server(kind, [proc], (ws_url(port), ws_url(port)))
    if kind == "duet-redis":
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        rport = free_port()
        rdir = workdir / "redis"
        rdir.mkdir(exist_ok=True)
        redis_argv = [
            binary, "--bind", LOOPBACK, "--port", str(rport), "--dir", str(rdir),
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes",
        ]  # fmt: skip
        # Redis shares the generator's core: the server core holds only the two Duet nodes.
        redis = start("redis", pinned(redis_argv, helper_cpu), workdir)
        try:
            wait_redis(rport, redis)
            url = f"redis://{LOOPBACK}:{rport}/0"
            a, rep_a, port_a = start_duet(
                "duet-a",
                db,
                workdir,
                cpu,
                DUET_BROKER="redis",
                DUET_REDIS_URL=url,
                DUET_NODE_ID="a",
            )
            try:
                b, rep_b, port_b = start_duet(
                    "duet-b",
                    db,
                    workdir,
                    cpu,
                    DUET_BROKER="redis",
                    DUET_REDIS_URL=url,
                    DUET_NODE_ID="b",
                )
            except Exception:
                stop(a)
                raise
        except Exception:
            stop(redis)
            raise
        return Server(kind, [a, b], (ws_url(port_a), ws_url(port_b)), [rep_a, rep_b], [redis])
    raise ValueError(kind)


# --- one server's measurements ---------------------------------------------------------------------


def server_epoch(url: str, room: Room) -> str:
    """The broker epoch the server signs its tickets with (rooms/tickets.py): read from one
    ticket of its real join endpoint, since a restart of its broker makes a new one."""
    employee = UserRecord(room.employee_id, "Bench Employee", Role.EMPLOYEE, "bench")
    token = mint_token(SECRET, employee, datetime.now(UTC))
    request = urllib.request.Request(
        f"{url}/api/v1/chats/{room.chat_id}/join",
        method="POST",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        ticket = json.loads(resp.read())["ticket"]
    payload = ticket.rsplit(".", 1)[0]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))[-1])


def tickets_for(server: Server, rooms: list[Room]) -> list[list[str]]:
    if server.name.startswith("bare") or server.name == "node":
        return [[f"{i}:0", f"{i}:1"] for i in range(len(rooms))]
    expires = datetime.now(UTC) + timedelta(seconds=TICKET_LIFETIME_S)
    epoch = server_epoch(server.urls[0].replace("ws://", "http://").split("/api/")[0], rooms[0])
    return [[mint_ticket(SECRET, p, expires, epoch) for p in r.passes or ()] for r in rooms]


def max_gc(reports: list[dict[str, Any]], key: str = "window") -> float | None:
    values = [r[key]["max_pause_ms"] for r in reports if key in r]
    return max(values) if values else None


def measure(
    kind: str, opts: argparse.Namespace, rooms: list[Room], db: Path, workdir: Path
) -> dict[str, Any]:
    print(f"\n== {kind}: {len(rooms)} rooms x 2 sockets", flush=True)
    server = start_server(kind, db, workdir, opts.server_cpu, opts.gen_cpu)
    tickets = tickets_for(server, rooms)  # minted by this process: not server CPU
    gen = LoadGen(opts.gen_cpu, workdir, lifetime_s=opts.lifetime)
    result: dict[str, Any] = {"server": kind, "rooms": len(rooms), "loads": []}
    startup: list[dict[str, Any]] = []
    try:
        time.sleep(0.5)
        startup = server.gc_snapshot()  # start-up collections are not counted in any phase
        rss0 = server.rss()
        cpu0 = server.cpu()
        pairs = [{"urls": list(server.urls), "tickets": t} for t in tickets]
        conn = gen.call(
            {
                "cmd": "connect",
                "pairs": pairs,
                "protocol": "duet.v1.json",
                "concurrency": opts.concurrency,
                "timeout_s": 30,
            },
            timeout=120 + len(pairs) / 10,
        )
        cpu_connect = server.cpu() - cpu0
        gc_connect = server.gc_snapshot()
        idle0 = server.cpu()
        time.sleep(opts.idle)
        idle_cpu_pct = 100 * (server.cpu() - idle0) / opts.idle
        rss1 = server.rss()
        joined = conn["joined"]
        result.update(
            sockets=conn["sockets"],
            joined=joined,
            failed=conn["failed"],
            peers_ready=conn["peers_ready"],
            handshakes_per_s=conn["handshakes_per_s"],
            handshake_ms=conn["handshake_ms"],
            cpu_ms_per_handshake=1000 * cpu_connect / max(1, joined),
            connect_close_codes=conn["close_codes"],
            rss_before_kib=rss0,
            rss_idle_kib=rss1,
            kib_per_connection=(rss1 - rss0) / max(1, joined),
            idle_cpu_pct=idle_cpu_pct,
            gc_connect_max_ms=max_gc(gc_connect),
        )
        print(
            f"   joined {joined}/{conn['sockets']} ({conn['failed']} failed), "
            f"{conn['handshakes_per_s']:.0f} handshakes/s, "
            f"{result['kib_per_connection']:.1f} KiB/connection",
            flush=True,
        )
        sockets = conn["peers_ready"]
        for rate in opts.rate_list:
            if sockets == 0:
                break
            if rate / sockets > PER_SOCKET_RATE_CAP:
                print(
                    f"   skip {rate}/s: {rate / sockets:.1f} msgs/s per socket would trip Duet's "
                    f"rate limit (20/s); use more --rooms",
                    flush=True,
                )
                continue
            c0, x0, b0 = server.cpu(), server.extra_cpu(), core_busy_seconds(opts.server_cpu)
            t0 = time.monotonic()
            load = gen.call(
                {"cmd": "load", "rate": rate, "duration_s": opts.duration, "drain_s": opts.drain},
                timeout=opts.duration + opts.drain + 60,
            )
            c1, x1, b1 = server.cpu(), server.extra_cpu(), core_busy_seconds(opts.server_cpu)
            wall = time.monotonic() - t0
            gc_load = server.gc_snapshot()
            received = load["received"]
            load.update(
                cpu_us_per_msg=1e6 * (c1 - c0) / received if received else None,
                server_cpu_pct=100 * (c1 - c0) / wall,
                # Other processes on the server's core: the noise that inflates latency.
                other_on_core_pct=(
                    None if b0 is None or b1 is None else 100 * ((b1 - b0) - (c1 - c0)) / wall
                ),
                redis_cpu_us_per_msg=(
                    1e6 * (x1 - x0) / received if server.extra and received else None
                ),
                gc_max_ms=max_gc(gc_load),
            )
            result["loads"].append(load)
            lat = load["latency_ms"]
            print(
                f"   {rate}/s: relayed {load['recv_rate']:.0f}/s, p50 {lat['p50']} ms, "
                f"p99 {lat['p99']} ms, {fmt(load['cpu_us_per_msg'])} µs CPU/msg, "
                f"lost {load['lost']}, errors {load['errors']}, "
                f"generator CPU {load['generator_cpu_pct']:.0f}%, "
                f"other processes on the server core {fmt(load['other_on_core_pct'])}%",
                flush=True,
            )
    finally:
        gen.close()  # every socket drops at once: a mass disconnect, reported on its own
        final = server.gc_snapshot() if server.gc_reports else []
        disconnect_max = max_gc(final)
        server.stop()
        for report in server.gc_reports:
            with contextlib.suppress(OSError, ValueError):
                final.append(json.loads(report.read_text()))
        if final:
            result["gc"] = {
                "loop": sorted({r["loop"] for r in final}),
                "frozen_objects": max(r["frozen_objects"] or 0 for r in final),
                "thresholds": final[0]["thresholds"],
                # While serving: the joins, the idle sockets and every load. Start-up (imports,
                # migrations) and the final mass disconnect are reported apart from it.
                "max_pause_ms": max(
                    (
                        x
                        for x in (
                            result.get("gc_connect_max_ms"),
                            *(x.get("gc_max_ms") for x in result["loads"]),
                        )
                        if x is not None
                    ),
                    default=None,
                ),
                "startup_max_pause_ms": max_gc(startup),
                "disconnect_max_pause_ms": disconnect_max,
                "run_max_pause_ms": max_gc(final, "total"),
                "pauses_over_50ms": max(r["total"]["pauses_over_50ms"] for r in final),
                "gen2_collections": max(r["total"]["collections"][2] for r in final),
            }
    return result


# --- report ----------------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def tables(results: list[dict[str, Any]], rates: list[int]) -> str:
    by = {r["server"]: r for r in results}
    base, node = by.get("bare"), by.get("node")
    out: list[str] = []
    for rate in rates:
        rooms = results[0]["rooms"] if results else 0
        out.append(f"\nOffered load {rate} msgs/s, {rooms} rooms x 2 sockets")
        out.append(
            f"{'server':<12} {'CPU µs/msg':>10} {'÷ bare':>7} {'÷ node':>7} {'msgs/s':>8} "
            f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'lost':>6} {'srv CPU%':>8} "
            f"{'other%':>8} {'GC max ms':>9}"
        )
        base_load = next((x for x in base["loads"] if x["rate"] == rate), None) if base else None
        node_load = next((x for x in node["loads"] if x["rate"] == rate), None) if node else None
        for r in results:
            load = next((x for x in r["loads"] if x["rate"] == rate), None)
            if load is None:
                out.append(f"{r['server']:<12} (not run)")
                continue
            mine = load["cpu_us_per_msg"]
            base_cpu = base_load["cpu_us_per_msg"] if base_load else None
            ratio = mine / base_cpu if mine is not None and base_cpu else None
            node_cpu = node_load["cpu_us_per_msg"] if node_load else None
            to_node = mine / node_cpu if mine is not None and node_cpu else None
            lat = load["latency_ms"]
            out.append(
                f"{r['server']:<12} {fmt(mine):>10} {fmt(ratio, 2):>7} {fmt(to_node, 2):>7} "
                f"{load['recv_rate']:>8.0f} {fmt(lat['p50'], 2):>7} {fmt(lat['p99'], 2):>7} "
                f"{fmt(lat['max'], 1):>7} {load['lost']:>6} {load['server_cpu_pct']:>8.0f} "
                f"{fmt(load['other_on_core_pct']):>8} {fmt(load['gc_max_ms'], 1):>9}"
            )
    out.append("\nConnections")
    out.append(
        f"{'server':<12} {'joined':>7} {'handshakes/s':>12} {'CPU ms/hs':>9} {'hs p99 ms':>9} "
        f"{'KiB/conn':>8} {'GC max ms':>9} {'loop':<22}"
    )
    for r in results:
        gc = r.get("gc", {})
        out.append(
            f"{r['server']:<12} {r['joined']:>7} {r['handshakes_per_s']:>12.0f} "
            f"{r['cpu_ms_per_handshake']:>9.2f} {fmt(r['handshake_ms']['p99'], 0):>9} "
            f"{r['kib_per_connection']:>8.1f} {fmt(gc.get('max_pause_ms'), 1):>9} "
            f"{','.join(gc.get('loop', [])) or '-':<22}"
        )
    for r in results:
        gc = r.get("gc", {})
        if gc:
            out.append(
                f"GC, {r['server']}: longest pause while serving {fmt(gc.get('max_pause_ms'), 1)} ms "
                f"(the column above); at start-up {fmt(gc.get('startup_max_pause_ms'), 1)} ms; "
                f"when every socket dropped at once {fmt(gc.get('disconnect_max_pause_ms'), 1)} ms"
            )
    return "\n".join(out)


def targets(
    results: list[dict[str, Any]],
    full_rate: int = 5000,
    paired: dict[tuple[str, int], dict[str, Any]] | None = None,
) -> str:
    by = {r["server"]: r for r in results}
    duet, base, redis = by.get("duet"), by.get("bare"), by.get("duet-redis")
    node = by.get("node")
    lines = ["\nTargets"]

    def load(r: dict[str, Any] | None, rate: int) -> dict[str, Any] | None:
        return None if r is None else next((x for x in r["loads"] if x["rate"] == rate), None)

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("MET" if ok else "MISSED")

    if duet and base:
        for b_load in base["loads"]:
            d_load = load(duet, b_load["rate"])
            if d_load:
                mine, theirs = d_load["cpu_us_per_msg"], b_load["cpu_us_per_msg"]
                ratio = mine / theirs if mine is not None and theirs else None
                over = (paired or {}).get(("duet", b_load["rate"]))
                how = ""
                if over is not None:
                    ratio, how = (
                        over["geomean"],
                        f" (geometric mean of {len(over['ratios'])} rounds)",
                    )
                lines.append(
                    f"  CPU/msg <= 1.0x bare aiohttp @{b_load['rate']}/s: {fmt(ratio, 2)}x{how}  "
                    f"{verdict(None if ratio is None else ratio <= 1.0)}"
                )
    if duet and node:  # the next peer up (issue #12): a bare Node.js `ws` relay
        for n_load in node["loads"]:
            d_load = load(duet, n_load["rate"])
            if d_load and n_load["cpu_us_per_msg"]:
                ratio = d_load["cpu_us_per_msg"] / n_load["cpu_us_per_msg"]
                lines.append(
                    f"  CPU/msg <= 1.0x Node ws @{n_load['rate']}/s: {fmt(ratio, 2)}x  "
                    f"{verdict(ratio <= 1.0)}"
                )
        lines.append(
            f"  <= 10 KiB per idle connection (Node: {node['kib_per_connection']:.1f}): "
            f"{duet['kib_per_connection']:.1f} KiB  {verdict(duet['kib_per_connection'] <= 10)}"
        )
        lines.append(
            f"  >= 5,000 joins/s one node (Node: {node['handshakes_per_s']:.0f}/s): "
            f"{duet['handshakes_per_s']:.0f}/s  {verdict(duet['handshakes_per_s'] >= 5000)}"
        )
    scale = (duet or redis or {}).get("rooms", 0)
    note = "" if scale >= 5000 else f"  (measured with {scale} rooms, target is for 5,000)"
    d5 = load(duet, full_rate)
    if d5:
        p99 = d5["latency_ms"]["p99"]
        lines.append(
            f"  p99 <= 10 ms @5,000/s one node: {p99} ms  {verdict(p99 is not None and p99 <= 10)}{note}"
        )
    r5 = load(redis, full_rate)
    if r5:
        p99 = r5["latency_ms"]["p99"]
        lines.append(
            f"  p99 <= 20 ms @5,000/s two nodes: {p99} ms  {verdict(p99 is not None and p99 <= 20)}{note}"
        )
    if duet:
        kib = duet["kib_per_connection"]
        lines.append(f"  <= 20 KiB per idle connection: {kib:.1f} KiB  {verdict(kib <= 20)}")
        hs = duet["handshakes_per_s"]
        lines.append(f"  >= 1,200 joins/s: {hs:.0f}/s  {verdict(hs >= 1200)}")
        gc = duet.get("gc", {}).get("max_pause_ms")
        conns = duet["joined"]
        gc_note = "" if conns >= 10000 else f"  (with {conns} connections, target is for 10,000)"
        lines.append(
            f"  no GC pause > 50 ms: longest {fmt(gc, 1)} ms  {verdict(None if gc is None else gc <= 50)}{gc_note}"
        )
    return "\n".join(lines)


def cpu_over_rounds(
    rounds: list[list[dict[str, Any]]], rates: list[int]
) -> dict[tuple[str, int], dict[str, Any]]:
    """Per server and load: each round's CPU ratio to bare and their geometric mean."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for rate in rates:
        for position, first in enumerate(rounds[0]):
            if first["server"] == "bare":
                continue
            ratios = []
            for results in rounds:
                by = {r["server"]: r for r in results}
                mine = next((x for x in results[position]["loads"] if x["rate"] == rate), None)
                base = next(
                    (x for x in by.get("bare", {}).get("loads", []) if x["rate"] == rate), None
                )
                if mine and base and mine["cpu_us_per_msg"] and base["cpu_us_per_msg"]:
                    ratios.append(mine["cpu_us_per_msg"] / base["cpu_us_per_msg"])
            if ratios:
                mean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
                out[(first["server"], rate)] = {"ratios": ratios, "geomean": mean}
    return out


def paired_table(paired: dict[tuple[str, int], dict[str, Any]]) -> str:
    lines = ["\nCPU per message ÷ bare, every round (order reversed every other round)"]
    for (server, rate), v in paired.items():
        each = ", ".join(f"{r:.2f}" for r in v["ratios"])
        lines.append(f"  {server:<12} @{rate}/s: {each}  -> geometric mean {v['geomean']:.2f}x")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    import aiohttp

    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "node": node.stdout.strip(),
    }


# --- main ------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Duet signaling benchmark (see docs/performance.md)")
    p.add_argument("--rooms", type=int, help="rooms (2 sockets each); default 5000, --quick 200")
    p.add_argument("--rates", help="offered loads in msgs/s, comma-separated; default 1000,5000")
    p.add_argument("--duration", type=float, help="seconds per load; default 10, --quick 3")
    p.add_argument("--drain", type=float, default=3.0, help="seconds to wait for stragglers")
    p.add_argument("--idle", type=float, help="seconds idle before the RSS sample; default 2")
    p.add_argument("--concurrency", type=int, default=64, help="handshakes in flight")
    p.add_argument(
        "--servers",
        default="duet,bare,bare-uvloop",
        help="systems under test: duet, bare, bare-uvloop, node (a bare Node.js ws relay), "
        "duet-redis via --redis (bare is the baseline for ratios)",
    )
    p.add_argument("--redis", action="store_true", help="also two Duet nodes through Redis")
    p.add_argument("--quick", action="store_true", help="smoke run: 200 rooms, short loads")
    p.add_argument("--server-cpu", default="0", help="core for servers (taskset -c)")
    p.add_argument("--gen-cpu", default="1", help="core for the load generator and redis-server")
    p.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, DB, GC reports)")
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure every server this many times, the order reversed every other round; "
        "CPU ratios are then the geometric mean over rounds (the server measured second "
        "has measured up to ~25%% cheaper here, whichever it was)",
    )
    opts = p.parse_args(argv)
    opts.rooms = opts.rooms or (200 if opts.quick else 5000)
    opts.duration = opts.duration or (3.0 if opts.quick else 10.0)
    opts.idle = opts.idle if opts.idle is not None else (1.0 if opts.quick else 2.0)
    if opts.quick:
        opts.drain = min(opts.drain, 2.0)
    opts.rate_list = [int(x) for x in (opts.rates or "1000,5000").split(",") if x.strip()]
    opts.server_list = [s.strip() for s in opts.servers.split(",") if s.strip()]
    if opts.redis:
        opts.server_list.append("duet-redis")
    if (os.cpu_count() or 1) < 2 or shutil.which("taskset") is None:
        opts.server_cpu = opts.gen_cpu = None
    if not 1 <= opts.rounds <= 20:
        p.error("--rounds must be 1..20")
    if not 1 <= opts.rooms <= 10_000:
        p.error("--rooms must be 1..10000")
    if any(not 1 <= r <= 50_000 for r in opts.rate_list) or not 0 < opts.duration <= 120:
        p.error("rates must be 1..50000 msgs/s and --duration at most 120 s")
    opts.lifetime = int(600 + 300 * len(opts.server_list) * opts.rounds + opts.rooms / 5)
    return opts


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = opts.rooms * 2 + 1000
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))
    facts = machine()
    print(
        f"machine: {facts['nproc']} CPUs, {facts['cpu_model']}, Python {facts['python']}, "
        f"aiohttp {facts['aiohttp']}, Node {facts['node']}; server on CPU {opts.server_cpu}, "
        f"load generator (Node ws) on CPU {opts.gen_cpu}"
    )
    workdir = Path(tempfile.mkdtemp(prefix="duet-bench-"))
    started = time.monotonic()
    results: list[dict[str, Any]] = []
    rounds: list[list[dict[str, Any]]] = []
    try:
        db = workdir / "bench.sqlite3"
        rooms = asyncio.run(seed(db, opts.rooms))
        print(f"seeded {len(rooms)} confirmed chats in {time.monotonic() - started:.1f}s ({db})")
        for round_no in range(opts.rounds):
            order = opts.server_list if round_no % 2 == 0 else opts.server_list[::-1]
            if opts.rounds > 1:
                print(f"\n--- round {round_no + 1} of {opts.rounds}: {', '.join(order)}")
            measured = {kind: measure(kind, opts, rooms, db, workdir) for kind in order}
            rounds.append([measured[kind] for kind in opts.server_list])
        results = rounds[0]
    finally:
        if opts.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    paired = cpu_over_rounds(rounds, opts.rate_list) if len(rounds) > 1 else {}
    text = tables(results, opts.rate_list)
    if paired:
        text += "\n" + paired_table(paired)
    text += "\n" + targets(results, paired=paired)
    print(text)
    print(f"\n(total {time.monotonic() - started:.0f}s)")
    if opts.json:
        opts.json.write_text(
            json.dumps(
                {
                    "machine": facts,
                    "options": vars(opts) | {"json": str(opts.json)},
                    "results": results,
                    "rounds": rounds,
                    "cpu_ratio_over_rounds": {f"{k[0]}@{k[1]}": v for k, v in paired.items()},
                },
                indent=2,
                default=str,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
