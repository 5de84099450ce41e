"""Run a Duet node (`web.cli.main`) with its garbage-collector pauses timed.

    python bench/signaling/gc_serve.py REPORT.json serve

Every collection is timed with `gc.callbacks`. The report (JSON) is written at exit and whenever
the process gets SIGUSR1, so the orchestrator can read the longest pause of each benchmark phase:
`window` covers the time since the previous report, `total` the whole run. It also records which
event loop served (`loop`) and how many objects `gc.freeze()` had frozen, to show what
`duet serve` itself configured. No environment variables, no change to the server.
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import json
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


class GcTimer:
    def __init__(self, report: Path) -> None:
        self.report = report
        self.started = 0.0
        self.loop = ""
        self.total = self._empty()
        self.window = self._empty()

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

    def dump(self) -> None:
        data = {
            "loop": self.loop,
            "frozen_objects": gc.get_freeze_count(),
            "thresholds": gc.get_threshold(),
            "total": self.total,
            "window": self.window,
        }
        tmp = self.report.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.report)
        self.window = self._empty()

    def on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self.dump()


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    timer = GcTimer(Path(sys.argv[1]))
    gc.callbacks.append(timer.callback)
    signal.signal(signal.SIGUSR1, timer.on_signal)
    atexit.register(timer.dump)
    from web.cli import main as duet_main

    return duet_main(sys.argv[2:])


if __name__ == "__main__":
    raise SystemExit(main())
