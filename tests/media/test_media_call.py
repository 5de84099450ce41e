"""Real calls through the running app: two aiortc peers signal over Duet's WebSocket.

The signaling tests check messages; these check that following those messages as a client must
actually yields a working call: media and a data channel flow both ways, a screen share can be
added and stopped mid-call and is recognised by its mid, and a dropped socket can be resumed into
a fresh connection. Every wait is bounded; run inside a loopback-only network namespace.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from signaling import messages as m
from tests.support.apiclient import ADA, SAM, Api
from tests.support.media_client import MediaClient, api_dialer
from tests.support.peers import SyntheticVideoTrack
from tests.support.seed import at, confirmed_chat

pytestmark = [pytest.mark.media, pytest.mark.usefixtures("loopback_ice")]

FRAMES = 15  # ~0.5 s of 30 fps video: enough to prove decoding, cheap on 2 cores
AUDIO_FRAMES = 25  # 0.5 s of 20 ms audio frames
WITHIN = 15.0
SCREEN_SIZE = (480, 270)  # differs from the 320x240 camera, so frames show which track is which


@pytest.fixture
async def call(api: Api) -> AsyncIterator[tuple[MediaClient, MediaClient]]:
    """Ada (employee, offerer) and Sam (participant) in one confirmed chat, window open.

    Sam trickles candidates like a browser and speaks msgpack, so both SDP styles and both
    subprotocols are in every call.
    """
    chat_id, chat = await confirmed_chat(api)
    api.clock.set(at(chat["slot"]["starts_at"]) - timedelta(minutes=2))
    ada = MediaClient("ada", api_dialer(api, ADA, chat_id, binary=False))
    sam = MediaClient("sam", api_dialer(api, SAM, chat_id, binary=True), binary=True, trickle=True)
    try:
        yield ada, sam
    finally:
        await sam.close()
        await ada.close()


async def _connected(ada: MediaClient, sam: MediaClient) -> None:
    """Both peers connected and decoding each other's video and audio."""
    assert ada.peer is not None and sam.peer is not None
    await ada.peer.wait_connected(WITHIN)
    await sam.peer.wait_connected(WITHIN)
    for peer in (ada.peer, sam.peer):
        assert await peer.wait_frames("video", FRAMES, WITHIN) >= FRAMES
        assert await peer.wait_frames("audio", AUDIO_FRAMES, WITHIN) >= AUDIO_FRAMES


async def test_call_media_data_channel_and_screen_share(
    call: tuple[MediaClient, MediaClient],
) -> None:
    ada, sam = call
    joined = await ada.connect()
    assert joined.offerer and joined.media_action == "none"
    joined = await sam.connect()
    assert not joined.offerer and joined.polite and joined.media_action == "new_connection"
    await ada.wait_until(lambda: ada.generation == 1, WITHIN, "a peer connection")

    await _connected(ada, sam)
    assert sam.peer is not None and ada.peer is not None
    assert ada.candidates_added > 0, "Sam's trickled candidates were applied"
    answer = next(x for x in ada.messages if isinstance(x, m.RelayedAnswer))
    assert "a=candidate:" not in answer.sdp, "Sam's answer carried no candidates: all trickled"
    camera_mid = next(k for k, v in ada.peer.by_mid.items() if v is ada.peer.received["video"])
    assert ada.peer.by_mid[camera_mid].size == (320, 240)
    await ada.wait_until(lambda: sam.peer_tracks.get(camera_mid) == "camera", WITHIN, "labels")

    # The data channel Ada opened reaches Sam and carries messages both ways.
    ada_pc, sam_pc = ada.peer, sam.peer
    for client, peer in ((ada, ada_pc), (sam, sam_pc)):
        await client.wait_until(
            lambda p=peer: p.channel is not None and p.channel.readyState == "open", WITHIN, "dc"
        )
    assert ada_pc.channel is not None and sam_pc.channel is not None
    ada_pc.channel.send("hello from ada")
    sam_pc.channel.send("hello from sam")
    await sam.wait_until(lambda: "hello from ada" in sam_pc.channel_messages, WITHIN, "dc msg")
    await ada.wait_until(lambda: "hello from sam" in ada_pc.channel_messages, WITHIN, "dc msg")

    # Sam (the answerer so far) shares a screen: a second video track by renegotiation.
    mid = await sam.start_screen_share(SyntheticVideoTrack(*SCREEN_SIZE))
    assert mid != camera_mid
    await ada.wait_until(lambda: mid in ada_pc.by_mid, WITHIN, "the screen track")
    screen = ada_pc.by_mid[mid]
    assert await screen.wait_for(FRAMES, WITHIN) >= FRAMES
    assert screen.size == SCREEN_SIZE, "the track labelled screen carries the screen frames"
    assert ada.peer_tracks[mid] == "screen" and ada.peer_tracks[camera_mid] == "camera"
    assert ada.peer_media is not None and ada.peer_media.screen
    assert ada_pc.received["video"].size == (320, 240), "the camera is still the camera"
    await sam.wait_until(sam.stable, WITHIN, "the share's answer")

    # Sam stops sharing: transceiver inactive, renegotiation, media_state screen false.
    await sam.stop_screen_share()
    await ada.wait_until(
        lambda: ada.peer_media is not None and not ada.peer_media.screen, WITHIN, "screen off"
    )
    await sam.wait_until(sam.stable, WITHIN, "the stop's answer")
    screen_transceiver = next(t for t in ada_pc.pc.getTransceivers() if t.mid == mid)
    assert screen_transceiver.currentDirection == "inactive"
    # Once inactive no screen frames arrive while the camera keeps going (a few may be in flight).
    stopped_at = screen.count
    camera = ada_pc.received["video"]
    await camera.wait_for(camera.count + 2 * FRAMES, WITHIN)
    assert screen.count - stopped_at <= 5
    assert not ada.failures and not sam.failures
    assert not ada.errors and not sam.errors


async def test_dropped_socket_resumes_into_a_new_connection(
    call: tuple[MediaClient, MediaClient],
) -> None:
    ada, sam = call
    await ada.connect()
    await sam.connect()
    await _connected(ada, sam)

    # Sam's network drops: no close frame. Ada is told, and chats while Sam is away.
    seen = len(ada.messages)
    await sam.drop()
    reconnecting = await ada.expect(m.PeerReconnecting, WITHIN, after=seen)
    assert reconnecting.grace_s == 60
    ack = await ada.chat_send("are you still there?")

    # Sam resumes with a new ticket; aiortc cannot restart ICE, so both rebuild the connection.
    seen = len(ada.messages)
    joined = await sam.connect(resume=True)
    assert joined.media_action == "new_connection" and joined.peer.state == "connected"
    assert [h.seq for h in joined.history] == [ack.seq], "missed chat is replayed"
    peer_joined = await ada.expect(m.PeerJoined, WITHIN, after=seen)
    assert peer_joined.resumed and peer_joined.media_action == "new_connection"
    await ada.wait_until(lambda: ada.generation == 2, WITHIN, "a new peer connection")
    assert sam.generation == 2

    await _connected(ada, sam)
    await sam.chat_send("back again")
    assert (await ada.wait_chat("back again")).sender_id == SAM.id
    assert not ada.failures and not sam.failures
