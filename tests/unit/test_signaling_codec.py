"""Codec contract: every message round-trips in both encodings, every malformed frame maps to a
specific ProtocolError code, and no input whatsoever makes decode raise anything else."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import msgpack
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signaling.close_codes import FATAL_PROTOCOL_ERRORS, MAX_REASON_BYTES, REASONS, CloseCode
from signaling.codec import (
    ErrorCode,
    ProtocolError,
    decode,
    decode_server,
    encode,
    encode_json_bytes,
)
from signaling.messages import (
    CLIENT_MESSAGE_TYPES,
    MAX_CHAT_TEXT_CHARS,
    MAX_FRAME_BYTES,
    MAX_TICKET_CHARS,
    SERVER_MESSAGE_TYPES,
    Answer,
    Candidate,
    ChatAck,
    ChatEntry,
    ChatMessage,
    ChatSend,
    Error,
    IceRestartRequest,
    IceServer,
    Join,
    Joined,
    Leave,
    MediaFlags,
    MediaState,
    Offer,
    PeerIceRestartRequest,
    PeerInfo,
    PeerJoined,
    PeerLeft,
    PeerMediaState,
    PeerQuality,
    PeerReconnecting,
    PeerTrackInfo,
    Ping,
    Pong,
    Quality,
    RelayedAnswer,
    RelayedCandidate,
    RelayedOffer,
    Replaced,
    Resume,
    RoomClosing,
    Stats,
    TimeWarning,
    TrackInfo,
    You,
)

SDP = (
    "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "a=group:BUNDLE 0 1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:sHbV\r\na=ice-pwd:8f2bVx0eBRUr0dtDF0/aNSPs\r\na=mid:0\r\n"
)
CANDIDATE = "candidate:842163049 1 udp 1677729535 192.0.2.10 52546 typ srflx raddr 0.0.0.0 rport 0"
FLAGS = MediaFlags(mic=True, camera=False, screen=True)
PEER = PeerInfo(
    present=True, state="connected", user_id="u-2", name="Zoë Ångström", media_state=FLAGS
)

CLIENT_SAMPLES: list[Any] = [
    Join(v=1, ticket="tkt_9f8e7d6c5b4a3210"),
    Join(v=1, ticket="a.b-c_d", resume=Resume(last_seq=17, media_kept=True), can_restart_ice=False),
    Offer(sdp=SDP),
    Answer(sdp=SDP),
    Candidate(candidate=CANDIDATE, sdpMid="0", sdpMLineIndex=0, usernameFragment="sHbV"),
    Candidate(candidate=CANDIDATE, sdpMid=None, sdpMLineIndex=1),
    Candidate(candidate=None),
    Candidate(candidate="", sdpMid="0", sdpMLineIndex=0),
    MediaState(mic=False, camera=True, screen=False),
    TrackInfo(mid="2", purpose="screen"),
    ChatSend(client_msg_id="c-01HZX:1", text="Hello 👋\nwhat does a day look like?"),
    ChatSend(client_msg_id="x" * 64, text="é" * MAX_CHAT_TEXT_CHARS),
    IceRestartRequest(),
    Ping(),
    Ping(ts=1718000000123),
    Ping(ts=12345.678),
    Leave(),
    Stats(),
    Stats(
        rtt_ms=42,
        loss=0.013,
        jitter_ms=7,
        frames_decoded=298,
        frames_dropped=2,
        width=640,
        height=480,
        fps=29.8,
        pair="relay",
        transport="tls",
        relay_mode=True,
    ),
]

SERVER_SAMPLES: list[Any] = [
    Joined(
        you=You(user_id="u-1", role="employee", name="Ada"),
        peer=PEER,
        polite=False,
        offerer=True,
        media_action="new_connection",
        history=(
            ChatEntry(seq=1, client_msg_id="m1", sender_id="u-2", text="hi", sent_at=1718000000000),
            ChatEntry(
                seq=2, client_msg_id="m2", sender_id="u-1", text="hey", sent_at=1718000000500
            ),
        ),
        last_seq=2,
        ends_at=1718001800000,
        now=1718000001000,
        seconds_left=1799,
        media_mode="relay",
        ice_servers=(
            IceServer(urls=("stun:stun.example.org:3478",)),
            IceServer(
                urls=("turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:443"),
                username="1718003600:u-1",
                credential="c2VjcmV0",
            ),
        ),
    ),
    Joined(
        you=You(user_id="u-2", role="participant", name="Bo"),
        peer=PeerInfo(
            present=False,
            state="absent",
            user_id="u-1",
            name="Ada",
            media_state=MediaFlags(mic=False, camera=False, screen=False),
        ),
        polite=True,
        offerer=False,
        media_action="none",
        history=(),
        last_seq=0,
        ends_at=1718001800000,
        now=1718000001000,
        seconds_left=0,
        media_mode="p2p",
        ice_servers=(),
    ),
    PeerJoined(peer=PEER, resumed=True, media_action="ice_restart"),
    PeerLeft(reason="timeout"),
    PeerReconnecting(grace_s=60),
    RelayedOffer(sdp=SDP),
    RelayedAnswer(sdp=SDP),
    RelayedCandidate(candidate=CANDIDATE, sdpMid="0", sdpMLineIndex=0, usernameFragment="sHbV"),
    PeerMediaState(mic=True, camera=True, screen=False),
    PeerTrackInfo(mid="1", purpose="camera"),
    PeerIceRestartRequest(),
    ChatMessage(seq=3, client_msg_id="m3", sender_id="u-2", text="👍", sent_at=1718000002000),
    ChatAck(client_msg_id="m3", seq=3, sent_at=1718000002000),
    TimeWarning(seconds_left=300),
    RoomClosing(reason="ended", message="The time for this chat is up."),
    Replaced(message="You joined this chat in another tab."),
    Error(code="rate_limited", message="You are sending messages too quickly."),
    Error(code="bad_length", message="The message is too long.", ref_type="chat_send"),
    Pong(ts=1.5),
    Pong(),
    Quality(verdict="fair", words="Fair connection: 3% of packets lost."),
    PeerQuality(verdict="unknown", words="Not measured yet."),
]

CODEC_CODES = {
    "too_big",
    "bad_utf8",
    "malformed",
    "not_object",
    "missing_type",
    "unknown_type",
    "missing_field",
    "unknown_field",
    "wrong_type",
    "bad_length",
    "out_of_range",
    "bad_value",
    "unsupported_version",
}


def _ident(msg: Any) -> str:
    return type(msg).__name__


# --- round trips -------------------------------------------------------------------------------


def test_samples_cover_every_message_type() -> None:
    assert {type(m) for m in CLIENT_SAMPLES} == set(CLIENT_MESSAGE_TYPES)
    assert {type(m) for m in SERVER_SAMPLES} == set(SERVER_MESSAGE_TYPES)


@pytest.mark.parametrize("binary", [False, True], ids=["json", "msgpack"])
@pytest.mark.parametrize("msg", CLIENT_SAMPLES, ids=_ident)
def test_client_message_round_trip(msg: Any, binary: bool) -> None:
    frame = encode(msg, binary)
    assert isinstance(frame, bytes if binary else str)
    assert decode(frame) == msg


@pytest.mark.parametrize("binary", [False, True], ids=["json", "msgpack"])
@pytest.mark.parametrize("msg", SERVER_SAMPLES, ids=_ident)
def test_server_message_round_trip(msg: Any, binary: bool) -> None:
    assert decode_server(encode(msg, binary)) == msg


@pytest.mark.parametrize("msg", CLIENT_SAMPLES + SERVER_SAMPLES, ids=_ident)
def test_both_encodings_carry_the_same_map(msg: Any) -> None:
    as_json = orjson.loads(encode(msg, False))
    as_msgpack = msgpack.unpackb(encode(msg, True))
    assert as_json == as_msgpack
    assert next(iter(as_json)) == "type" and as_json["type"] == msg.type
    assert encode_json_bytes(msg) == encode(msg, False).encode()


def test_candidate_uses_browser_field_names() -> None:
    """RTCIceCandidate.toJSON() plus a `type` is a valid frame, and we emit exactly that shape."""
    browser = {
        "candidate": CANDIDATE,
        "sdpMid": "0",
        "sdpMLineIndex": 0,
        "usernameFragment": "sHbV",
    }
    msg = decode(orjson.dumps({"type": "candidate", **browser}).decode())
    assert orjson.loads(encode(msg, False)) == {"type": "candidate", **browser}


def test_offer_is_an_rtc_session_description() -> None:
    """`pc.localDescription.toJSON()` is {type, sdp}: it is sent as is."""
    assert decode(orjson.dumps({"type": "offer", "sdp": SDP}).decode()) == Offer(sdp=SDP)


def test_absent_and_null_optionals_take_defaults() -> None:
    assert decode('{"type":"join","v":1,"ticket":"t1","resume":null,"can_restart_ice":null}') == (
        Join(v=1, ticket="t1", resume=None, can_restart_ice=True)
    )
    assert decode('{"type":"candidate","candidate":null}') == Candidate(
        candidate=None, sdpMid=None, sdpMLineIndex=None, usernameFragment=None
    )
    assert decode('{"type":"ping","ts":null}') == Ping(ts=None)


def test_direction_is_enforced() -> None:
    with pytest.raises(ProtocolError) as client_side:
        decode(encode(SERVER_SAMPLES[0], False))
    assert client_side.value.code == "unknown_type"
    with pytest.raises(ProtocolError) as server_side:
        decode_server(encode(CLIENT_SAMPLES[0], True))
    assert server_side.value.code == "unknown_type"


def test_type_cannot_be_overridden_at_construction() -> None:
    with pytest.raises(TypeError):
        Offer(sdp=SDP, type="answer")  # type: ignore[call-arg]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Offer(sdp=SDP).sdp = "v=1"  # type: ignore[misc]


def test_encode_refuses_non_messages() -> None:
    with pytest.raises(TypeError):
        encode(FLAGS, False)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        encode({"type": "ping"}, True)  # type: ignore[arg-type]


def test_relayed_messages_are_the_client_messages_themselves() -> None:
    """What the peer sent reaches the other client as sent: the server's relayed types are the
    client's classes, so both directions decode to the same message."""
    relayed = (Offer, Answer, Candidate, MediaState, TrackInfo, IceRestartRequest)
    assert set(relayed) <= set(SERVER_MESSAGE_TYPES)
    for msg in CLIENT_SAMPLES:
        if type(msg) in relayed:
            for binary in (False, True):
                assert decode_server(encode(msg, binary)) == msg


