"""Relay-mode benchmark: CPU and memory of one relayed call, encoded forwarding vs MediaRelay.

    unshare -n sh -c 'ip link set lo up && exec .venv/bin/python -m bench.bench_relay'
    (options: --seconds 20 --warmup 6 --screen 1280x720@10 --modes forward,decode)

Why this shape: the figure that matters is what one call costs the server, so the relay
(media/relay.py's ``RelayRoom``, exactly as the app runs it, minus the WebSocket) runs in a
process of its own, pinned to core 0, and nothing else runs there; the two people are aiortc
clients in two more processes pinned to core 1. Per mode, in one run:

1. the relay process starts and records its RSS with aiortc loaded and no call;
2. both clients offer a 640x480 VP8 camera at 30 fps and Opus audio; once media flows, client
   "a" adds a screen share (default 1280x720 at 10 fps) by renegotiation;
3. after a warm-up, the relay's utime+stime (/proc/self/stat) and RSS are read over the window,
   and each client reports the frames it received per track.

Clients count received frames *without decoding* (a ``ReceiverTap`` left idle counts reassembled
encoded frames), so their own CPU stays low and does not starve the relay on a 2-core machine;
the frame rates show the relay kept up. Calls per core = 1 / (relay CPU share of one call),
which assumes calls cost the same when many share a core (they share nothing but the loop).
Loopback only: aioice is made to gather 127.0.0.1 (run inside the namespace above).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from multiprocessing.connection import Connection
from typing import Any

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_s() -> float:
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 1e6


def _pin(core: int | None) -> None:
    if core is not None and hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > core:
        os.sched_setaffinity(0, {core})


def _loopback_only() -> None:
    import aioice.ice

    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"] if use_ipv4 else []


def _pipe_reader(conn: Connection) -> asyncio.Queue[Any]:
    """Messages from a pipe, as an asyncio queue (the pipe's fd is watched by the loop)."""
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[Any] = asyncio.Queue()

    def readable() -> None:
        while conn.poll():
            try:
                inbox.put_nowait(conn.recv())
            except EOFError:
                loop.remove_reader(conn.fileno())
                inbox.put_nowait({"type": "eof"})
                return

    loop.add_reader(conn.fileno(), readable)
    return inbox


# --- a client: one person's aiortc peer ------------------------------------------------------


def client_main(
    conn: Connection, name: str, screen: tuple[int, int, int] | None, pin: bool
) -> None:
    _pin(1 if pin else None)
    _loopback_only()
    asyncio.run(_client(conn, name, screen))


async def _client(conn: Connection, name: str, screen: tuple[int, int, int] | None) -> None:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription

    from media.forwarding import ReceiverTap
    from tests.support.peers import SyntheticAudioTrack, SyntheticVideoTrack

    class Screen(SyntheticVideoTrack):
        """A synthetic screen at its own frame rate (screen shares are rarely 30 fps)."""

        def __init__(self, width: int, height: int, fps: int) -> None:
            super().__init__(width, height)
            self._step = 90000 // fps
            self._t0: float | None = None
            self._ts = 0

        async def next_timestamp(self) -> tuple[int, Fraction]:
            if self._t0 is None:
                self._t0 = time.time()
            else:
                self._ts += self._step
                await asyncio.sleep(self._t0 + self._ts / 90000 - time.time())
            return self._ts, Fraction(1, 90000)

    vp8 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/VP8"]
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    for track in (SyntheticVideoTrack(640, 480), SyntheticAudioTrack()):
        pc.addTrack(track)
    for transceiver in pc.getTransceivers():
        if transceiver.kind == "video":
            transceiver.setCodecPreferences(vp8)
    taps: dict[str, ReceiverTap] = {}
    labels: dict[str, str] = {}

    @pc.on("track")
    def on_track(track: Any) -> None:
        transceiver = next(t for t in pc.getTransceivers() if t.receiver.track is track)
        taps[transceiver.mid] = ReceiverTap(transceiver.receiver)  # counts, never decodes

    async def offer() -> None:
        await pc.setLocalDescription(await pc.createOffer())
        for t in pc.getTransceivers():
            if t.kind == "video" and t.sender.track is not None:
                purpose = "screen" if isinstance(t.sender.track, Screen) else "camera"
                conn.send({"type": "track_info", "mid": t.mid, "purpose": purpose})
        conn.send({"type": "offer", "sdp": pc.localDescription.sdp})

    inbox = _pipe_reader(conn)
    await offer()
    try:
        while True:
            msg = await inbox.get()
            kind = msg["type"]
            if kind == "offer":
                await pc.setRemoteDescription(RTCSessionDescription(msg["sdp"], "offer"))
                await pc.setLocalDescription(await pc.createAnswer())
                conn.send({"type": "answer", "sdp": pc.localDescription.sdp})
            elif kind == "answer":
                await pc.setRemoteDescription(RTCSessionDescription(msg["sdp"], "answer"))
            elif kind == "label":
                labels[msg["mid"]] = msg["purpose"]
            elif kind == "share" and screen is not None:
                transceiver = pc.addTransceiver(Screen(*screen), direction="sendonly")
                transceiver.setCodecPreferences(vp8)
                await offer()
            elif kind == "count":
                counts = {
                    labels.get(mid, taps[mid].receiver.track.kind): tap.dropped
                    for mid, tap in taps.items()
                }
                conn.send({"type": "counts", "state": pc.connectionState, "counts": counts})
            elif kind in ("stop", "eof"):
                break
    finally:
        await pc.close()


# --- the relay process -----------------------------------------------------------------------


def relay_main(
    results: Connection,
    a: Connection,
    b: Connection,
    forward: bool,
    warmup: float,
    seconds: float,
    pin: bool,
    boost: bool,
) -> None:
    _pin(0 if pin else None)
    if boost:
        # The machine is shared: a starved relay drops frames and looks cheaper than it is.
        with contextlib.suppress(PermissionError):
            os.nice(-10)
    _loopback_only()
    results.send(asyncio.run(_relay(a, b, forward, warmup, seconds)))


async def _relay(
    a: Connection, b: Connection, forward: bool, warmup: float, seconds: float
) -> dict[str, Any]:
    from media.relay import Description, Label, Outgoing, RelayRoom

    idle_rss = _rss_mb()
    pipes = {"a": a, "b": b}

    def send(user: str, out: Outgoing) -> None:
        if isinstance(out, Description):
            pipes[user].send({"type": out.type, "sdp": out.sdp})
        elif isinstance(out, Label):
            pipes[user].send({"type": "label", "mid": out.mid, "purpose": out.purpose})

    room = RelayRoom("bench", ("a", "b"), [], send, forward_encoded=forward)
    inboxes = {user: _pipe_reader(pipe) for user, pipe in pipes.items()}
    counts: dict[str, asyncio.Queue[dict[str, Any]]] = {u: asyncio.Queue() for u in pipes}

    async def pump(user: str) -> None:
        while True:
            msg = await inboxes[user].get()
            kind = msg["type"]
            if kind == "offer":
                room.offer(user, msg["sdp"])
            elif kind == "answer":
                room.answer(user, msg["sdp"])
            elif kind == "track_info":
                room.label(user, msg["mid"], msg["purpose"])
            elif kind == "counts":
                counts[user].put_nowait(msg)
            elif kind == "eof":
                return

    async def snapshot() -> dict[str, dict[str, Any]]:
        for pipe in pipes.values():
            pipe.send({"type": "count"})
        return {user: await asyncio.wait_for(counts[user].get(), 10) for user in pipes}

    pumps = [asyncio.create_task(pump(user)) for user in pipes]
    try:
        deadline = time.monotonic() + 20
        while True:  # until camera and mic flow both ways
            stats = room.stats()
            if len(stats) == 4 and all(s["forwarded"] + s["decoded"] > 30 for s in stats.values()):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"media did not start: {stats}")
            await asyncio.sleep(0.2)
        pipes["a"].send({"type": "share"})
        await asyncio.sleep(warmup)
        before, cpu0, t0 = await snapshot(), _cpu_s(), time.monotonic()
        peak = _rss_mb()
        end = t0 + seconds
        while time.monotonic() < end:
            await asyncio.sleep(0.5)
            peak = max(peak, _rss_mb())
        cpu1, t1, after = _cpu_s(), time.monotonic(), await snapshot()
        modes = {k: s["mode"] for k, s in room.stats().items()}
    finally:
        for pipe in pipes.values():
            pipe.send({"type": "stop"})
        await room.close()
        for task in pumps:
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
    elapsed = t1 - t0
    fps = {
        f"{user}<-{track}": round((after[user]["counts"][track] - n) / elapsed, 1)
        for user in pipes
        for track, n in before[user]["counts"].items()
    }
    return {
        "cpu_share": (cpu1 - cpu0) / elapsed,
        "idle_rss_mb": idle_rss,
        "call_rss_mb": peak,
        "fps": fps,
        "modes": modes,
        "seconds": elapsed,
    }


