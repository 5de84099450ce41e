"""The per-connection buckets (signaling/ratelimit.py) on a hand-moved clock: bursts, sustained
rates and refills as docs/protocol.md states them, and what a dry bucket means: chat (typed by a
person) is refused and the call goes on, machine-made traffic closes the connection."""

from __future__ import annotations

from signaling.ratelimit import ConnectionLimits, Verdict


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def taken(limits: ConnectionLimits, msg_type: str, times: int) -> int:
    return sum(limits.check(msg_type) == Verdict.ALLOW for _ in range(times))


def test_bursts_then_the_sustained_rate() -> None:
    clock = Clock()
    limits = ConnectionLimits(clock)
    assert taken(limits, "candidate", 150) == 100  # burst of 100
    clock.t += 1.0
    assert taken(limits, "candidate", 50) == 20  # then 20 per second
    clock.t += 3600
    assert taken(limits, "candidate", 150) == 100  # refilled, never above the burst


def test_offers_have_their_own_smaller_bucket_and_still_count_as_messages() -> None:
    clock = Clock()
    limits = ConnectionLimits(clock)
    assert taken(limits, "offer", 20) == 10
    assert taken(limits, "candidate", 100) == 80  # the refused offers spent tokens too
    clock.t += 2.0  # 0.5 offers per second: one more
    assert taken(limits, "answer", 5) == 1


def test_chat_and_bad_frames() -> None:
    clock = Clock()
    limits = ConnectionLimits(clock)
    assert taken(limits, "chat_send", 10) == 5
    clock.t += 1.0
    assert taken(limits, "chat_send", 10) == 1
    assert sum(limits.bad_frame() for _ in range(10)) == 5
    clock.t += 59.0
    assert not limits.bad_frame()
    clock.t += 1.0  # one bad frame per minute
    assert limits.bad_frame()


def test_time_going_backwards_adds_nothing() -> None:
    clock = Clock()
    limits = ConnectionLimits(clock)
    assert taken(limits, "chat_send", 5) == 5
    clock.t -= 100.0
    assert limits.check("chat_send") == Verdict.REFUSE


def test_a_dry_chat_bucket_refuses_and_only_floods_of_everything_close() -> None:
    clock = Clock()
    limits = ConnectionLimits(clock)
    verdicts = [limits.check("chat_send") for _ in range(8)]
    assert verdicts == [Verdict.ALLOW] * 5 + [Verdict.REFUSE] * 3
    assert limits.check("candidate") == Verdict.ALLOW  # the call goes on
    assert [limits.check("offer") for _ in range(11)][-1] == Verdict.CLOSE
    limits = ConnectionLimits(clock)
    assert [limits.check("chat_send") for _ in range(101)][-1] == Verdict.CLOSE
