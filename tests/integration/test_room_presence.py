"""Presence in a room: another tab, network drops, resume within the grace, timeouts and leaving.

What each side sees decides what the UI shows ("reconnecting...", "left") and what clients do
with media (keep it with an ICE restart, or rebuild it), so every transition is checked from
both seats, including that relaying still reaches the right socket afterwards.
"""

from __future__ import annotations

from datetime import timedelta

from signaling import messages as m
from signaling.close_codes import CloseCode
from tests.support.apiclient import ADA, SAM, Api
from tests.support.rooms import alive, closed_with, drop, live_chat, pair, rejoin
from tests.support.signal_client import SignalClient, join

SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"


async def assert_relays(a: SignalClient, b: SignalClient) -> None:
    """Offers go both ways between these two sockets (each knows the other's current socket)."""
    await a.send(m.Offer(sdp=SDP + "a=from-a\r\n"))
    assert (await b.expect(m.RelayedOffer)).sdp.endswith("a=from-a\r\n")
    await b.send(m.Answer(sdp=SDP + "a=from-b\r\n"))
    assert (await a.expect(m.RelayedAnswer)).sdp.endswith("a=from-b\r\n")


async def test_second_tab_takes_over_the_seat(api: Api) -> None:
    """The newer tab wins: the old one is told why and closed with 4008 (no auto-reconnect), and
    the peer sees a fresh `peer_joined`, never a `peer_left` or `peer_reconnecting`."""
    chat_id, _ = await live_chat(api)
    ada_tab1, sam = await pair(api, chat_id)
    ada_tab2, joined = await join(api, ADA, chat_id)
    assert joined.peer.state == "connected" and joined.media_action == "new_connection"
    code, before = await closed_with(ada_tab1)
    assert code == CloseCode.REPLACED
    assert isinstance(before[-1], m.Replaced) and before[-1].message == CloseCode.REPLACED.reason
    peer_joined = await sam.expect(m.PeerJoined)
    assert peer_joined.peer.user_id == "ada" and peer_joined.media_action == "new_connection"
    await assert_relays(ada_tab2, sam)
    await alive(sam)
    assert not any(isinstance(x, m.PeerLeft | m.PeerReconnecting) for x in sam.received)
    await ada_tab2.close()
    await sam.close()


async def test_drop_then_resume_within_grace_restarts_ice(api: Api) -> None:
    """A lost socket holds the seat; resuming with media kept asks both sides for an ICE restart
    and replays only the chat the client has not seen."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    for i in (1, 2):
        await sam.send(m.ChatSend(client_msg_id=f"s{i}", text=f"message {i}"))
        await ada.expect(m.ChatMessage)
    drop(ada)
    reconnecting = await sam.expect(m.PeerReconnecting)
    assert reconnecting.grace_s == 60
    await sam.send(m.ChatSend(client_msg_id="s3", text="are you there?"))
    assert (await sam.expect(m.ChatAck)).seq == 3
    await sam.send(m.Offer(sdp=SDP))
    assert (await sam.expect(m.Error)).code == "peer_absent"

    api.clock.advance(timedelta(seconds=59))
    ada, joined = await rejoin(api, ADA, chat_id, resume=m.Resume(last_seq=2, media_kept=True))
    assert joined.media_action == "ice_restart" and joined.peer.state == "connected"
    assert [h.seq for h in joined.history] == [3] and joined.last_seq == 3
    assert joined.history[0].text == "are you there?"
    peer_joined = await sam.expect(m.PeerJoined)
    assert peer_joined.resumed is True and peer_joined.media_action == "ice_restart"
    await assert_relays(ada, sam)
    await ada.send(m.IceRestartRequest())
    await sam.expect(m.PeerIceRestartRequest)
    # The old grace timer must not fire on the resumed seat.
    api.clock.advance(timedelta(seconds=5))
    await alive(sam)
    assert not any(isinstance(x, m.PeerLeft) for x in sam.received)
    await ada.close()
    await sam.close()


async def test_resume_with_one_side_unable_to_restart_ice_rebuilds_media(api: Api) -> None:
    """A client that cannot restart ICE (aiortc) forces a new connection on either side."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id, sam_ice=False)
    drop(ada)
    await sam.expect(m.PeerReconnecting)
    ada, joined = await rejoin(api, ADA, chat_id, resume=m.Resume(last_seq=0, media_kept=True))
    assert joined.media_action == "new_connection"
    peer_joined = await sam.expect(m.PeerJoined)
    assert peer_joined.resumed is True and peer_joined.media_action == "new_connection"

    drop(sam)
    await ada.expect(m.PeerReconnecting)
    sam, joined = await rejoin(
        api, SAM, chat_id, resume=m.Resume(last_seq=0, media_kept=True), can_restart_ice=False
    )
    assert joined.media_action == "new_connection"
    assert (await ada.expect(m.PeerJoined)).media_action == "new_connection"
    await ada.close()
    await sam.close()


