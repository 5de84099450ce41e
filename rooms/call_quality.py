"""Call quality: grading one `stats` sample, and the summary of a call kept per person.

Pure (no I/O, no clock): the signaling node feeds samples in, the storage (`quality_store.py`)
writes the summary, the live board and the `call.quality` webhook read it. A summary keeps the
figures' medians and maxima over the call, not the samples: a bounded window of the latest
values per figure (`KEPT`, an hour of samples at one every 10 s) is what the medians are taken
over, so memory per person is fixed however long a call runs.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from statistics import median
from typing import Any, Final, Literal

Verdict = Literal["good", "fair", "poor", "unknown"]
VERDICTS: Final[tuple[Verdict, ...]] = ("good", "fair", "poor", "unknown")
KEPT: Final = 360

# (fair from, poor from): a figure at or past a bound makes the verdict at least that bad.
RTT_MS: Final = (300, 600)
LOSS: Final = (0.02, 0.08)
JITTER_MS: Final = (40, 100)
# Received video below these frame rates looks choppy (only judged while video arrives).
FPS: Final = (15.0, 8.0)


@dataclass(frozen=True, slots=True)
class Sample:
    """One `stats` message's figures (None: not measured)."""

    rtt_ms: int | None = None
    loss: float | None = None
    jitter_ms: int | None = None
    frames_decoded: int | None = None
    frames_dropped: int | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    pair: str | None = None
    transport: str | None = None
    relay_mode: bool = False

    @property
    def path(self) -> str:
        """How media travels, for metrics' labels: through Duet's relay, a TURN relay, direct."""
        if self.relay_mode:
            return "relay"
        if self.pair == "relay":
            return "turn"
        if self.pair is None:
            return "unknown"
        return "direct"


def grade(sample: Sample) -> tuple[Verdict, str]:
    """The verdict of one sample and the sentence that explains it (a tooltip, in words)."""
    if sample.rtt_ms is None and sample.loss is None and sample.jitter_ms is None:
        return "unknown", "Not measured yet."
    problems: list[tuple[int, str]] = []  # (1 fair, 2 poor), what
    if sample.loss is not None:
        level = _level(sample.loss, LOSS)
        if level:
            problems.append((level, f"{sample.loss:.0%} of packets lost"))
    if sample.rtt_ms is not None:
        level = _level(sample.rtt_ms, RTT_MS)
        if level:
            problems.append((level, f"a {sample.rtt_ms} ms round trip"))
    if sample.jitter_ms is not None:
        level = _level(sample.jitter_ms, JITTER_MS)
        if level:
            problems.append((level, f"{sample.jitter_ms} ms of jitter"))
    if sample.fps is not None and sample.frames_decoded:
        level = 2 if sample.fps < FPS[1] else 1 if sample.fps < FPS[0] else 0
        if level:
            problems.append((level, f"video at {sample.fps:.0f} frames a second"))
    if not problems:
        return "good", f"Good connection: {_figures(sample)}."
    worst = max(level for level, _ in problems)
    what = _join([text for level, text in problems if level == worst])
    if worst == 2:
        return "poor", f"Poor connection: {what}."
    return "fair", f"Fair connection: {what}."


def _level(value: float, bounds: tuple[float, float]) -> int:
    return 2 if value >= bounds[1] else 1 if value >= bounds[0] else 0


def _figures(sample: Sample) -> str:
    parts = []
    if sample.rtt_ms is not None:
        parts.append(f"{sample.rtt_ms} ms round trip")
    if sample.loss is not None:
        parts.append("no packet loss" if sample.loss == 0 else f"{sample.loss:.1%} packet loss")
    if sample.jitter_ms is not None:
        parts.append(f"{sample.jitter_ms} ms jitter")
    return ", ".join(parts)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


