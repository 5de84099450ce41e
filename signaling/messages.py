"""Every signaling message of protocol version 1, both directions, as closed sets of dataclasses.

Why dataclasses with wire names: the attribute names *are* the field names on the wire (browser
spellings such as ``sdpMid`` included), so `codec.py` can hand instances straight to orjson and
msgpack without building intermediate dicts, and a reader of `docs/protocol.md` finds the same
names here. Every top-level message has a ``type`` field fixed by its class (``init=False``), so a
message can never claim a type other than its own. Nested objects (``Resume``, ``PeerInfo``...) have
no ``type``. Sequences are tuples so messages stay immutable and hashable.

Limits live here as constants because both the codec and the docs refer to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal, get_args

# An RTCIceServer as browsers take it (TURN entries carry short-lived credentials): the same
# class the server's own aiortc peers use.
from media.ice import IceServer as IceServer

PROTOCOL_VERSION: Final = 1
SUBPROTOCOL_JSON: Final = "duet.v1.json"
SUBPROTOCOL_MSGPACK: Final = "duet.v1.msgpack"
SUBPROTOCOLS: Final = (SUBPROTOCOL_JSON, SUBPROTOCOL_MSGPACK)

MAX_FRAME_BYTES: Final = 64 * 1024  # any frame a client sends
MAX_SERVER_FRAME_BYTES: Final = 1024 * 1024  # `joined` may carry a long chat history
MAX_SDP_CHARS: Final = 60_000
MAX_CANDIDATE_CHARS: Final = 1024
MAX_MID_CHARS: Final = 64
MAX_UFRAG_CHARS: Final = 256
MAX_TICKET_CHARS: Final = 4096  # a ticket carries both names (rooms/tickets.py)
MAX_CLIENT_MSG_ID_CHARS: Final = 64
MAX_CHAT_TEXT_CHARS: Final = 2000  # Unicode code points, not UTF-16 units
MAX_ID_CHARS: Final = 64
MAX_NAME_CHARS: Final = 200
MAX_HISTORY: Final = 5000
MAX_ICE_SERVERS: Final = 16
MAX_INT: Final = 2**53 - 1  # largest integer a JavaScript number holds exactly

Role = Literal["employee", "participant"]
PeerState = Literal["absent", "connected", "reconnecting"]
TrackPurpose = Literal["camera", "screen"]
MediaMode = Literal["p2p", "relay"]
MediaAction = Literal["new_connection", "ice_restart", "none"]
PeerLeftReason = Literal["left", "timeout"]
RoomClosingReason = Literal["ended", "cancelled", "rescheduled"]
CandidateType = Literal["host", "srflx", "prflx", "relay"]
CandidateProtocol = Literal["udp", "tcp", "tls"]
QualityVerdict = Literal["good", "fair", "poor", "unknown"]

# How often the client sends `stats` (docs/protocol.md); the rate limit allows a little more.
STATS_EVERY_S: Final = 10
MAX_RTT_MS: Final = 60_000
MAX_VIDEO_SIDE: Final = 16_384
MAX_FPS: Final = 240


# --- nested objects (no `type`) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Resume:
    """Sent in `join` after a drop: replay chat after `last_seq`; `media_kept` says the client
    still holds its RTCPeerConnection, so an ICE restart can suffice."""

    last_seq: int
    media_kept: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaFlags:
    """What a person currently sends; drives the mute / camera-off / sharing indicators."""

    mic: bool
    camera: bool
    screen: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class You:
    """The receiving client's own identity in this chat, as the server knows it."""

    user_id: str
    role: Role
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerInfo:
    """The other seat. Identity is known even while absent because the chat is booked."""

    present: bool
    state: PeerState
    user_id: str
    name: str
    media_state: MediaFlags


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatEntry:
    """One persisted side-panel chat message; `seq` is the server's order, gap-free per chat."""

    seq: int
    client_msg_id: str
    sender_id: str
    text: str
    sent_at: int  # ms since the Unix epoch, UTC


