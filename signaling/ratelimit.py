"""Per-connection token buckets (docs/protocol.md, "Rate limits").

Token buckets allow the bursts real calls make (a flurry of ICE candidates at start) while capping
the sustained rate a misbehaving client can push through a room.

The four buckets of a connection live in one object: every socket holds one for its whole life,
and five small objects per socket (four buckets and their holder) were five more objects for
every garbage collection to walk at 10,000 sockets (docs/performance.md). A check refills only
the buckets it takes from, each from its own timestamp, so a candidate costs two refills.
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
_NEGOTIATION_TYPES: Final = frozenset({"offer", "answer"})


class ConnectionLimits:
    """The four buckets of one connection; `check` is False when the message's bucket is dry."""

    __slots__ = (
        "_all",
        "_all_at",
        "_bad",
        "_bad_at",
        "_chat",
        "_chat_at",
        "_monotonic",
        "_negotiation",
        "_negotiation_at",
    )

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        now = monotonic()
        self._all, self._all_at = ALL_MESSAGES[0], now
        self._negotiation, self._negotiation_at = NEGOTIATION[0], now
        self._chat, self._chat_at = CHAT[0], now
        self._bad, self._bad_at = BAD_FRAMES[0], now

    def check(self, msg_type: str) -> bool:
        now = self._monotonic()
        if now > self._all_at:
            burst, rate = ALL_MESSAGES
            self._all = min(burst, self._all + (now - self._all_at) * rate)
            self._all_at = now
        if self._all < 1.0:
            return False
        self._all -= 1.0
        if msg_type in _NEGOTIATION_TYPES:
            if now > self._negotiation_at:
                burst, rate = NEGOTIATION
                self._negotiation = min(
                    burst, self._negotiation + (now - self._negotiation_at) * rate
                )
                self._negotiation_at = now
            if self._negotiation < 1.0:
                return False
            self._negotiation -= 1.0
        elif msg_type == "chat_send":
            if now > self._chat_at:
                burst, rate = CHAT
                self._chat = min(burst, self._chat + (now - self._chat_at) * rate)
                self._chat_at = now
            if self._chat < 1.0:
                return False
            self._chat -= 1.0
        return True

    def bad_frame(self) -> bool:
        now = self._monotonic()
        if now > self._bad_at:
            burst, rate = BAD_FRAMES
            self._bad = min(burst, self._bad + (now - self._bad_at) * rate)
            self._bad_at = now
        if self._bad < 1.0:
            return False
        self._bad -= 1.0
        return True
