"""Per-connection token buckets (docs/protocol.md, "Rate limits").

Token buckets allow the bursts real calls make (a flurry of ICE candidates at start) while capping
the sustained rate a misbehaving client can push through a room. What happens when a bucket runs
dry depends on who fills it: chat is typed by a person, so a chat message over the rate is
refused with an error and the call goes on; everything else is sent by software, and a client
flooding it is broken or hostile, so the connection closes.

A connection's buckets live in one `array` (not GC-tracked, one object per socket): at 10,000
sockets every object per socket is walked by each garbage collection (docs/performance.md).
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Final


class Verdict(Enum):
    ALLOW = "allow"
    REFUSE = "refuse"  # answer `error {rate_limited}`, drop the message, keep the connection
    CLOSE = "close"  # answer `error {rate_limited}`, then close with 1008


@dataclass(frozen=True, slots=True)
class Bucket:
    burst: float
    per_second: float
    when_dry: Verdict


ALL_MESSAGES: Final = Bucket(100.0, 20.0, Verdict.CLOSE)
NEGOTIATION: Final = Bucket(10.0, 0.5, Verdict.CLOSE)  # offer, answer
CHAT: Final = Bucket(5.0, 1.0, Verdict.REFUSE)  # chat_send
BAD_FRAMES: Final = Bucket(5.0, 1 / 60, Verdict.CLOSE)  # frames that fail to decode
# stats: one every 10 s is the protocol; a burst of 3 covers a resume, a sample is refused (not
# the call) beyond one every 5 s, so a chatty client costs the server nothing but an error.
STATS: Final = Bucket(3.0, 1 / 5, Verdict.REFUSE)

_BUCKETS: Final = (ALL_MESSAGES, NEGOTIATION, CHAT, BAD_FRAMES, STATS)
_ALL, _NEGOTIATION, _CHAT, _BAD, _STATS = range(5)
_BUCKET_OF_TYPE: Final = {
    "offer": _NEGOTIATION,
    "answer": _NEGOTIATION,
    "chat_send": _CHAT,
    "stats": _STATS,
}
# What a refused message's `error` says, by message type.
REFUSED_SENTENCES: Final = {
    "chat_send": "That message was not sent: you are sending them faster than one a second. "
    "Send it again in a moment.",
    "stats": "Call statistics arrive too often (one every 10 seconds is expected); "
    "this sample was ignored.",
}


class ConnectionLimits:
    """The buckets of one connection: `check` per decoded message, `bad_frame` per failure."""

    __slots__ = ("_monotonic", "_state")

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        now = monotonic()
        # tokens of bucket i at [2i], when they were last counted at [2i + 1]
        self._state = array("d", [v for b in _BUCKETS for v in (b.burst, now)])

    def _take(self, index: int, now: float) -> bool:
        bucket, state, at = _BUCKETS[index], self._state, 2 * index
        tokens = state[at]
        if now > state[at + 1]:
            tokens = min(bucket.burst, tokens + (now - state[at + 1]) * bucket.per_second)
            state[at + 1] = now
        if tokens < 1.0:
            state[at] = tokens
            return False
        state[at] = tokens - 1.0
        return True

    def check(self, msg_type: str) -> Verdict:
        now = self._monotonic()
        if not self._take(_ALL, now):
            return ALL_MESSAGES.when_dry
        index = _BUCKET_OF_TYPE.get(msg_type)
        if index is None or self._take(index, now):
            return Verdict.ALLOW
        return _BUCKETS[index].when_dry

    def bad_frame(self) -> bool:
        return self._take(_BAD, self._monotonic())
