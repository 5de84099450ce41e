"""Chat messages reach every socket in `seq` order, also when the two people sit on two nodes.

The sender's own message comes straight from its node and the other person's a hop later through
Redis, so without ordering a socket saw its own 5 before the other's 4 (docs/protocol.md tells a
client to reconnect on such a gap). Two real nodes (two apps on one database, SQLite or PostgreSQL, and one
real redis-server) and two people typing at once: every socket sees 1, 2, 3, ... with no gap.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from signaling import messages as m
from signaling.ws import NODE
from tests.support.apiclient import ADA, SAM, Api
from tests.support.rooms import eventually, live_chat
from tests.support.signal_client import SignalClient, join

pytestmark = [pytest.mark.redis, pytest.mark.both_backends]


async def _chat_seqs(client: SignalClient, count: int) -> list[int]:
    seqs: list[int] = []
    while len(seqs) < count:
        msg = await client.expect(m.ChatMessage, within=10)
        seqs.append(msg.seq)
    return seqs


async def test_two_people_typing_at_once_on_two_nodes_see_every_seq_in_order(
    two_nodes: tuple[Api, Api],
) -> None:
    on_a, on_b = two_nodes
    chat_id, _ = await live_chat(on_a)
    burst = 5  # the chat bucket's burst: no message is refused
    for round_ in range(4):  # fresh sockets each round: fresh buckets, no waiting for refills
        ada, joined = await join(on_a, ADA, chat_id)
        sam, _ = await join(on_b, SAM, chat_id)
        await ada.expect(m.PeerJoined)
        for i in range(burst):  # both type at once: every pair races through the two nodes
            await asyncio.gather(
                ada.send(m.ChatSend(client_msg_id=f"a{round_}.{i}", text="from ada")),
                sam.send(m.ChatSend(client_msg_id=f"s{round_}.{i}", text="from sam")),
            )
        expected = list(range(joined.last_seq + 1, joined.last_seq + 2 * burst + 1))
        got_ada, got_sam = await asyncio.gather(
            _chat_seqs(ada, len(expected)), _chat_seqs(sam, len(expected))
        )
        assert got_ada == expected and got_sam == expected, (round_, got_ada, got_sam)
        await ada.close()
        await sam.close()


async def test_a_message_lost_between_nodes_is_read_from_the_log(
    two_nodes: tuple[Api, Api],
) -> None:
    """If the lower `seq` never arrives (a node died before forwarding it), the later one is
    not held for ever: after the short wait the log fills the gap."""
    on_a, on_b = two_nodes
    chat_id, _ = await live_chat(on_a)
    ada, _ = await join(on_a, ADA, chat_id)
    sam, _ = await join(on_b, SAM, chat_id)
    await ada.expect(m.PeerJoined)
    node_b = on_b.client.app[NODE]
    broker = node_b.broker
    real_send = broker.send

    async def lose_the_first(node_id: str, payload: bytes) -> None:
        broker.send = real_send  # the next one goes through
        # Stored already (persisted before any delivery); only its hop to node A is lost.

    broker.send = lose_the_first  # type: ignore[method-assign]
    await sam.send(m.ChatSend(client_msg_id="lost", text="one"))
    assert (await sam.expect(m.ChatMessage)).seq == 1
    await sam.send(m.ChatSend(client_msg_id="kept", text="two"))
    assert (await sam.expect(m.ChatMessage)).seq == 2
    adas_socket = on_a.client.app[NODE].local[(chat_id, ADA.id)]
    await eventually(lambda: adas_socket.chat_held is not None, "seq 2 held on node A")
    assert not [x for x in ada.received if isinstance(x, m.ChatMessage)]
    on_a.clock.advance(timedelta(seconds=1))  # the gap's wait is over: node A reads the log
    assert await _chat_seqs(ada, 2) == [1, 2]
    await ada.close()
    await sam.close()
