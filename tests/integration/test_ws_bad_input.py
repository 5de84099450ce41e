"""Bad input on a joined socket: an `error` and the socket stays, or a documented close code.

Anything a client sends must end in one of the outcomes of docs/protocol.md sections 8-10, never
in an exception inside the handler, and never in a peer left waiting for someone who is gone.
"""

from __future__ import annotations

import orjson
import pytest

from signaling import messages as m
from signaling.close_codes import CloseCode
from signaling.codec import ProtocolError, decode
from tests.support.apiclient import ADA, SAM, Api
from tests.support.rooms import alive, closed_with, live_chat, pair
from tests.support.signal_client import SignalClient, join

SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"


def codec_code(frame: str) -> str:
    """What the codec itself says about `frame`: the server must send exactly this code."""
    with pytest.raises(ProtocolError) as refused:
        decode(frame)
    return refused.value.code


async def peer_is_told_and_served(peer: SignalClient) -> None:
    """After the other socket was closed for misbehaving, the peer learns it at once (no stale
    'connected' peer to send offers to) and its own socket keeps working."""
    left = await peer.expect(m.PeerLeft)
    assert left.reason == "left"
    await peer.send(m.Offer(sdp=SDP))
    assert (await peer.expect(m.Error)).code == "peer_absent"
    await alive(peer)


async def flood(client: SignalClient, msgs: list[m.ClientMessage]) -> None:
    """Send all of `msgs` as fast as possible; the server may cut the socket part-way."""
    for msg in msgs:
        try:
            await client.send(msg)
        except ConnectionResetError:
            return


BAD_FRAMES = [
    pytest.param("{not json", id="malformed"),
    pytest.param('{"type":"ping"} {}', id="trailing-data"),
    pytest.param("[1,2]", id="not-object"),
    pytest.param('{"ts":1}', id="missing-type"),
    pytest.param('{"type":"dance"}', id="unknown-type"),
    pytest.param('{"type":"peer_left","reason":"left"}', id="server-type-from-client"),
    pytest.param('{"type":"media_state","mic":1,"camera":true,"screen":false}', id="int-as-bool"),
    pytest.param('{"type":"track_info","mid":2,"purpose":"screen"}', id="int-as-string"),
    pytest.param('{"type":"media_state","mic":true,"camera":true}', id="missing-field"),
    pytest.param('{"type":"ping","ts":1,"extra":true}', id="unknown-field"),
    pytest.param('{"type":"track_info","mid":"0","purpose":"window"}', id="bad-enum"),
    pytest.param('{"type":"offer","sdp":"hello"}', id="not-sdp"),
    pytest.param(
        '{"type":"candidate","candidate":"candidate:1 1 udp 1 1.2.3.4 5 typ host"}',
        id="candidate-without-mid",
    ),
    pytest.param('{"type":"ping","ts":NaN}', id="nan"),
]


@pytest.mark.parametrize("frame", BAD_FRAMES)
async def test_bad_frame_gets_the_codec_error_and_the_socket_stays(api: Api, frame: str) -> None:
    """A client bug is reported with the codec's code and the type it refers to, and the call
    goes on: both sockets still work and relay to each other."""
    expected = codec_code(frame)
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    await ada.send_raw(frame)
    err = await ada.expect(m.Error)
    assert err.code == expected and err.code != "internal"
    assert err.message.endswith(".") and len(err.message) > 10
    await alive(ada)
    await ada.send(m.Offer(sdp=SDP))
    assert (await sam.expect(m.RelayedOffer)).sdp == SDP
    assert not any(isinstance(x, m.PeerLeft | m.PeerReconnecting) for x in sam.received)
    await ada.close()
    await sam.close()


async def test_error_names_the_refused_type(api: Api) -> None:
    """`ref_type` lets the client tie the error to the message it sent."""
    chat_id, _ = await live_chat(api)
    ada, _ = await join(api, ADA, chat_id)
    await ada.send_raw('{"type":"track_info","mid":"","purpose":"camera"}')
    err = await ada.expect(m.Error)
    assert (err.code, err.ref_type) == ("bad_length", "track_info")
    await ada.close()