async def test_resume_without_kept_media_is_a_new_connection(api: Api) -> None:
    """A client that lost its RTCPeerConnection (page reload) needs fresh media on both sides."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    drop(sam)
    await ada.expect(m.PeerReconnecting)
    sam, joined = await rejoin(api, SAM, chat_id, resume=m.Resume(last_seq=0, media_kept=False))
    assert joined.media_action == "new_connection"
    peer_joined = await ada.expect(m.PeerJoined)
    assert peer_joined.resumed is True and peer_joined.media_action == "new_connection"
    await assert_relays(ada, sam)
    await ada.close()
    await sam.close()


async def test_joining_while_the_peer_is_reconnecting_waits(api: Api) -> None:
    """A seat held for a dropped peer shows as present-but-reconnecting, with nothing to do yet."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    drop(sam)
    await ada.expect(m.PeerReconnecting)
    await ada.send(m.Leave())
    assert (await closed_with(ada))[0] == CloseCode.NORMAL
    ada, joined = await rejoin(api, ADA, chat_id)
    assert joined.peer.state == "reconnecting" and joined.peer.present is True
    assert joined.media_action == "none"
    sam, joined_sam = await rejoin(api, SAM, chat_id, resume=m.Resume(last_seq=0, media_kept=True))
    assert joined_sam.peer.state == "connected"
    assert (await ada.expect(m.PeerJoined)).resumed is True
    await ada.close()
    await sam.close()


async def test_grace_expiry_tells_the_peer_timeout_and_a_late_return_is_fresh(api: Api) -> None:
    """After 60 s without a resume the seat is given up: `peer_left{timeout}`; coming back later
    still works while the room is open, as a fresh join with new media."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    drop(sam)
    await ada.expect(m.PeerReconnecting)
    api.clock.advance(timedelta(seconds=61))
    left = await ada.expect(m.PeerLeft)
    assert left.reason == "timeout"
    await ada.send(m.Offer(sdp=SDP))
    assert (await ada.expect(m.Error)).code == "peer_absent"
    sam, joined = await rejoin(api, SAM, chat_id, resume=m.Resume(last_seq=0, media_kept=True))
    assert joined.media_action == "new_connection"
    peer_joined = await ada.expect(m.PeerJoined)
    assert peer_joined.resumed is False and peer_joined.media_action == "new_connection"
    await assert_relays(ada, sam)
    await ada.close()
    await sam.close()


async def test_leave_closes_1000_and_peer_left_at_once(api: Api) -> None:
    """A deliberate hang-up is not a network drop: no grace, the peer is told straight away,
    and the person may come back while the room is open."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    await sam.send(m.Leave())
    code, before = await closed_with(sam)
    assert code == CloseCode.NORMAL and before == []
    left = await ada.expect(m.PeerLeft)
    assert left.reason == "left"
    assert not any(isinstance(x, m.PeerReconnecting) for x in ada.received)
    api.clock.advance(timedelta(seconds=61))  # no grace timer was started for a leave
    await alive(ada)
    assert sum(isinstance(x, m.PeerLeft) for x in ada.received) == 1
    sam, joined = await rejoin(api, SAM, chat_id)
    assert joined.peer.state == "connected" and joined.media_action == "new_connection"
    assert (await ada.expect(m.PeerJoined)).resumed is False
    await ada.close()
    await sam.close()


