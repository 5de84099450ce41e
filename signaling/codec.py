"""Wire codec for protocol v1: JSON text frames (orjson) and msgpack binary frames, one schema.

Why this shape: decoding sits on the relay hot path, so each message type is a small table of
per-field checkers run over the parsed map, with no intermediate objects beyond the kwargs dict.
Every way a frame can be wrong ends in `ProtocolError` with a stable `code` (listed in
`docs/protocol.md`); the connection handler never has to guess which exception a library raises.
Encoding trusts its input (the server builds it) and hands dataclasses straight to orjson/msgpack.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING
from enum import StrEnum
from typing import Any, Final

import msgpack
import orjson

from signaling.messages import (
    CLIENT_MESSAGE_TYPES,
    MAX_CANDIDATE_CHARS,
    MAX_CHAT_TEXT_CHARS,
    MAX_CLIENT_MSG_ID_CHARS,
    MAX_FPS,
    MAX_FRAME_BYTES,
    MAX_HISTORY,
    MAX_ICE_SERVERS,
    MAX_ID_CHARS,
    MAX_INT,
    MAX_MID_CHARS,
    MAX_NAME_CHARS,
    MAX_RTT_MS,
    MAX_SDP_CHARS,
    MAX_SERVER_FRAME_BYTES,
    MAX_TICKET_CHARS,
    MAX_UFRAG_CHARS,
    MAX_VIDEO_SIDE,
    PROTOCOL_VERSION,
    SERVER_MESSAGE_TYPES,
    Answer,
    Candidate,
    ChatAck,
    ChatEntry,
    ChatMessage,
    ChatSend,
    ClientMessage,
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
    ServerMessage,
    Stats,
    TimeWarning,
    TrackInfo,
    You,
)


class ErrorCode(StrEnum):
    """Stable `error.code` values. The first group is raised by the codec; the second is sent by
    the server for valid messages it refuses, so clients switch on one list."""

    TOO_BIG = "too_big"
    BAD_UTF8 = "bad_utf8"
    MALFORMED = "malformed"
    NOT_OBJECT = "not_object"
    MISSING_TYPE = "missing_type"
    UNKNOWN_TYPE = "unknown_type"
    MISSING_FIELD = "missing_field"
    UNKNOWN_FIELD = "unknown_field"
    WRONG_TYPE = "wrong_type"
    BAD_LENGTH = "bad_length"
    OUT_OF_RANGE = "out_of_range"
    BAD_VALUE = "bad_value"
    UNSUPPORTED_VERSION = "unsupported_version"
    INTERNAL = "internal"  # a codec bug, never an input problem; tests assert it never appears
    # sent by the server, never raised by the codec
    RATE_LIMITED = "rate_limited"
    JOIN_REQUIRED = "join_required"
    ALREADY_JOINED = "already_joined"
    PEER_ABSENT = "peer_absent"
    NOT_SUPPORTED = "not_supported"
    UNAVAILABLE = "unavailable"


class ProtocolError(Exception):
    """A frame that is not a valid message. `message` is shown to people, so it is a sentence;
    `ref_type` names the offending message type when it could be read."""

    def __init__(self, code: str, message: str, ref_type: str | None = None) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.ref_type = ref_type

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


# --- field checkers ----------------------------------------------------------------------------
# A checker takes (value, path) and returns the value to store, or raises ProtocolError. `path`
# is only used to word the error, so it costs nothing on the happy path.

Check = Callable[[Any, str], Any]
_MISSING: Final = object()


def _wrong(path: str, what: str) -> ProtocolError:
    return ProtocolError(ErrorCode.WRONG_TYPE, f"The field '{path}' must be {what}.")


def _string(
    lo: int, hi: int, pattern: str | None = None, prefix: str = ""
) -> Callable[[object, str], str]:
    """Strings with a length in code points, optionally a full-match pattern or a prefix (only
    checked when non-empty). Variants are separate closures to keep the common case short."""
    full = re.compile(pattern).fullmatch if pattern else None

    def length(value: object, path: str) -> str:
        if type(value) is not str:
            raise _wrong(path, "a string")
        if not lo <= len(value) <= hi:
            raise ProtocolError(
                ErrorCode.BAD_LENGTH, f"The field '{path}' must be {lo} to {hi} characters long."
            )
        return value

    def matching(value: object, path: str) -> str:
        text = length(value, path)
        assert full is not None
        if full(text) is None:
            raise ProtocolError(ErrorCode.BAD_VALUE, f"The field '{path}' has invalid characters.")
        return text

    def prefixed(value: object, path: str) -> str:
        text = length(value, path)
        if text and not text.startswith(prefix):
            raise ProtocolError(
                ErrorCode.BAD_VALUE, f"The field '{path}' must start with '{prefix}'."
            )
        return text

    return matching if full else prefixed if prefix else length


def _int(lo: int, hi: int) -> Check:
    def check(value: object, path: str) -> int:
        if type(value) is not int:  # also rejects bool, a subclass of int
            raise _wrong(path, "an integer")
        if not lo <= value <= hi:
            raise ProtocolError(
                ErrorCode.OUT_OF_RANGE, f"The field '{path}' must be between {lo} and {hi}."
            )
        return value

    return check


def _bool(value: object, path: str) -> bool:
    if type(value) is not bool:
        raise _wrong(path, "true or false")
    return value


def _number(value: object, path: str) -> float | int:
    """Finite JSON numbers only: NaN and infinities cannot come from JSON but can from msgpack."""
    if type(value) is int:
        return value
    if type(value) is not float:
        raise _wrong(path, "a number")
    if not math.isfinite(value):
        raise ProtocolError(ErrorCode.BAD_VALUE, f"The field '{path}' must be a finite number.")
    return value


def _bounded(lo: float, hi: float) -> Check:
    """A finite number (integer or not) between `lo` and `hi`."""

    def check(value: object, path: str) -> float | int:
        number = _number(value, path)
        if not lo <= number <= hi:
            raise ProtocolError(
                ErrorCode.OUT_OF_RANGE, f"The field '{path}' must be between {lo:g} and {hi:g}."
            )
        return number

    return check


def _enum(*allowed: str) -> Check:
    choices = frozenset(allowed)
    listed = ", ".join(f"'{a}'" for a in allowed)

    def check(value: object, path: str) -> str:
        if type(value) is not str:
            raise _wrong(path, "a string")
        if value not in choices:
            raise ProtocolError(ErrorCode.BAD_VALUE, f"The field '{path}' must be one of {listed}.")
        return value

    return check


def _version(value: object, path: str) -> int:
    if type(value) is not int:
        raise _wrong(path, "an integer")
    if value != PROTOCOL_VERSION:
        raise ProtocolError(
            ErrorCode.UNSUPPORTED_VERSION,
            f"Protocol version {PROTOCOL_VERSION} is required; please reload the page.",
        )
    return value


def _array(item: Check, hi: int, lo: int = 0) -> Check:
    """Arrays become tuples (msgpack already yields tuples) so messages stay immutable."""

    def check(value: object, path: str) -> tuple[Any, ...]:
        if type(value) is not list and type(value) is not tuple:
            raise _wrong(path, "an array")
        if not lo <= len(value) <= hi:
            raise ProtocolError(
                ErrorCode.BAD_LENGTH, f"The field '{path}' must hold {lo} to {hi} items."
            )
        return tuple([item(v, f"{path}[{i}]") for i, v in enumerate(value)])

    return check


_CONTROL_CHARS: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_text_length = _string(1, MAX_CHAT_TEXT_CHARS)


def _chat_text(value: object, path: str) -> str:
    """Plain text for a person to read: no control characters besides tab and newlines."""
    text = _text_length(value, path)
    if _CONTROL_CHARS.search(text) is not None:
        raise ProtocolError(
            ErrorCode.BAD_VALUE, "The message contains control characters; send plain text only."
        )
    if text.isspace():
        raise ProtocolError(ErrorCode.BAD_VALUE, "The message is empty.")
    return text


# --- shapes: one table entry per message or nested object ------------------------------------

# (wire name, checker, presence). Where null is allowed it means "the dataclass default", so
# absent and null are the same thing for OPTIONAL fields.
REQUIRED: Final = 0  # key present, value not null
NULLABLE: Final = 1  # key present, value may be null
OPTIONAL: Final = 2  # key may be absent, value may be null
FieldSpec = tuple[str, Check, int]


class Shape:
    """How to validate and build one dataclass from a parsed map."""

    __slots__ = ("allowed", "cls", "fields", "post", "type")

    def __init__(
        self,
        cls: type,
        fields: tuple[FieldSpec, ...],
        post: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.cls = cls
        self.fields = fields
        self.post = post
        names = [name for name, _, _ in fields]
        defaults: dict[str, Any] = cls.__dataclass_fields__  # type: ignore[attr-defined]
        type_field = defaults.get("type")
        self.type: str | None = None if type_field is None else type_field.default
        if self.type is not None:
            names.append("type")
        self.allowed = frozenset(names)
        for name, _, presence in fields:
            has_default = defaults[name].default is not MISSING
            assert has_default or not presence, f"{cls.__name__}.{name} needs a default"

    def build(self, obj: Any, path: str = "") -> Any:
        """Fields are checked in table order before unknown keys, so a future `join` with new
        fields still reports `unsupported_version` rather than `unknown_field`."""
        if type(obj) is not dict:
            raise _wrong(path, "an object")
        kwargs: dict[str, Any] = {}
        get = obj.get
        for name, check, presence in self.fields:
            value = get(name, _MISSING)
            if value is _MISSING:
                if presence != OPTIONAL:
                    where = f"{path}.{name}" if path else name
                    raise ProtocolError(ErrorCode.MISSING_FIELD, f"The field '{where}' is missing.")
                continue  # the dataclass default applies
            if value is None and presence:
                continue
            kwargs[name] = check(value, f"{path}.{name}" if path else name)
        if not obj.keys() <= self.allowed:
            extra = min(str(k) for k in obj.keys() - self.allowed)[:40]  # echoed: keep it short
            raise ProtocolError(ErrorCode.UNKNOWN_FIELD, f"Unknown field '{extra}'.")
        if self.post is not None:
            self.post(kwargs)
        return self.cls(**kwargs)


def _nested(shape: Shape) -> Check:
    return shape.build


def _check_candidate(kw: dict[str, Any]) -> None:
    """addIceCandidate() throws without a mid or m-line index; catch it here, not in the peer."""
    if kw.get("candidate") and kw.get("sdpMid") is None and kw.get("sdpMLineIndex") is None:
        raise ProtocolError(ErrorCode.BAD_VALUE, "A candidate needs 'sdpMid' or 'sdpMLineIndex'.")


_sdp = _string(1, MAX_SDP_CHARS, prefix="v=")
_seq = _int(1, MAX_INT)
_last_seq = _int(0, MAX_INT)
_instant = _int(0, MAX_INT)  # ms since the Unix epoch
_seconds = _int(0, 7 * 86400)
_id = _string(1, MAX_ID_CHARS)
_name = _string(1, MAX_NAME_CHARS)
_client_msg_id = _string(1, MAX_CLIENT_MSG_ID_CHARS, pattern=r"[A-Za-z0-9._:-]+")
_mid = _string(1, MAX_MID_CHARS)
_purpose = _enum("camera", "screen")
_sentence = _string(1, 500)
_verdict = _enum("good", "fair", "poor", "unknown")
_count = _int(0, MAX_INT)
_milliseconds = _int(0, MAX_RTT_MS)
_side = _int(0, MAX_VIDEO_SIDE)

# `stats`: every figure optional (a browser may not measure it yet), each within what a real
# call can show, so a summary is never skewed by a nonsense value.
_STATS_FIELDS: Final[tuple[FieldSpec, ...]] = (
    ("rtt_ms", _milliseconds, OPTIONAL),
    ("loss", _bounded(0, 1), OPTIONAL),
    ("jitter_ms", _milliseconds, OPTIONAL),
    ("frames_decoded", _count, OPTIONAL),
    ("frames_dropped", _count, OPTIONAL),
    ("width", _side, OPTIONAL),
    ("height", _side, OPTIONAL),
    ("fps", _bounded(0, MAX_FPS), OPTIONAL),
    ("pair", _enum("host", "srflx", "prflx", "relay"), OPTIONAL),
    ("transport", _enum("udp", "tcp", "tls"), OPTIONAL),
    ("relay_mode", _bool, OPTIONAL),
)
_QUALITY_FIELDS: Final[tuple[FieldSpec, ...]] = (
    ("verdict", _verdict, REQUIRED),
    ("words", _sentence, REQUIRED),
)

_CANDIDATE_FIELDS: Final[tuple[FieldSpec, ...]] = (
    ("candidate", _string(0, MAX_CANDIDATE_CHARS, prefix="candidate:"), NULLABLE),
    ("sdpMid", _string(0, MAX_MID_CHARS), OPTIONAL),
    ("sdpMLineIndex", _int(0, 65535), OPTIONAL),
    ("usernameFragment", _string(0, MAX_UFRAG_CHARS), OPTIONAL),
)
_MEDIA_FIELDS: Final[tuple[FieldSpec, ...]] = (
    ("mic", _bool, REQUIRED),
    ("camera", _bool, REQUIRED),
    ("screen", _bool, REQUIRED),
)
_CHAT_ENTRY_FIELDS: Final[tuple[FieldSpec, ...]] = (
    ("seq", _seq, REQUIRED),
    ("client_msg_id", _client_msg_id, REQUIRED),
    ("sender_id", _id, REQUIRED),
    ("text", _chat_text, REQUIRED),
    ("sent_at", _instant, REQUIRED),
)

_YOU = Shape(
    You,
    (
        ("user_id", _id, REQUIRED),
        ("role", _enum("employee", "participant"), REQUIRED),
        ("name", _name, REQUIRED),
    ),
)
_CHAT_ENTRY = Shape(ChatEntry, _CHAT_ENTRY_FIELDS)
_RESUME = Shape(Resume, (("last_seq", _last_seq, REQUIRED), ("media_kept", _bool, REQUIRED)))
_MEDIA_FLAGS = Shape(MediaFlags, _MEDIA_FIELDS)
_PEER_INFO = Shape(
    PeerInfo,
    (
        ("present", _bool, REQUIRED),
        ("state", _enum("absent", "connected", "reconnecting"), REQUIRED),
        ("user_id", _id, REQUIRED),
        ("name", _name, REQUIRED),
        ("media_state", _nested(_MEDIA_FLAGS), REQUIRED),
    ),
)
_ICE_SERVER = Shape(
    IceServer,
    (
        ("urls", _array(_string(1, 512, pattern=r"(stuns?|turns?):\S+"), 8, lo=1), REQUIRED),
        ("username", _string(0, 512), OPTIONAL),
        ("credential", _string(0, 512), OPTIONAL),
    ),
)

_CLIENT_SHAPES: Final[tuple[Shape, ...]] = (
    Shape(
        Join,
        (
            ("v", _version, REQUIRED),
            ("ticket", _string(1, MAX_TICKET_CHARS, pattern=r"[\x21-\x7e]+"), REQUIRED),
            ("resume", _nested(_RESUME), OPTIONAL),
            ("can_restart_ice", _bool, OPTIONAL),
        ),
    ),
    Shape(Offer, (("sdp", _sdp, REQUIRED),)),
    Shape(Answer, (("sdp", _sdp, REQUIRED),)),
    Shape(Candidate, _CANDIDATE_FIELDS, post=_check_candidate),
    Shape(MediaState, _MEDIA_FIELDS),
    Shape(TrackInfo, (("mid", _mid, REQUIRED), ("purpose", _purpose, REQUIRED))),
    Shape(ChatSend, (("client_msg_id", _client_msg_id, REQUIRED), ("text", _chat_text, REQUIRED))),
    Shape(IceRestartRequest, ()),
    Shape(Ping, (("ts", _number, OPTIONAL),)),
    Shape(Leave, ()),
    Shape(Stats, _STATS_FIELDS),
)

_SERVER_SHAPES: Final[tuple[Shape, ...]] = (
    Shape(
        Joined,
        (
            ("you", _nested(_YOU), REQUIRED),
            ("peer", _nested(_PEER_INFO), REQUIRED),
            ("polite", _bool, REQUIRED),
            ("offerer", _bool, REQUIRED),
            ("media_action", _enum("new_connection", "ice_restart", "none"), REQUIRED),
            ("history", _array(_nested(_CHAT_ENTRY), MAX_HISTORY), REQUIRED),
            ("last_seq", _last_seq, REQUIRED),
            ("ends_at", _instant, REQUIRED),
            ("now", _instant, REQUIRED),
            ("seconds_left", _seconds, REQUIRED),
            ("media_mode", _enum("p2p", "relay"), REQUIRED),
            ("ice_servers", _array(_nested(_ICE_SERVER), MAX_ICE_SERVERS), REQUIRED),
        ),
    ),
    Shape(
        PeerJoined,
        (
            ("peer", _nested(_PEER_INFO), REQUIRED),
            ("resumed", _bool, REQUIRED),
            ("media_action", _enum("new_connection", "ice_restart"), REQUIRED),
        ),
    ),
    Shape(PeerLeft, (("reason", _enum("left", "timeout"), REQUIRED),)),
    Shape(PeerReconnecting, (("grace_s", _int(0, 3600), REQUIRED),)),
    Shape(RelayedOffer, (("sdp", _sdp, REQUIRED),)),
    Shape(RelayedAnswer, (("sdp", _sdp, REQUIRED),)),
    Shape(RelayedCandidate, _CANDIDATE_FIELDS, post=_check_candidate),
    Shape(PeerMediaState, _MEDIA_FIELDS),
    Shape(PeerTrackInfo, (("mid", _mid, REQUIRED), ("purpose", _purpose, REQUIRED))),
    Shape(PeerIceRestartRequest, ()),
    Shape(ChatMessage, _CHAT_ENTRY_FIELDS),
    Shape(
        ChatAck,
        (
            ("client_msg_id", _client_msg_id, REQUIRED),
            ("seq", _seq, REQUIRED),
            ("sent_at", _instant, REQUIRED),
        ),
    ),
    Shape(TimeWarning, (("seconds_left", _seconds, REQUIRED),)),
    Shape(
        RoomClosing,
        (
            ("reason", _enum("ended", "cancelled", "rescheduled"), REQUIRED),
            ("message", _sentence, REQUIRED),
        ),
    ),
    Shape(Replaced, (("message", _sentence, REQUIRED),)),
    Shape(
        Error,
        (
            ("code", _string(1, 64), REQUIRED),
            ("message", _sentence, REQUIRED),
            ("ref_type", _string(1, 64), OPTIONAL),
        ),
    ),
    Shape(Pong, (("ts", _number, OPTIONAL),)),
    Shape(Quality, _QUALITY_FIELDS),
    Shape(PeerQuality, _QUALITY_FIELDS),
)


def _by_type(shapes: tuple[Shape, ...]) -> Mapping[str, Shape]:
    table = {shape.type: shape for shape in shapes if shape.type is not None}
    assert len(table) == len(shapes), "duplicate message type"
    return table


_CLIENT: Final = _by_type(_CLIENT_SHAPES)
_SERVER: Final = _by_type(_SERVER_SHAPES)
assert set(CLIENT_MESSAGE_TYPES) == {s.cls for s in _CLIENT_SHAPES}, "client table incomplete"
assert set(SERVER_MESSAGE_TYPES) == {s.cls for s in _SERVER_SHAPES}, "server table incomplete"


# --- decoding ----------------------------------------------------------------------------------


def _too_big(limit: int) -> ProtocolError:
    return ProtocolError(ErrorCode.TOO_BIG, f"The message is larger than {limit // 1024} KiB.")


def _parse(frame: str | bytes, limit: int) -> Any:
    """Text frames are JSON, binary frames msgpack. Library errors become ProtocolError here."""
    if type(frame) is str:
        size = len(frame)
        if size > limit or (size > limit // 4 and _utf8_size(frame) > limit):
            raise _too_big(limit)
        try:
            return orjson.loads(frame)
        except orjson.JSONDecodeError as exc:
            _utf8_size(frame)  # a lone surrogate is the one way a str is not valid UTF-8
            if "surrogate" in str(exc):  # ... and a `\ud800` escape is the other way to send one
                raise ProtocolError(
                    ErrorCode.BAD_UTF8, "The message has invalid UTF-8 text."
                ) from None
            raise ProtocolError(ErrorCode.MALFORMED, "The message is not valid JSON.") from None
    if isinstance(frame, bytes | bytearray | memoryview):
        if len(frame) > limit:
            raise _too_big(limit)
        try:
            return msgpack.unpackb(
                frame, raw=False, use_list=False, strict_map_key=True, max_ext_len=0
            )
        except UnicodeDecodeError:
            raise ProtocolError(ErrorCode.BAD_UTF8, "The message has invalid UTF-8 text.") from None
        except (ValueError, TypeError):  # msgpack's truncated/extra data, depth, key type
            raise ProtocolError(ErrorCode.MALFORMED, "The message is not valid msgpack.") from None
    raise ProtocolError(ErrorCode.MALFORMED, "A frame must be text or binary.")


def _utf8_size(text: str) -> int:
    try:
        return len(text.encode())
    except UnicodeEncodeError:
        raise ProtocolError(ErrorCode.BAD_UTF8, "The message has invalid UTF-8 text.") from None


def _decode(frame: str | bytes, table: Mapping[str, Shape], limit: int) -> Any:
    obj = _parse(frame, limit)
    if type(obj) is not dict:
        raise ProtocolError(ErrorCode.NOT_OBJECT, "A message must be an object with a 'type'.")
    kind = obj.get("type", _MISSING)
    if kind is _MISSING:
        raise ProtocolError(ErrorCode.MISSING_TYPE, "The message has no 'type'.")
    shape = table.get(kind) if type(kind) is str else None
    if shape is None:
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE, "The message type is not known.")
    try:
        return shape.build(obj)
    except ProtocolError as exc:
        exc.ref_type = kind
        raise
    except Exception as exc:
        # Last line of defence: a checker bug must not escape as a random exception into the
        # connection handler. Tests assert this code never occurs.
        raise ProtocolError(ErrorCode.INTERNAL, "The message could not be read.", kind) from exc


def decode(frame: str | bytes, limit: int = MAX_FRAME_BYTES) -> ClientMessage:
    """Decode and fully validate one client frame (str: JSON, bytes: msgpack) of at most
    `limit` bytes (the `max_msg_size` setting; the protocol's default is 64 KiB)."""
    msg: ClientMessage = _decode(frame, _CLIENT, limit)
    return msg


def decode_server(frame: str | bytes) -> ServerMessage:
    """Decode one server frame; for test clients and node-to-node hops, not the browser."""
    msg: ServerMessage = _decode(frame, _SERVER, MAX_SERVER_FRAME_BYTES)
    return msg


# --- encoding ----------------------------------------------------------------------------------

_NESTED_SHAPES: Final = (_YOU, _CHAT_ENTRY, _RESUME, _MEDIA_FLAGS, _PEER_INFO, _ICE_SERVER)
_FIELD_NAMES: Final[dict[type, tuple[str, ...]]] = {
    shape.cls: shape.cls.__dict__["__slots__"]
    for shape in (*_CLIENT_SHAPES, *_SERVER_SHAPES, *_NESTED_SHAPES)
}
_ENCODABLE: Final = frozenset(CLIENT_MESSAGE_TYPES) | frozenset(SERVER_MESSAGE_TYPES)


def _as_map(obj: Any) -> dict[str, Any]:
    """msgpack `default` hook: a message dataclass as a map, shallow (msgpack recurses)."""
    names = _FIELD_NAMES.get(type(obj))
    if names is None:
        raise TypeError(f"cannot encode {type(obj).__name__}")
    return {name: getattr(obj, name) for name in names}


def encode(msg: ClientMessage | ServerMessage, binary: bool) -> str | bytes:
    """One frame: msgpack bytes for `duet.v1.msgpack`, JSON text for `duet.v1.json`."""
    if type(msg) not in _ENCODABLE:
        raise TypeError(f"not a signaling message: {type(msg).__name__}")
    if binary:
        frame: bytes = msgpack.packb(msg, default=_as_map)
        return frame
    return orjson.dumps(msg).decode()


def encode_json_bytes(msg: ClientMessage | ServerMessage) -> bytes:
    """The UTF-8 payload of a text frame, for `send_frame(..., WSMsgType.TEXT)`: skips the
    str round trip that `send_str` would pay (decode here, encode again in aiohttp)."""
    if type(msg) not in _ENCODABLE:
        raise TypeError(f"not a signaling message: {type(msg).__name__}")
    return orjson.dumps(msg)