async def test_binary_frame_on_json_socket_closes_1003(api: Api) -> None:
    """The subprotocol fixes the frame kind; the other kind is refused with 1003."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    await ada.send_raw(b'{"type":"ping"}')
    code, _ = await closed_with(ada)
    assert code == CloseCode.UNSUPPORTED_DATA
    await peer_is_told_and_served(sam)
    await sam.close()


async def test_text_frame_on_msgpack_socket_closes_1003(api: Api) -> None:
    """The same rule the other way round, for non-browser clients."""
    chat_id, _ = await live_chat(api)
    sam, _ = await join(api, SAM, chat_id, binary=True)
    await sam.send_raw('{"type":"ping"}')
    assert (await closed_with(sam))[0] == CloseCode.UNSUPPORTED_DATA


async def test_frame_of_exactly_64_kib_is_read_and_one_byte_more_closes_1009(api: Api) -> None:
    """64 KiB is the limit, inclusive: at the limit it is validated (here: too long an SDP),
    above it the socket closes with 1009 and the peer is told."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    head = '{"type":"offer","sdp":"v=0'
    at_limit = head + "x" * (64 * 1024 - len(head) - 2) + '"}'
    assert len(at_limit.encode()) == 64 * 1024
    await ada.send_raw(at_limit)
    err = await ada.expect(m.Error)
    assert (err.code, err.ref_type) == ("bad_length", "offer")
    await alive(ada)
    over = head + "x" * (64 * 1024 - len(head) - 1) + '"}'
    await ada.send_raw(over)
    code, before = await closed_with(ada)
    assert code == CloseCode.MESSAGE_TOO_BIG
    assert [(x.code, x.ref_type) for x in before] == [("too_big", None)]  # docs/protocol.md 8
    await peer_is_told_and_served(sam)
    await sam.close()


async def test_flooding_gets_rate_limited_then_1008(api: Api) -> None:
    """More than the 100-message burst at once: one `rate_limited` error, then 1008."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    await flood(ada, [m.Ping(ts=i) for i in range(300)])
    code, before = await closed_with(ada)
    assert code == CloseCode.POLICY_VIOLATION
    pongs = [x for x in before if isinstance(x, m.Pong)]
    # The burst of 100 plus whatever the 20/s refill added while the frames were arriving.
    assert 100 <= len(pongs) < 300 and [p.ts for p in pongs] == list(range(len(pongs)))
    assert isinstance(before[-1], m.Error) and before[-1].code == "rate_limited"
    assert before[-1].ref_type == "ping"
    await peer_is_told_and_served(sam)
    await sam.close()


async def test_too_many_bad_frames_close_1008(api: Api) -> None:
    """Five malformed frames are answered; the sixth in a minute closes the socket."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    for _ in range(6):
        await ada.send_raw("{oops")
    code, before = await closed_with(ada)
    assert code == CloseCode.POLICY_VIOLATION
    assert [x.code for x in before] == ["malformed"] * 5 + ["rate_limited"]
    await peer_is_told_and_served(sam)
    await sam.close()