# --- malformed frames ------------------------------------------------------------------------

J = orjson.dumps
OK_CAND = {"type": "candidate", "candidate": CANDIDATE, "sdpMid": "0", "sdpMLineIndex": 0}

MALFORMED: list[tuple[str, str | bytes, str, str | None]] = [
    # (id, frame, code, ref_type)
    ("empty text", "", "malformed", None),
    ("not json", "{type: offer}", "malformed", None),
    ("trailing data", '{"type":"leave"} {}', "malformed", None),
    ("nan literal", '{"type":"ping","ts":NaN}', "malformed", None),
    ("infinity", '{"type":"ping","ts":1e400}', "malformed", None),
    (
        "lone surrogate",
        '{"type":"chat_send","client_msg_id":"a","text":"\ud800"}',
        "bad_utf8",
        None,
    ),
    # docs/protocol.md 2: lone surrogates are rejected as bad_utf8, also when sent as an escape
    ("escaped lone low surrogate", '{"type":"leave","x":"\\udc00"}', "bad_utf8", None),
    (
        "escaped lone high surrogate",
        '{"type":"chat_send","client_msg_id":"a","text":"\\ud83d!"}',
        "bad_utf8",
        None,
    ),
    (
        "escaped surrogate pair",
        '{"type":"ping","ts":1,"x":"\\ud83d\\ude00"}',
        "unknown_field",
        "ping",
    ),
    ("array", '[{"type":"leave"}]', "not_object", None),
    ("string", '"leave"', "not_object", None),
    ("null", "null", "not_object", None),
    ("number", "42", "not_object", None),
    ("no type", '{"sdp":"v=0"}', "missing_type", None),
    ("unknown type", '{"type":"shutdown"}', "unknown_type", None),
    ("type not a string", '{"type":["offer"]}', "unknown_type", None),
    ("type is null", '{"type":null}', "unknown_type", None),
    ("server type from client", '{"type":"joined"}', "unknown_type", None),
    ("missing sdp", '{"type":"offer"}', "missing_field", "offer"),
    ("extra field", '{"type":"leave","why":"bored"}', "unknown_field", "leave"),
    ("sdp wrong type", '{"type":"answer","sdp":5}', "wrong_type", "answer"),
    ("sdp null", '{"type":"answer","sdp":null}', "wrong_type", "answer"),
    ("sdp empty", '{"type":"offer","sdp":""}', "bad_length", "offer"),
    ("sdp not sdp", '{"type":"offer","sdp":"hello"}', "bad_value", "offer"),
    ("version 2", '{"type":"join","v":2,"ticket":"t"}', "unsupported_version", "join"),
    ("version 2 new fields", '{"type":"join","v":2,"token":"t"}', "unsupported_version", "join"),
    ("version 0", '{"type":"join","v":0,"ticket":"t"}', "unsupported_version", "join"),
    ("version string", '{"type":"join","v":"1","ticket":"t"}', "wrong_type", "join"),
    ("version bool", '{"type":"join","v":true,"ticket":"t"}', "wrong_type", "join"),
    ("no version", '{"type":"join","ticket":"t"}', "missing_field", "join"),
    ("ticket space", '{"type":"join","v":1,"ticket":"a b"}', "bad_value", "join"),
    (
        "ticket long",
        J({"type": "join", "v": 1, "ticket": "t" * (MAX_TICKET_CHARS + 1)}).decode(),
        "bad_length",
        "join",
    ),
    ("resume not object", '{"type":"join","v":1,"ticket":"t","resume":3}', "wrong_type", "join"),
    (
        "resume negative",
        '{"type":"join","v":1,"ticket":"t","resume":{"last_seq":-1,"media_kept":true}}',
        "out_of_range",
        "join",
    ),
    (
        "resume extra",
        '{"type":"join","v":1,"ticket":"t","resume":{"last_seq":1,"media_kept":true,"x":1}}',
        "unknown_field",
        "join",
    ),
    (
        "resume missing",
        '{"type":"join","v":1,"ticket":"t","resume":{"last_seq":1}}',
        "missing_field",
        "join",
    ),
    (
        "resume seq float",
        '{"type":"join","v":1,"ticket":"t","resume":{"last_seq":1.0,"media_kept":true}}',
        "wrong_type",
        "join",
    ),
    (
        "seq beyond js",
        J(
            {
                "type": "join",
                "v": 1,
                "ticket": "t",
                "resume": {"last_seq": 2**53, "media_kept": True},
            }
        ).decode(),
        "out_of_range",
        "join",
    ),
    ("mline bool", J({**OK_CAND, "sdpMLineIndex": True}).decode(), "wrong_type", "candidate"),
    ("mline negative", J({**OK_CAND, "sdpMLineIndex": -1}).decode(), "out_of_range", "candidate"),
    ("mline huge", J({**OK_CAND, "sdpMLineIndex": 70000}).decode(), "out_of_range", "candidate"),
    ("candidate key missing", '{"type":"candidate","sdpMid":"0"}', "missing_field", "candidate"),
    (
        "candidate without mid",
        J({"type": "candidate", "candidate": CANDIDATE}).decode(),
        "bad_value",
        "candidate",
    ),
    ("candidate garbage", J({**OK_CAND, "candidate": "x"}).decode(), "bad_value", "candidate"),
    (
        "candidate long",
        J({**OK_CAND, "candidate": "candidate:" + "1" * 1100}).decode(),
        "bad_length",
        "candidate",
    ),
    (
        "media flag int",
        '{"type":"media_state","mic":1,"camera":true,"screen":false}',
        "wrong_type",
        "media_state",
    ),
    (
        "media flag missing",
        '{"type":"media_state","mic":true,"camera":true}',
        "missing_field",
        "media_state",
    ),
    (
        "purpose unknown",
        '{"type":"track_info","mid":"1","purpose":"window"}',
        "bad_value",
        "track_info",
    ),
    ("mid empty", '{"type":"track_info","mid":"","purpose":"screen"}', "bad_length", "track_info"),
    ("chat empty", '{"type":"chat_send","client_msg_id":"a","text":""}', "bad_length", "chat_send"),
    (
        "chat blank",
        '{"type":"chat_send","client_msg_id":"a","text":" \\n\\t "}',
        "bad_value",
        "chat_send",
    ),
    (
        "chat too long",
        J(
            {"type": "chat_send", "client_msg_id": "a", "text": "x" * (MAX_CHAT_TEXT_CHARS + 1)}
        ).decode(),
        "bad_length",
        "chat_send",
    ),
    (
        "chat control char",
        '{"type":"chat_send","client_msg_id":"a","text":"a\\u0007b"}',
        "bad_value",
        "chat_send",
    ),
    (
        "chat nul",
        '{"type":"chat_send","client_msg_id":"a","text":"a\\u0000"}',
        "bad_value",
        "chat_send",
    ),
    (
        "client id empty",
        '{"type":"chat_send","client_msg_id":"","text":"hi"}',
        "bad_length",
        "chat_send",
    ),
    (
        "client id 65",
        J({"type": "chat_send", "client_msg_id": "a" * 65, "text": "hi"}).decode(),
        "bad_length",
        "chat_send",
    ),
    (
        "client id spaces",
        '{"type":"chat_send","client_msg_id":"a b","text":"hi"}',
        "bad_value",
        "chat_send",
    ),
    (
        "chat text object",
        '{"type":"chat_send","client_msg_id":"a","text":{"html":"<b>"}}',
        "wrong_type",
        "chat_send",
    ),
    ("ping ts string", '{"type":"ping","ts":"now"}', "wrong_type", "ping"),
    ("ping ts bool", '{"type":"ping","ts":false}', "wrong_type", "ping"),
    # msgpack
    ("empty bytes", b"", "malformed", None),
    ("truncated msgpack", msgpack.packb({"type": "offer", "sdp": SDP})[:-3], "malformed", None),
    ("extra msgpack data", msgpack.packb({"type": "leave"}) + b"\x00", "malformed", None),
    ("msgpack bad utf8", b"\x81\xa4type\xa2\xff\xfe", "bad_utf8", None),
    ("msgpack list key", b"\x81\x91\x01\x01", "malformed", None),
    ("msgpack ext", msgpack.packb({"type": msgpack.ExtType(1, b"ab")}), "malformed", None),
    (
        "msgpack timestamp",
        msgpack.packb({"type": "ping", "ts": msgpack.Timestamp(1)}),
        "malformed",
        None,
    ),
    ("msgpack nested too deep", b"\x91" * 5000 + b"\xc0", "malformed", None),
    ("msgpack array", msgpack.packb(["leave"]), "not_object", None),
    ("msgpack bin type", msgpack.packb({"type": b"leave"}), "unknown_type", None),
    ("msgpack bin field", msgpack.packb({"type": "offer", "sdp": b"v=0"}), "wrong_type", "offer"),
    ("msgpack bytes key", msgpack.packb({"type": "leave", b"x": 1}), "unknown_field", "leave"),
    ("msgpack nan", msgpack.packb({"type": "ping", "ts": math.nan}), "bad_value", "ping"),
    ("msgpack inf", msgpack.packb({"type": "ping", "ts": -math.inf}), "bad_value", "ping"),
    (
        "msgpack u64",
        msgpack.packb({"type": "join", "v": 2**64 - 1, "ticket": "t"}),
        "unsupported_version",
        "join",
    ),
    # size
    (
        "text over 64 KiB",
        J({"type": "offer", "sdp": "v=0" + "a" * MAX_FRAME_BYTES}).decode(),
        "too_big",
        None,
    ),
    (
        "bytes over 64 KiB",
        msgpack.packb({"type": "offer", "sdp": "v=0" + "a" * MAX_FRAME_BYTES}),
        "too_big",
        None,
    ),
    # 20k characters but 80 KB of UTF-8: the limit is in bytes
    (
        "multibyte over 64 KiB",
        J({"type": "offer", "sdp": "v=0" + "😀" * 20_000}).decode(),
        "too_big",
        None,
    ),
]


