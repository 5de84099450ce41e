"""Run a Duet node (`web.cli.main`) with its garbage-collector pauses timed.

    python bench/signaling/gc_serve.py REPORT.json serve

Every collection is timed with `gc.callbacks`. The report (JSON) is written at exit and whenever
the process gets SIGUSR1, so the orchestrator can read the longest pause of each benchmark phase:
`window` covers the time since the previous report, `total` the whole run. It also records which
event loop served (`loop`) and how many objects `gc.freeze()` had frozen, to show what
`duet serve` itself configured. No environment variables, no change to the server.

It also times the event loop's stalls (`loop_lag`): a callback due every LAG_EVERY_S notes how
late it ran, so the longest stall of each phase (a join storm, 5,000 rooms closing at once) is
known to within that interval, whatever held the loop (a collection, a long callback).
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import json
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


LAG_EVERY_S = 0.01


class LoopLag:
    """How late a callback due every LAG_EVERY_S ran: the loop's longest stall, per window."""

    def __init__(self) -> None:
        self.total = self._empty()
        self.window = self._empty()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._due = 0.0

    @staticmethod
    def _empty() -> dict[str, Any]:
        return {"max_ms": 0.0, "over_50ms": 0, "over_100ms": 0, "ticks": 0}

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._due = loop.time() + LAG_EVERY_S
        loop.call_at(self._due, self._tick)

    def _tick(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        late_ms = max(0.0, (now - self._due) * 1000.0)
        for stats in (self.total, self.window):
            stats["ticks"] += 1
            stats["max_ms"] = max(stats["max_ms"], late_ms)
            stats["over_50ms"] += late_ms > 50
            stats["over_100ms"] += late_ms > 100
        self._due = now + LAG_EVERY_S
        self._loop.call_at(self._due, self._tick)

    def take_window(self) -> dict[str, Any]:
        window, self.window = self.window, self._empty()
        return window


class GcTimer:
    def __init__(self, report: Path) -> None:
        self.report = report
        self.started = 0.0
        self.loop = ""
        self.total = self._empty()
        self.window = self._empty()
        self.lag = LoopLag()

    @staticmethod
    def _empty() -> dict[str, Any]:
        return {
            "collections": [0, 0, 0],
            "pause_ms_sum": [0.0, 0.0, 0.0],
            "max_pause_ms": 0.0,
            "max_pause_gen": None,
            "max_pause_collected": 0,
            "pauses_over_10ms": 0,
            "pauses_over_50ms": 0,
        }

    def callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
            return
        ms = (time.perf_counter() - self.started) * 1000.0
        gen = info["generation"]
        for stats in (self.total, self.window):
            stats["collections"][gen] += 1
            stats["pause_ms_sum"][gen] += ms
            if ms > stats["max_pause_ms"]:
                stats["max_pause_ms"] = ms
                stats["max_pause_gen"] = gen
                stats["max_pause_collected"] = info["collected"]
            stats["pauses_over_10ms"] += ms > 10
            stats["pauses_over_50ms"] += ms > 50
        if not self.loop:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self.loop = f"{type(loop).__module__}.{type(loop).__qualname__}"

    def dump(self, final: bool = False) -> str:
        data = {
            "loop": self.loop,
            # gc.get_freeze_count() walks the whole frozen list (CPython 3.11): ~110 ms with
            # 10,000 sockets frozen, a stall of its own; so only in the report at exit.
            "frozen_objects": gc.get_freeze_count() if final else None,
            "thresholds": gc.get_threshold(),
            "total": self.total,
            "window": self.window,
            "loop_lag": {"total": self.lag.total, "window": self.lag.take_window()},
        }
        self.window = self._empty()
        return json.dumps(data)

    def write(self, text: str) -> None:
        tmp = self.report.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(self.report)

    def on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        # The file is written off the event loop's thread: a write and a rename can wait on a
        # busy disk, and the loop's stalls are what this report measures.
        threading.Thread(target=self.write, args=(self.dump(),), daemon=True).start()

    def at_exit(self) -> None:
        self.write(self.dump(final=True))


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    timer = GcTimer(Path(sys.argv[1]))
    gc.callbacks.append(timer.callback)
    signal.signal(signal.SIGUSR1, timer.on_signal)
    atexit.register(timer.at_exit)
    import web.cli

    make_loop = web.cli._event_loop

    def timed_loop() -> asyncio.AbstractEventLoop:
        loop = make_loop()
        loop.call_soon(timer.lag.start, loop)
        return loop

    web.cli._event_loop = timed_loop
    return web.cli.main(sys.argv[2:])


if __name__ == "__main__":
    raise SystemExit(main())
