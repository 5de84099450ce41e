"""The first thing users judge: both click Join, see each other's signaling, and chat."""

from __future__ import annotations

from datetime import timedelta

from signaling import messages as m
from tests.support.apiclient import ADA, SAM, Api
from tests.support.seed import at, confirmed_chat
from tests.support.signal_client import join


async def test_two_people_join_relay_and_chat(api: Api) -> None:
    chat_id, chat = await confirmed_chat(api)
    api.clock.set(at(chat["slot"]["starts_at"]) - timedelta(minutes=2))
    ada, joined_ada = await join(api, ADA, chat_id)
    assert joined_ada.offerer and not joined_ada.polite and joined_ada.peer.state == "absent"
    assert joined_ada.media_action == "none" and joined_ada.ice_servers == ()
    sam, joined_sam = await join(api, SAM, chat_id, binary=True)
    assert joined_sam.peer.state == "connected" and joined_sam.media_action == "new_connection"
    peer_joined = await ada.expect(m.PeerJoined)
    assert peer_joined.peer.user_id == "sam" and peer_joined.media_action == "new_connection"

    await ada.send(m.Offer(sdp="v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"))
    offer = await sam.expect(m.RelayedOffer)
    assert offer.sdp.startswith("v=0")
    await sam.send(m.ChatSend(client_msg_id="c1", text="Hello <b>Ada</b>"))
    ack = await sam.expect(m.ChatAck)
    got = await ada.expect(m.ChatMessage)
    assert ack.seq == got.seq == 1 and got.text == "Hello <b>Ada</b>" and got.sender_id == "sam"
    await ada.close()
    reconnecting = await sam.expect(m.PeerReconnecting)
    assert reconnecting.grace_s == 60
    await sam.close()