@pytest.mark.parametrize(
    ("frame", "code", "ref_type"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_frame_raises_specific_error(
    frame: str | bytes, code: str, ref_type: str | None
) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode(frame)
    assert caught.value.code == code
    assert caught.value.ref_type == ref_type
    assert caught.value.message.endswith(".") and caught.value.message[0].isupper()


def test_error_messages_stay_short_for_hostile_input() -> None:
    """Messages are echoed in `error`, whose `message` is at most 500 characters."""
    with pytest.raises(ProtocolError) as caught:
        decode(orjson.dumps({"type": "leave", "k" * 60_000: 1}).decode())
    assert caught.value.code == "unknown_field"
    assert len(caught.value.message) < 100
    echoed = Error(code=caught.value.code, message=caught.value.message, ref_type="leave")
    assert decode_server(encode(echoed, False)) == echoed


def test_non_frame_input_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError) as caught:
        decode(42)  # type: ignore[arg-type]
    assert caught.value.code == "malformed"


def test_frames_at_the_limit_are_accepted() -> None:
    sdp = "v=0" + "a" * (MAX_FRAME_BYTES - 200)
    for binary in (False, True):
        frame = encode(Offer(sdp=sdp[:60_000]), binary)
        assert len(frame) <= MAX_FRAME_BYTES
        assert decode(frame) == Offer(sdp=sdp[:60_000])


def test_server_side_limits_are_checked_too() -> None:
    bad = orjson.loads(encode(SERVER_SAMPLES[0], False))
    bad["peer"]["media_state"]["mic"] = "yes"
    with pytest.raises(ProtocolError) as caught:
        decode_server(orjson.dumps(bad).decode())
    assert (caught.value.code, caught.value.ref_type) == ("wrong_type", "joined")
    assert "peer.media_state.mic" in caught.value.message
    bad = orjson.loads(encode(SERVER_SAMPLES[0], False))
    bad["ice_servers"][0]["urls"] = ["http://example.org"]
    with pytest.raises(ProtocolError) as caught:
        decode_server(orjson.dumps(bad).decode())
    assert caught.value.code == "bad_value"


def test_error_codes_enum_lists_codec_codes() -> None:
    assert {c.value for c in ErrorCode} >= CODEC_CODES
    assert {m[2] for m in MALFORMED} == CODEC_CODES


# --- close codes -------------------------------------------------------------------------------


def test_close_codes_have_short_reasons() -> None:
    assert set(REASONS) == set(CloseCode)
    for code in CloseCode:
        assert code.reason and len(code.reason.encode()) <= MAX_REASON_BYTES
        assert code in (1000, 1001, 1003, 1008, 1009, 1011, 1013) or 4000 <= code <= 4999
    assert CloseCode.UNSUPPORTED_VERSION == 4010 and CloseCode.RESCHEDULED == 4012
    assert CloseCode.GOING_AWAY.retry and not CloseCode.REPLACED.retry
    assert not CloseCode.ROOM_CLOSED.retry
    assert set(FATAL_PROTOCOL_ERRORS) <= CODEC_CODES


# --- fuzzing -----------------------------------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FIELD_NAMES = sorted(
    {
        f.name
        for cls in (*CLIENT_MESSAGE_TYPES, *SERVER_MESSAGE_TYPES)
        for f in dataclasses.fields(cls)
    }
    | {"last_seq", "media_kept", "mic", "camera", "screen", "urls"}
)
TYPE_NAMES = sorted(
    {
        cls.__dataclass_fields__["type"].default
        for cls in (*CLIENT_MESSAGE_TYPES, *SERVER_MESSAGE_TYPES)
    }
    | {"x"}
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["v=0\r\n", CANDIDATE, "camera", "screen", "0", "", "employee"])
)
json_ish = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)
message_like = st.builds(
    lambda kind, fields: {"type": kind, **fields},
    st.sampled_from(TYPE_NAMES),
    st.dictionaries(st.sampled_from(FIELD_NAMES), json_ish, max_size=6),
)
msgpack_ish = st.recursive(
    scalars | st.binary(max_size=16),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(max_size=8) | st.binary(max_size=4) | st.integers(-(2**63), 2**64 - 1),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)