async def test_media_state_reaches_the_peer_and_survives_a_resume(api: Api) -> None:
    """Mute/camera flags are relayed live and reported again after a reconnect."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    await sam.send(m.MediaState(mic=False, camera=True, screen=False))
    flags = await ada.expect(m.PeerMediaState)
    assert (flags.mic, flags.camera, flags.screen) == (False, True, False)
    drop(ada)
    await sam.expect(m.PeerReconnecting)
    ada, joined = await rejoin(api, ADA, chat_id, resume=m.Resume(last_seq=0, media_kept=True))
    assert joined.peer.media_state.mic is False and joined.peer.media_state.camera is True
    await ada.close()
    await sam.close()


async def test_a_share_labelled_while_the_peer_reconnects_reaches_it_with_joined(api: Api) -> None:
    """`media_state` and `track_info` sent while the peer is away are stored and delivered when
    it comes back: the flags in `joined.peer`, the labels right after `joined` (before anything
    live), so a screen shared during a reconnect does not arrive unlabelled."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    await ada.send(m.TrackInfo(mid="0", purpose="camera"))
    assert (await sam.expect(m.PeerTrackInfo)).mid == "0"
    drop(sam)
    await ada.expect(m.PeerReconnecting)
    await ada.send(m.MediaState(mic=True, camera=True, screen=True))
    await ada.send(m.TrackInfo(mid="2", purpose="screen"))
    await alive(ada)
    sam, joined = await rejoin(api, SAM, chat_id, resume=m.Resume(last_seq=0, media_kept=True))
    assert joined.media_action == "ice_restart" and joined.peer.media_state.screen is True
    labels = [await sam.expect(m.PeerTrackInfo) for _ in range(2)]
    assert {(x.mid, x.purpose) for x in labels} == {("0", "camera"), ("2", "screen")}
    assert sam.received[1:3] == labels  # straight after `joined`
    await ada.close()
    await sam.close()


async def test_labels_of_a_kept_connection_reach_a_peer_that_was_away_too(api: Api) -> None:
    """Sam labels his camera, drops, and resumes keeping his connection: Ada gets his labels
    again after `peer_joined`; a fresh connection's old labels are never sent (they name
    transceivers that are gone)."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    await sam.send(m.TrackInfo(mid="1", purpose="camera"))
    await ada.expect(m.PeerTrackInfo)
    drop(sam)
    await ada.expect(m.PeerReconnecting)
    sam, _ = await rejoin(api, SAM, chat_id, resume=m.Resume(last_seq=0, media_kept=True))
    assert (await ada.expect(m.PeerJoined)).media_action == "ice_restart"
    label = await ada.expect(m.PeerTrackInfo)
    assert (label.mid, label.purpose) == ("1", "camera")
    drop(sam)
    await ada.expect(m.PeerReconnecting)
    sam, joined = await rejoin(api, SAM, chat_id, resume=m.Resume(last_seq=0, media_kept=False))
    assert joined.media_action == "new_connection"
    assert (await ada.expect(m.PeerJoined)).media_action == "new_connection"
    await alive(ada)
    await alive(sam)
    assert not any(isinstance(x, m.PeerTrackInfo) for x in sam.received)
    assert sum(isinstance(x, m.PeerTrackInfo) for x in ada.received) == 2
    await ada.close()
    await sam.close()
