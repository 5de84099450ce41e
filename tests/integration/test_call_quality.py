"""Call quality over the real socket: each `stats` is graded for its sender (`quality`) and its
peer (`peer_quality`), the summary reaches the database while the call runs and when a socket
ends, the `call.quality` payload reads it, metrics move, and bad or too frequent samples get an
`error` without ending the call."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from rooms.quality_store import summaries_in
from scheduling.db import read_tx
from signaling import messages as m
from signaling.quality import SAVE_EVERY
from signaling.ws import NODE
from tests.support.apiclient import ADA, SAM, Api
from tests.support.rooms import alive, eventually, live_chat, pair
from web.keys import ENGINE

pytestmark = pytest.mark.both_backends

POOR = m.Stats(rtt_ms=700, loss=0.1, jitter_ms=30, pair="relay", transport="tls")
GOOD = m.Stats(rtt_ms=40, loss=0.0, jitter_ms=4, frames_decoded=300, fps=30, pair="host")


SIDES = {"employee": ADA.id, "participant": SAM.id}


async def payload(api: Api, chat_id: str) -> dict[str, object] | None:
    """Each side's stored summary (what the `call.quality` webhook is built from), or None."""
    async with read_tx(api.client.app[ENGINE]) as conn:
        by_user = (await summaries_in(conn, [chat_id])).get(chat_id)
    if not by_user:
        return None
    return {side: by_user.get(user_id) for side, user_id in SIDES.items()}


async def saved(api: Api, chat_id: str, side: str, samples: int) -> dict[str, Any]:
    """The side's stored summary once it holds `samples` (the server saves on its own)."""
    for _ in range(1000):
        found = await payload(api, chat_id)
        summary = None if found is None else found[side]
        if isinstance(summary, dict) and summary["samples"] == samples:
            return summary
        await asyncio.sleep(0.005)
    raise AssertionError(f"no summary of {samples} samples for the {side}")


async def test_stats_are_graded_for_both_people_and_summarised(api: Api) -> None:
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    seen: list[object] = []
    node = api.client.app[NODE]
    stop = node.live.listen(seen.append)
    await sam.send(POOR)
    mine = await sam.expect(m.Quality)
    theirs = await ada.expect(m.PeerQuality)
    assert mine.verdict == theirs.verdict == "poor"
    assert mine.words == theirs.words
    assert "10% of packets lost" in mine.words and "700 ms round trip" in mine.words
    await eventually(
        lambda: any(getattr(n, "kind", "") == "quality" for n in seen), "quality news on the board"
    )
    assert await payload(api, chat_id) is None  # not saved yet: every SAVE_EVERY samples
    for _ in range(SAVE_EVERY - 1):
        await sam.send(GOOD)
        assert (await sam.expect(m.Quality)).verdict == "good"
        assert (await ada.expect(m.PeerQuality)).verdict == "good"
    sam_summary = await saved(api, chat_id, "participant", SAVE_EVERY)
    assert sam_summary["rtt_ms"] == {"median": 40.0, "max": 700}
    assert sam_summary["verdicts"]["poor"] == 1
    # Ada's one sample is saved when her socket ends (a leave).
    await ada.send(GOOD)
    await ada.expect(m.Quality)
    await ada.send(m.Leave())
    await ada.closed()

    assert (await saved(api, chat_id, "employee", 1))["verdict"] == "good"
    got = await payload(api, chat_id)
    assert got is not None and got["participant"]["samples"] == SAVE_EVERY
    stop()
    await sam.close()


async def test_bad_and_too_frequent_stats_get_errors_and_the_call_goes_on(api: Api) -> None:
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    await sam.send_raw(orjson.dumps({"type": "stats", "loss": 3}).decode())
    error = await sam.expect(m.Error)
    assert (error.code, error.ref_type) == ("out_of_range", "stats")
    assert "'loss' must be between 0 and 1" in error.message
    for _ in range(3):  # the burst
        await sam.send(GOOD)
        await sam.expect(m.Quality)
    await sam.send(GOOD)
    refused = await sam.expect(m.Error)
    assert (refused.code, refused.ref_type) == ("rate_limited", "stats")
    assert "10 seconds" in refused.message
    await alive(sam)
    await alive(ada)
    await ada.close()
    await sam.close()