def _assert_decodes_or_protocol_error(frame: str | bytes, server: bool = False) -> None:
    """The property: a valid message (which re-encodes to itself) or a codec ProtocolError."""
    decoder = decode_server if server else decode
    types = SERVER_MESSAGE_TYPES if server else CLIENT_MESSAGE_TYPES
    try:
        msg = decoder(frame)
    except ProtocolError as exc:
        assert exc.code in CODEC_CODES, exc  # never "internal": that would be a checker bug
        assert isinstance(exc.message, str) and exc.message
        return
    assert type(msg) in types
    assert decoder(encode(msg, isinstance(frame, bytes))) == msg


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(frame: bytes) -> None:
    _assert_decodes_or_protocol_error(frame)
    _assert_decodes_or_protocol_error(frame, server=True)


@FUZZ
@given(st.text(max_size=300))
def test_fuzz_random_text(frame: str) -> None:
    _assert_decodes_or_protocol_error(frame)
    _assert_decodes_or_protocol_error(frame, server=True)


def _json_frame(value: Any) -> str | None:
    try:
        return orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError):  # ints beyond 64 bits, non-str keys
        return None


@FUZZ
@given(json_ish | message_like)
def test_fuzz_json_values(value: Any) -> None:
    frame = _json_frame(value)
    if frame is not None:
        _assert_decodes_or_protocol_error(frame)
        _assert_decodes_or_protocol_error(frame, server=True)
    _assert_decodes_or_protocol_error(msgpack.packb(value))


