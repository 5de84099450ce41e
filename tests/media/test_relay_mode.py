"""Relay mode through the running app: each client talks only to Duet's server-side peer.

Two aiortc clients (tests/support/media_client.py, unchanged from p2p) join a chat whose event has
media_mode "relay". The server must tell both to offer, answer them from its relay peers,
forward camera and microphone both ways, add the screen share to the other person's connection
(labelled by the mid on *that* connection), pause it when the share stops, and close its peers
when people leave. The encoded path must be the one used, unless it is switched off, in which
case the MediaRelay fallback must still carry the call. Run in a loopback-only network
namespace; the loopback_ice patch also covers the relay's own peers (the app runs in-process).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from media.relay import RelayRoom
from signaling import messages as m
from signaling.relay_glue import MediaRelayHub
from signaling.ws import NODE
from tests.support.apiclient import ADA, ORGANIZER, SAM, Api
from tests.support.media_client import MediaClient, api_dialer
from tests.support.peers import SyntheticVideoTrack
from tests.support.seed import EVENT, at, confirmed_chat

pytestmark = [pytest.mark.media, pytest.mark.usefixtures("loopback_ice")]

FRAMES = 15
AUDIO_FRAMES = 25
WITHIN = 15.0
CAMERA_SIZE = (320, 240)
SCREEN_SIZE = (480, 270)  # differs from the camera, so decoded frames show which track is which


class Call:
    """Two clients in one relay-mode chat, and the hub that relays them."""

    def __init__(self, api: Api, chat_id: str) -> None:
        self.chat_id = chat_id
        self.hub: MediaRelayHub = api.client.app[NODE].relay
        self.ada = MediaClient("ada", api_dialer(api, ADA, chat_id, binary=False))
        # Sam trickles like a browser and speaks msgpack: the relay must take trickled candidates.
        self.sam = MediaClient(
            "sam", api_dialer(api, SAM, chat_id, binary=True), binary=True, trickle=True
        )

    def room(self) -> RelayRoom:
        room = self.hub.room(self.chat_id)
        assert room is not None, "a relay room is open for the chat"
        return room

    async def start(self) -> None:
        joined = await self.ada.connect()
        assert joined.media_mode == "relay" and joined.media_action == "none"
        assert joined.offerer and joined.polite, "relay mode: every client offers, and is polite"
        joined = await self.sam.connect()
        assert joined.media_mode == "relay" and joined.media_action == "new_connection"
        assert joined.offerer and joined.polite
        for client in (self.ada, self.sam):
            assert client.peer is not None
            await client.peer.wait_connected(WITHIN)
        for client in (self.ada, self.sam):
            assert client.peer is not None
            assert await client.peer.wait_frames("video", FRAMES, WITHIN) >= FRAMES
            assert await client.peer.wait_frames("audio", AUDIO_FRAMES, WITHIN) >= AUDIO_FRAMES


@pytest.fixture
async def call(api: Api) -> AsyncIterator[Call]:
    chat_id, chat = await confirmed_chat(api)
    event_id = (await api.call(ORGANIZER, "GET", "/api/v1/events"))["events"][0]["id"]
    updated = await api.call(
        ORGANIZER, "PUT", f"/api/v1/events/{event_id}", {**EVENT, "media_mode": "relay"}
    )
    assert updated["media_mode"] == "relay"
    api.clock.set(at(chat["slot"]["starts_at"]) - timedelta(minutes=2))
    call = Call(api, chat_id)
    try:
        yield call
    finally:
        await call.sam.close()
        await call.ada.close()


def _relay_ports(room: RelayRoom, user_id: str) -> set[int]:
    sdp = room.connection(user_id).localDescription.sdp
    return {int(line.split()[5]) for line in sdp.splitlines() if line.startswith("a=candidate:")}


async def test_relay_forwards_encoded_camera_audio_and_screen_share(call: Call) -> None:
    ada, sam = call.ada, call.sam
    await call.start()
    room = call.room()
    assert ada.peer is not None and sam.peer is not None
    ada_pc, sam_pc = ada.peer, sam.peer

    # Media really ends at the relay: each client's ICE pair points at its relay peer's port.
    for client, user in ((ada_pc, ADA.id), (sam_pc, SAM.id)):
        remote_ports = {pair.remote_address[1] for pair in client.selected_pairs()}
        assert remote_ports and remote_ports <= _relay_ports(room, user)
    answers = [x for x in sam.messages if isinstance(x, m.RelayedAnswer)]
    assert answers and all("a=candidate:" in x.sdp for x in answers), "the relay's own answers"

    # The relay labels the camera by the mid on the receiving client's own connection.
    camera_mid = next(k for k, v in ada_pc.by_mid.items() if v is ada_pc.received["video"])
    assert ada_pc.by_mid[camera_mid].size == CAMERA_SIZE
    await ada.wait_until(lambda: ada.peer_tracks.get(camera_mid) == "camera", WITHIN, "label")

    # Encoded forwarding carried camera and mic both ways; aiortc's decoder never saw a frame.
    stats = room.stats()
    assert set(stats) == {
        f"to:{who}:{slot}" for who in (ADA.id, SAM.id) for slot in ("camera", "mic")
    }
    for key, figures in stats.items():
        assert figures["mode"] == "forward", key
        assert figures["forwarded"] > 0 and figures["decoded"] == 0, (key, figures)

    # Sam shares a screen: the relay adds it to Ada's connection with its own offer.
    await sam.start_screen_share(SyntheticVideoTrack(*SCREEN_SIZE))

    def screen_mid() -> str | None:
        return next((k for k, v in ada.peer_tracks.items() if v == "screen"), None)

    await ada.wait_until(lambda: screen_mid() in ada_pc.by_mid, WITHIN, "the screen track")
    mid = screen_mid()
    assert mid is not None and mid != camera_mid
    screen = ada_pc.by_mid[mid]
    assert await screen.wait_for(FRAMES, WITHIN) >= FRAMES
    assert screen.size == SCREEN_SIZE, "the mid labelled screen on Ada's side carries the screen"
    assert ada_pc.received["video"].size == CAMERA_SIZE, "the camera is still the camera"
    assert ada.peer_media is not None and ada.peer_media.screen
    screen_stats = room.stats()[f"to:{ADA.id}:screen:{mid}"]
    assert screen_stats["mid"] == mid and screen_stats["mode"] == "forward"
    assert screen_stats["forwarded"] >= FRAMES and screen_stats["decoded"] == 0

    # Sam stops: the relay pauses the forwarded transceiver on Ada's connection.
    await sam.wait_until(sam.stable, WITHIN, "the share's answer")
    await sam.stop_screen_share()
    screen_transceiver = next(t for t in ada_pc.pc.getTransceivers() if t.mid == mid)
    await ada.wait_until(
        lambda: screen_transceiver.currentDirection == "inactive", WITHIN, "the relay's pause"
    )
    await ada.wait_until(
        lambda: ada.peer_media is not None and not ada.peer_media.screen, WITHIN, "screen off"
    )
    stopped_at = screen.count
    camera = ada_pc.received["video"]
    await camera.wait_for(camera.count + 2 * FRAMES, WITHIN)
    assert screen.count - stopped_at <= 5
    assert not ada.failures and not sam.failures
    assert not ada.errors and not sam.errors

    # Sam leaves: the room's peers are closed and none of its tasks outlive it.
    await sam.close()
    await ada.expect(m.PeerLeft, WITHIN)
    assert call.hub.room(call.chat_id) is None and call.chat_id not in call.hub.chats
    await asyncio.wait_for(room.closed.wait(), WITHIN)  # closed in a task the hub tracks
    assert {room.connection(u).connectionState for u in (ADA.id, SAM.id)} == {"closed"}
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("relay-")]


async def test_relay_falls_back_to_media_relay_when_forwarding_is_off(call: Call) -> None:
    call.hub.forward_encoded = False  # as when the two connections negotiated different codecs
    await call.start()
    stats = call.room().stats()
    assert len(stats) == 4
    for key, figures in stats.items():
        assert figures["mode"] == "decode", key
        assert figures["decoded"] > 0 and figures["forwarded"] == 0, (key, figures)
    assert call.ada.peer is not None
    assert call.ada.peer.by_mid  # decoded, re-encoded and decoded again by Ada
    camera = call.ada.peer.received["video"]
    assert camera.size == CAMERA_SIZE  # type: ignore[attr-defined]
    assert not call.ada.failures and not call.sam.failures


async def test_ice_restart_request_is_refused_in_relay_mode(call: Call) -> None:
    await call.ada.connect()
    await call.sam.connect()
    await call.sam.send(m.IceRestartRequest())
    error = await call.sam.expect(m.Error, WITHIN)
    assert error.code == "not_supported" and error.ref_type == "ice_restart_request"
