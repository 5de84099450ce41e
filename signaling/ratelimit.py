"""Per-connection token buckets (docs/protocol.md, "Rate limits").

Token buckets allow the bursts real calls make (a flurry of ICE candidates at start) while capping
the sustained rate a misbehaving client can push through a room.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class TokenBucket:
    burst: float
    per_second: float
    monotonic: Callable[[], float] = time.monotonic
    tokens: float = field(init=False)
    stamp: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.burst
        self.stamp = self.monotonic()

    def take(self) -> bool:
        now = self.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.per_second)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@dataclass(slots=True)
class ConnectionLimits:
    """The four buckets of one connection; `check` names the bucket that ran dry, if any."""

    monotonic: Callable[[], float] = time.monotonic
    all_messages: TokenBucket = field(init=False)
    negotiation: TokenBucket = field(init=False)
    chat: TokenBucket = field(init=False)
    bad_frames: TokenBucket = field(init=False)

    def __post_init__(self) -> None:
        self.all_messages = TokenBucket(100, 20, self.monotonic)
        self.negotiation = TokenBucket(10, 0.5, self.monotonic)
        self.chat = TokenBucket(5, 1, self.monotonic)
        self.bad_frames = TokenBucket(5, 1 / 60, self.monotonic)

    def check(self, msg_type: str) -> bool:
        if not self.all_messages.take():
            return False
        if msg_type in ("offer", "answer"):
            return self.negotiation.take()
        if msg_type == "chat_send":
            return self.chat.take()
        return True

    def bad_frame(self) -> bool:
        return self.bad_frames.take()