# --- client -> server --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Join:
    """First and only first message: the ticket travels here, never in the URL (logs, Referer)."""

    type: Literal["join"] = field(default="join", init=False)
    v: int
    ticket: str
    resume: Resume | None = None
    can_restart_ice: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Offer:
    """An SDP offer for the peer (`RTCSessionDescription.toJSON()` fits as is)."""

    type: Literal["offer"] = field(default="offer", init=False)
    sdp: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """An SDP answer for the peer."""

    type: Literal["answer"] = field(default="answer", init=False)
    sdp: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """A trickled ICE candidate (`RTCIceCandidate.toJSON()` fields); null or "" ends the trickle."""

    type: Literal["candidate"] = field(default="candidate", init=False)
    candidate: str | None = None
    sdpMid: str | None = None
    sdpMLineIndex: int | None = None
    usernameFragment: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaState:
    """The sender's mic / camera / screen flags, for the peer's indicators."""

    type: Literal["media_state"] = field(default="media_state", init=False)
    mic: bool
    camera: bool
    screen: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackInfo:
    """Labels a transceiver by `mid` (track ids differ across peers; mids do not)."""

    type: Literal["track_info"] = field(default="track_info", init=False)
    mid: str
    purpose: TrackPurpose


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatSend:
    """A side-panel chat message; `client_msg_id` makes retries after a reconnect idempotent."""

    type: Literal["chat_send"] = field(default="chat_send", init=False)
    client_msg_id: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class IceRestartRequest:
    """Asks the peer to restart ICE (sent by a side that saw ICE fail)."""

    type: Literal["ice_restart_request"] = field(default="ice_restart_request", init=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Ping:
    """Application-level liveness / RTT probe; `ts` is echoed back untouched."""

    type: Literal["ping"] = field(default="ping", init=False)
    ts: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Leave:
    """Deliberate hang-up: the peer sees `peer_left` at once instead of a reconnect grace."""

    type: Literal["leave"] = field(default="leave", init=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Stats:
    """How the sender's call is going, measured by its browser over the last interval (about
    `STATS_EVERY_S`): the figures of `RTCPeerConnection.getStats()` it can see. Absent (or null)
    means not measured yet. The server keeps a summary per call, not the samples."""

    type: Literal["stats"] = field(default="stats", init=False)
    rtt_ms: int | None = None  # the selected candidate pair's current round trip
    loss: float | None = None  # inbound packets lost / expected in the interval, 0..1
    jitter_ms: int | None = None  # inbound, the worst of audio and video
    frames_decoded: int | None = None  # inbound video, in the interval
    frames_dropped: int | None = None
    width: int | None = None  # inbound video frame size and rate, now
    height: int | None = None
    fps: float | None = None
    pair: CandidateType | None = None  # the selected pair's local candidate type
    transport: CandidateProtocol | None = None  # udp, tcp, or tls (a TURN relay over TLS)
    relay_mode: bool = False  # the chat runs through Duet's server peer (media_mode relay)


ClientMessage = (
    Join
    | Offer
    | Answer
    | Candidate
    | MediaState
    | TrackInfo
    | ChatSend
    | IceRestartRequest
    | Ping
    | Leave
    | Stats
)

# --- server -> client --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Joined:
    """Everything a client needs to render the room and start media, in one message."""

    type: Literal["joined"] = field(default="joined", init=False)
    you: You
    peer: PeerInfo
    polite: bool
    offerer: bool
    media_action: MediaAction
    history: tuple[ChatEntry, ...]
    last_seq: int
    ends_at: int
    now: int
    seconds_left: int
    media_mode: MediaMode
    ice_servers: tuple[IceServer, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerJoined:
    """The peer took (or took back) its seat; `media_action` says how to (re)build media."""

    type: Literal["peer_joined"] = field(default="peer_joined", init=False)
    peer: PeerInfo
    resumed: bool
    media_action: MediaAction


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerLeft:
    """The peer is gone: it hung up (`left`) or its reconnect grace ran out (`timeout`)."""

    type: Literal["peer_left"] = field(default="peer_left", init=False)
    reason: PeerLeftReason


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerReconnecting:
    """The peer's socket dropped; its seat is held for `grace_s` seconds."""

    type: Literal["peer_reconnecting"] = field(default="peer_reconnecting", init=False)
    grace_s: int


# What the peer sent, relayed to the other client exactly as sent: the same classes, so relaying
# builds nothing and no client message is passed off as a different server message. (In relay
# mode the server's own relay peer sends them too, with the mids of the receiving connection.)
RelayedOffer = Offer
RelayedAnswer = Answer
RelayedCandidate = Candidate
PeerMediaState = MediaState
PeerTrackInfo = TrackInfo
PeerIceRestartRequest = IceRestartRequest


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatMessage:
    """A persisted chat message, sent to both seats (the sender also gets `chat_ack`)."""

    type: Literal["chat_message"] = field(default="chat_message", init=False)
    seq: int
    client_msg_id: str
    sender_id: str
    text: str
    sent_at: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatAck:
    """Confirms a `chat_send` is stored; a duplicate `client_msg_id` gets the original's ack."""

    type: Literal["chat_ack"] = field(default="chat_ack", init=False)
    client_msg_id: str
    seq: int
    sent_at: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeWarning:
    """The slot ends soon (sent at 5 and 1 minutes left)."""

    type: Literal["time_warning"] = field(default="time_warning", init=False)
    seconds_left: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomClosing:
    """The room is closing for good; the matching close code follows."""

    type: Literal["room_closing"] = field(default="room_closing", init=False)
    reason: RoomClosingReason
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Replaced:
    """Another tab of the same user took the seat; close 4008 follows."""

    type: Literal["replaced"] = field(default="replaced", init=False)
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Error:
    """A request was refused; `message` is a sentence a person understands."""

    type: Literal["error"] = field(default="error", init=False)
    code: str
    message: str
    ref_type: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Pong:
    """Answer to `ping`, echoing its `ts`."""

    type: Literal["pong"] = field(default="pong", init=False)
    ts: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Quality:
    """The server's grade of the receiver's own latest `stats`, for its connection indicator."""

    type: Literal["quality"] = field(default="quality", init=False)
    verdict: QualityVerdict
    words: str  # the tooltip: a sentence naming the figures behind the verdict


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerQuality:
    """The same grade of the peer's latest `stats`: each person sees how the other one is doing."""

    type: Literal["peer_quality"] = field(default="peer_quality", init=False)
    verdict: QualityVerdict
    words: str


ServerMessage = (
    Joined
    | PeerJoined
    | PeerLeft
    | PeerReconnecting
    | RelayedOffer
    | RelayedAnswer
    | RelayedCandidate
    | PeerMediaState
    | PeerTrackInfo
    | PeerIceRestartRequest
    | ChatMessage
    | ChatAck
    | TimeWarning
    | RoomClosing
    | Replaced
    | Error
    | Pong
    | Quality
    | PeerQuality
)

CLIENT_MESSAGE_TYPES: Final[tuple[type[ClientMessage], ...]] = get_args(ClientMessage)
SERVER_MESSAGE_TYPES: Final[tuple[type[ServerMessage], ...]] = get_args(ServerMessage)