@FUZZ
@given(msgpack_ish | message_like)
def test_fuzz_msgpack_objects(value: Any) -> None:
    frame = msgpack.packb(value)
    _assert_decodes_or_protocol_error(frame)
    _assert_decodes_or_protocol_error(frame, server=True)


@FUZZ
@given(st.sampled_from(CLIENT_SAMPLES + SERVER_SAMPLES), st.booleans(), st.integers(0, 10_000))
def test_fuzz_truncated_valid_frames(msg: Any, binary: bool, cut: int) -> None:
    frame = encode(msg, binary)
    truncated = frame[: cut % max(len(frame), 1)]
    server = type(msg) in SERVER_MESSAGE_TYPES
    with pytest.raises(ProtocolError) as caught:
        (decode_server if server else decode)(truncated)
    assert caught.value.code in CODEC_CODES


@FUZZ
@given(st.sampled_from(CLIENT_SAMPLES + SERVER_SAMPLES), st.data())
def test_fuzz_one_field_replaced(msg: Any, data: st.DataObject) -> None:
    """Valid messages with one field swapped for a random value: exercises every checker."""
    wire = orjson.loads(encode(msg, False))
    fields = [k for k in wire if k != "type"]
    if fields:
        wire[data.draw(st.sampled_from(fields))] = data.draw(json_ish)
    server = type(msg) in SERVER_MESSAGE_TYPES
    _assert_decodes_or_protocol_error(msgpack.packb(wire), server=server)
    frame = _json_frame(wire)
    if frame is not None:
        _assert_decodes_or_protocol_error(frame, server=server)
