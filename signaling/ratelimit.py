"""Per-connection token buckets (docs/protocol.md, "Rate limits").

Token buckets allow the bursts real calls make (a flurry of ICE candidates at start) while capping
the sustained rate a misbehaving client can push through a room.

The four buckets of a connection live in one object with one timestamp: every socket holds one
for its whole life, and five small objects per socket (four buckets and their holder) were five
more objects for every garbage collection to walk at 10,000 sockets (docs/performance.md).
Refilling all four at each check gives exactly what four separately stamped buckets would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

# (burst, tokens per second) of each bucket.
ALL_MESSAGES: Final = (100.0, 20.0)
NEGOTIATION: Final = (10.0, 0.5)  # offer, answer
CHAT: Final = (5.0, 1.0)
BAD_FRAMES: Final = (5.0, 1 / 60)


class ConnectionLimits:
    """The four buckets of one connection; `check` is False when the message's bucket is dry."""

    __slots__ = ("_all", "_bad", "_chat", "_monotonic", "_negotiation", "_stamp")

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._stamp = monotonic()
        self._all, self._negotiation = ALL_MESSAGES[0], NEGOTIATION[0]
        self._chat, self._bad = CHAT[0], BAD_FRAMES[0]

    def _refill(self) -> None:
        now = self._monotonic()
        elapsed, self._stamp = now - self._stamp, now
        if elapsed > 0:
            self._all = min(ALL_MESSAGES[0], self._all + elapsed * ALL_MESSAGES[1])
            self._negotiation = min(NEGOTIATION[0], self._negotiation + elapsed * NEGOTIATION[1])
            self._chat = min(CHAT[0], self._chat + elapsed * CHAT[1])
            self._bad = min(BAD_FRAMES[0], self._bad + elapsed * BAD_FRAMES[1])

    def check(self, msg_type: str) -> bool:
        self._refill()
        if self._all < 1.0:
            return False
        self._all -= 1.0
        if msg_type in ("offer", "answer"):
            if self._negotiation < 1.0:
                return False
            self._negotiation -= 1.0
        elif msg_type == "chat_send":
            if self._chat < 1.0:
                return False
            self._chat -= 1.0
        return True

    def bad_frame(self) -> bool:
        self._refill()
        if self._bad < 1.0:
            return False
        self._bad -= 1.0
        return True
