"""Call quality: the `stats` message's validation (table-driven, like every message), its rate
limit, the verdict of a sample, and the per-call summary's medians and maxima."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from rooms.call_quality import KEPT, Sample, Summary, grade
from signaling.codec import ProtocolError, decode
from signaling.messages import Stats
from signaling.ratelimit import REFUSED_SENTENCES, ConnectionLimits, Verdict

GOOD: dict[str, Any] = {
    "type": "stats",
    "rtt_ms": 40,
    "loss": 0,
    "jitter_ms": 5,
    "frames_decoded": 300,
    "frames_dropped": 0,
    "width": 640,
    "height": 480,
    "fps": 30,
    "pair": "host",
    "transport": "udp",
    "relay_mode": False,
}

# (what, field changes, expected error code, words in the message)
BAD_STATS: list[tuple[str, dict[str, Any], str, str]] = [
    ("negative rtt", {"rtt_ms": -1}, "out_of_range", "'rtt_ms' must be between 0 and 60000"),
    ("rtt of a minute and more", {"rtt_ms": 60_001}, "out_of_range", "rtt_ms"),
    ("rtt as text", {"rtt_ms": "40"}, "wrong_type", "'rtt_ms' must be an integer"),
    ("rtt as a fraction", {"rtt_ms": 40.5}, "wrong_type", "an integer"),
    ("loss over 1", {"loss": 1.5}, "out_of_range", "'loss' must be between 0 and 1"),
    ("negative loss", {"loss": -0.1}, "out_of_range", "loss"),
    ("loss as true", {"loss": True}, "wrong_type", "a number"),
    ("jitter too large", {"jitter_ms": 10**9}, "out_of_range", "jitter_ms"),
    ("negative frames", {"frames_decoded": -3}, "out_of_range", "frames_decoded"),
    ("a huge frame", {"width": 100_000}, "out_of_range", "width"),
    ("fps over 240", {"fps": 1000}, "out_of_range", "'fps' must be between 0 and 240"),
    ("unknown pair type", {"pair": "mdns"}, "bad_value", "pair"),
    ("unknown transport", {"transport": "quic"}, "bad_value", "transport"),
    ("relay_mode as 1", {"relay_mode": 1}, "wrong_type", "true or false"),
    ("an extra field", {"bitrate": 5}, "unknown_field", "bitrate"),
]


def frame(**changes: Any) -> str:
    return orjson.dumps({**GOOD, **changes}).decode()


def test_a_full_sample_and_an_empty_one_decode() -> None:
    msg = decode(frame())
    assert msg == Stats(
        rtt_ms=40,
        loss=0,
        jitter_ms=5,
        frames_decoded=300,
        frames_dropped=0,
        width=640,
        height=480,
        fps=30,
        pair="host",
        transport="udp",
        relay_mode=False,
    )
    assert decode('{"type":"stats"}') == Stats()
    assert decode('{"type":"stats","rtt_ms":null,"pair":null}') == Stats()


@pytest.mark.parametrize(
    ("what", "changes", "code", "words"), BAD_STATS, ids=[b[0] for b in BAD_STATS]
)
def test_bad_stats_are_refused_with_a_code_and_a_sentence(
    what: str, changes: dict[str, Any], code: str, words: str
) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode(frame(**changes))
    assert caught.value.code == code, what
    assert words in caught.value.message
    assert caught.value.ref_type == "stats"


def test_stats_faster_than_one_in_five_seconds_are_refused_not_fatal() -> None:
    now = [0.0]
    limits = ConnectionLimits(lambda: now[0])
    assert [limits.check("stats") for _ in range(4)] == [Verdict.ALLOW] * 3 + [Verdict.REFUSE]
    now[0] += 5.0
    assert limits.check("stats") == Verdict.ALLOW
    assert limits.check("stats") == Verdict.REFUSE
    now[0] += 10.0  # the protocol's pace is always allowed
    assert limits.check("stats") == Verdict.ALLOW
    assert "10 seconds" in REFUSED_SENTENCES["stats"]


@pytest.mark.parametrize(
    ("sample", "verdict", "words"),
    [
        (Sample(), "unknown", "Not measured yet."),
        (Sample(rtt_ms=40, loss=0.0, jitter_ms=5), "good", "Good connection: 40 ms round trip"),
        (Sample(rtt_ms=350, loss=0.0), "fair", "Fair connection: a 350 ms round trip."),
        (Sample(rtt_ms=40, loss=0.03), "fair", "3% of packets lost"),
        (Sample(rtt_ms=700, loss=0.1), "poor", "10% of packets lost and a 700 ms round trip"),
        (Sample(rtt_ms=50, jitter_ms=120), "poor", "120 ms of jitter"),
        (Sample(rtt_ms=50, fps=6, frames_decoded=60), "poor", "video at 6 frames a second"),
        (Sample(rtt_ms=50, fps=6, frames_decoded=0), "good", "Good"),  # no video: not judged
        (Sample(rtt_ms=650, loss=0.03), "poor", "Poor connection: a 650 ms round trip."),
    ],
)
def test_grade_names_the_worst_figures(sample: Sample, verdict: str, words: str) -> None:
    got, sentence = grade(sample)
    assert got == verdict
    assert words in sentence


def test_summary_keeps_medians_and_maxima_not_samples() -> None:
    summary = Summary()
    for rtt, loss in [(40, 0.0), (60, 0.01), (900, 0.2), (50, 0.0), (45, 0.0)]:
        summary.add(
            Sample(rtt_ms=rtt, loss=loss, jitter_ms=4, frames_decoded=290, frames_dropped=1, fps=29)
        )
    data = summary.as_dict()
    assert data["samples"] == 5
    assert data["rtt_ms"] == {"median": 50.0, "max": 900}
    assert data["loss"] == {"median": 0.0, "max": 0.2}
    assert data["frames_decoded"] == 1450 and data["frames_dropped"] == 5
    assert data["verdicts"] == {"good": 4, "fair": 0, "poor": 1, "unknown": 0}
    assert data["verdict"] == "good"  # one bad sample is not a bad call


def test_summary_window_is_bounded_and_the_maximum_outlives_it() -> None:
    summary = Summary()
    summary.add(Sample(rtt_ms=5000))
    for _ in range(KEPT + 10):
        summary.add(Sample(rtt_ms=100))
    assert len(summary.rtt_ms) == KEPT
    assert summary.as_dict()["rtt_ms"] == {"median": 100.0, "max": 5000}


def test_summary_carries_on_from_its_stored_form() -> None:
    first = Summary()
    for _ in range(6):
        first.add(Sample(rtt_ms=400, loss=0.0, pair="relay", transport="tls"))
    resumed = Summary.from_dict(first.as_dict())
    for _ in range(2):
        resumed.add(Sample(rtt_ms=40, loss=0.0))
    data = resumed.as_dict()
    assert data["samples"] == 8
    assert data["rtt_ms"] == {"median": 400.0, "max": 400}  # 6 of 8 samples said 400
    assert data["verdicts"]["fair"] == 6 and data["verdicts"]["good"] == 2
    assert (data["pair"], data["transport"]) == ("relay", "tls")


def test_path_names_how_media_travels() -> None:
    assert Sample(relay_mode=True, pair="host").path == "relay"
    assert Sample(pair="relay").path == "turn"
    assert Sample(pair="srflx").path == "direct"
    assert Sample().path == "unknown"