async def test_a_person_typing_fast_loses_a_message_not_the_call(api: Api) -> None:
    """Chat over its bucket (5 at once, then 1/s) is refused one message at a time: the socket
    stays and the peer gets exactly the stored messages; the sender knows which ones to send
    again (the error names `chat_send`; the client paces and re-sends, web/static/js)."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    await flood(sam, [m.ChatSend(client_msg_id=f"c{i}", text="quick") for i in range(20)])
    acks: list[m.ChatAck] = []
    refused: list[m.Error] = []
    while len(acks) + len(refused) < 20:
        msg = await sam.recv()
        assert msg is not None, f"closed with {sam.ws.close_code}"
        if isinstance(msg, m.ChatAck):
            acks.append(msg)
        elif isinstance(msg, m.Error):
            refused.append(msg)
    assert 5 <= len(acks) < 20 and [a.seq for a in acks] == list(range(1, len(acks) + 1))
    assert {(e.code, e.ref_type) for e in refused} == {("rate_limited", "chat_send")}
    await alive(sam)
    seen = [x.seq for x in [await ada.expect(m.ChatMessage) for _ in acks]]
    assert seen == [a.seq for a in acks]
    await ada.close()
    await sam.close()


async def test_media_messages_while_the_peer_is_absent(api: Api) -> None:
    """Negotiation needs a peer (`peer_absent`); media flags are kept for when the peer comes."""
    chat_id, _ = await live_chat(api)
    ada, _ = await join(api, ADA, chat_id)
    for msg in (
        m.Offer(sdp=SDP),
        m.Answer(sdp=SDP),
        m.Candidate(candidate=None, sdpMid=None, sdpMLineIndex=None, usernameFragment=None),
        m.IceRestartRequest(),
    ):
        await ada.send(msg)
        err = await ada.expect(m.Error)
        assert (err.code, err.ref_type) == ("peer_absent", msg.type)
    await ada.send(m.MediaState(mic=False, camera=False, screen=True))
    await ada.send(m.TrackInfo(mid="2", purpose="screen"))
    await alive(ada)
    assert sum(isinstance(x, m.Error) for x in ada.received) == 4  # flags are not refused
    sam, joined = await join(api, SAM, chat_id)
    flags = joined.peer.media_state
    assert (flags.mic, flags.camera, flags.screen) == (False, False, True)
    await ada.close()
    await sam.close()


@pytest.mark.parametrize(("ada_ice", "sam_ice"), [(True, False), (False, True)])
async def test_ice_restart_request_when_a_side_cannot_restart(
    api: Api, ada_ice: bool, sam_ice: bool
) -> None:
    """Either side declaring `can_restart_ice: false` makes the request pointless for both."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id, ada_ice=ada_ice, sam_ice=sam_ice)
    for client in (ada, sam):
        await client.send(m.IceRestartRequest())
        err = await client.expect(m.Error)
        assert (err.code, err.ref_type) == ("not_supported", "ice_restart_request")
    await alive(ada)
    await alive(sam)
    assert not any(isinstance(x, m.PeerIceRestartRequest) for x in ada.received + sam.received)
    await ada.close()
    await sam.close()


async def test_ping_is_answered_with_the_same_ts(api: Api) -> None:
    """The browser's heartbeat: `pong` echoes `ts` exactly (int, fraction, or none)."""
    chat_id, _ = await live_chat(api)
    ada, _ = await join(api, ADA, chat_id)
    for ts in (1718000000123, 12.5, 0, None):
        await ada.send(m.Ping(ts=ts))
        pong = await ada.expect(m.Pong)
        assert pong.ts == ts and type(pong.ts) is type(ts)
    await ada.send_raw('{"type":"ping","ts":1718000000123}')
    frame = await ada.ws.receive(timeout=5)
    assert orjson.loads(frame.data) == {"type": "pong", "ts": 1718000000123}
    await ada.close()


async def test_second_join_on_a_socket_is_refused_and_the_socket_stays(api: Api) -> None:
    """A confused client re-sending `join` gets `already_joined`; the seat is unchanged."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    grant = await api.call(ADA, "POST", f"/api/v1/chats/{chat_id}/join")
    await ada.send(m.Join(v=1, ticket=grant["ticket"]))
    err = await ada.expect(m.Error)
    assert (err.code, err.ref_type) == ("already_joined", "join")
    await ada.send(m.Offer(sdp=SDP))
    assert (await sam.expect(m.RelayedOffer)).sdp == SDP
    assert not any(isinstance(x, m.PeerJoined | m.PeerLeft) for x in sam.received[1:])
    await ada.close()
    await sam.close()


async def test_second_join_with_another_version_closes_4010(api: Api) -> None:
    """`unsupported_version` is fatal wherever it appears: the peer is not left hanging."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    await ada.send_raw('{"type":"join","v":2,"ticket":"abc"}')
    code, before = await closed_with(ada)
    assert code == CloseCode.UNSUPPORTED_VERSION
    assert [x.code for x in before if isinstance(x, m.Error)] == ["unsupported_version"]
    await peer_is_told_and_served(sam)
    await sam.close()


async def test_oversized_first_frame_closes_1009(api: Api) -> None:
    """The size limit holds before `join` too: nothing over 64 KiB is buffered for anyone."""
    await live_chat(api)
    client = await SignalClient.open(api.client, binary=True)
    await client.send_raw(b"\x00" * (64 * 1024 + 1))
    code, before = await closed_with(client)
    assert code == CloseCode.MESSAGE_TOO_BIG
    assert [(x.code, x.ref_type) for x in before] == [("too_big", None)]