# --- orchestration ----------------------------------------------------------------------------


@dataclass
class Run:
    mode: str
    result: dict[str, Any]


def run_mode(
    mode: str, screen: tuple[int, int, int], warmup: float, seconds: float, pin: bool, boost: bool
) -> Run:
    ctx = mp.get_context("spawn")
    relay_a, client_a = ctx.Pipe()
    relay_b, client_b = ctx.Pipe()
    results_in, results_out = ctx.Pipe(duplex=False)
    procs = [
        ctx.Process(
            target=relay_main,
            args=(results_out, relay_a, relay_b, mode == "forward", warmup, seconds, pin, boost),
        ),
        ctx.Process(target=client_main, args=(client_a, "a", screen, pin)),
        ctx.Process(target=client_main, args=(client_b, "b", None, pin)),
    ]
    for proc in procs:
        proc.start()
    try:
        if not results_in.poll(warmup + seconds + 60):
            raise RuntimeError(f"{mode}: the relay process gave no result")
        return Run(mode, results_in.recv())
    finally:
        for proc in procs:
            proc.join(15)
            if proc.is_alive():
                proc.kill()  # only our own child, by its handle
                proc.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=6.0)
    parser.add_argument("--screen", default="1280x720@10", help="WIDTHxHEIGHT@FPS")
    parser.add_argument("--modes", default="forward,decode")
    parser.add_argument(
        "--no-boost",
        action="store_true",
        help="do not raise the relay process's priority (nice -10, needs root)",
    )
    parser.add_argument(
        "--pin", action="store_true", help="relay on core 0, clients on core 1 (a quiet machine)"
    )
    args = parser.parse_args()
    size, fps = args.screen.split("@")
    width, height = (int(x) for x in size.split("x"))
    runs = [
        run_mode(
            mode, (width, height, int(fps)), args.warmup, args.seconds, args.pin, not args.no_boost
        )
        for mode in args.modes.split(",")
    ]
    load = os.getloadavg()[0]
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load {load:.1f}, "
        f"window {args.seconds:.0f} s, screen {args.screen}"
    )
    expected_video = 2 * 30 + int(fps)  # frames/s the relay should deliver
    print(
        f"{'mode':8} {'relay CPU':>10} {'video fps':>10} {'at full rate':>13} {'calls/core':>11}"
        f" {'RSS idle':>9} {'RSS call':>9}"
    )
    for run in runs:
        r = run.result
        video = sum(v for k, v in r["fps"].items() if not k.endswith("audio"))
        # A starved relay drops frames and looks cheaper than it is: scale to the full rate.
        full = r["cpu_share"] * max(1.0, expected_video / max(video, 1e-9))
        r["video_fps"], r["cpu_share_full_rate"] = video, full
        print(
            f"{run.mode:8} {r['cpu_share'] * 100:9.1f}% {video:6.0f}/{expected_video:<3} "
            f"{full * 100:12.1f}% {1 / full:11.1f} "
            f"{r['idle_rss_mb']:8.0f}M {r['call_rss_mb']:8.0f}M"
        )
    print(json.dumps({run.mode: run.result for run in runs}, indent=1))


if __name__ == "__main__":
    main()