@dataclass(slots=True)
class Summary:
    """One person's call so far. `add` a sample, `as_dict` for storage, metrics and webhooks;
    `from_dict` resumes one (a reconnect to another node carries on from the stored summary)."""

    samples: int = 0
    rtt_ms: deque[float] = field(default_factory=lambda: deque(maxlen=KEPT))
    loss: deque[float] = field(default_factory=lambda: deque(maxlen=KEPT))
    jitter_ms: deque[float] = field(default_factory=lambda: deque(maxlen=KEPT))
    fps: deque[float] = field(default_factory=lambda: deque(maxlen=KEPT))
    rtt_max: float | None = None
    loss_max: float | None = None
    jitter_max: float | None = None
    frames_decoded: int = 0
    frames_dropped: int = 0
    width: int | None = None
    height: int | None = None
    pair: str | None = None
    transport: str | None = None
    relay_mode: bool = False
    verdicts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VERDICTS, 0))
    last_verdict: Verdict = "unknown"

    def add(self, sample: Sample) -> tuple[Verdict, str]:
        """Take one sample in; returns its verdict and sentence."""
        verdict, words = grade(sample)
        self.samples += 1
        self.verdicts[verdict] += 1
        self.last_verdict = verdict
        if sample.rtt_ms is not None:
            self.rtt_ms.append(sample.rtt_ms)
            self.rtt_max = _max(self.rtt_max, sample.rtt_ms)
        if sample.loss is not None:
            self.loss.append(sample.loss)
            self.loss_max = _max(self.loss_max, sample.loss)
        if sample.jitter_ms is not None:
            self.jitter_ms.append(sample.jitter_ms)
            self.jitter_max = _max(self.jitter_max, sample.jitter_ms)
        if sample.fps is not None and sample.frames_decoded:
            self.fps.append(sample.fps)
        self.frames_decoded += sample.frames_decoded or 0
        self.frames_dropped += sample.frames_dropped or 0
        if sample.width is not None and sample.height is not None:
            self.width, self.height = sample.width, sample.height
        if sample.pair is not None:
            self.pair, self.transport = sample.pair, sample.transport
        self.relay_mode = sample.relay_mode
        return verdict, words

    def overall(self) -> Verdict:
        """The call's verdict: the grade of its median figures (one bad minute is not a bad call)."""
        typical = Sample(
            rtt_ms=_int(_median(self.rtt_ms)),
            loss=_median(self.loss),
            jitter_ms=_int(_median(self.jitter_ms)),
            fps=_median(self.fps),
            frames_decoded=self.frames_decoded,
        )
        return grade(typical)[0]

    def as_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "verdict": self.overall(),
            "verdicts": dict(self.verdicts),
            "rtt_ms": {"median": _median(self.rtt_ms), "max": self.rtt_max},
            "loss": {"median": _median(self.loss), "max": self.loss_max},
            "jitter_ms": {"median": _median(self.jitter_ms), "max": self.jitter_max},
            "fps_median": _median(self.fps),
            "frames_decoded": self.frames_decoded,
            "frames_dropped": self.frames_dropped,
            "frame_size": None if self.width is None else [self.width, self.height],
            "pair": self.pair,
            "transport": self.transport,
            "relay_mode": self.relay_mode,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Summary:
        """Carry a stored summary on: its medians stand for its samples (weighted by count), so
        the medians that follow stay close to the whole call's."""
        summary = cls()
        count = min(int(data.get("samples", 0)), KEPT)
        summary.samples = int(data.get("samples", 0))
        for name in ("rtt_ms", "loss", "jitter_ms"):
            figure = data.get(name) or {}
            if figure.get("median") is not None:
                getattr(summary, name).extend([figure["median"]] * count)
        summary.rtt_max = (data.get("rtt_ms") or {}).get("max")
        summary.loss_max = (data.get("loss") or {}).get("max")
        summary.jitter_max = (data.get("jitter_ms") or {}).get("max")
        if data.get("fps_median") is not None:
            summary.fps.extend([data["fps_median"]] * count)
        summary.frames_decoded = int(data.get("frames_decoded", 0))
        summary.frames_dropped = int(data.get("frames_dropped", 0))
        size = data.get("frame_size")
        if size:
            summary.width, summary.height = int(size[0]), int(size[1])
        summary.pair, summary.transport = data.get("pair"), data.get("transport")
        summary.relay_mode = bool(data.get("relay_mode", False))
        summary.verdicts.update({k: int(v) for k, v in (data.get("verdicts") or {}).items()})
        return summary


def _max(current: float | None, value: float) -> float:
    return value if current is None else max(current, value)


def _median(values: deque[float]) -> float | None:
    return None if not values else float(median(values))


def _int(value: float | None) -> int | None:
    return None if value is None else round(value)
