"""A Duet call client for tests: an aiortc peer (tests/support/peers.py) driven by the signaling socket.

It plays the part of the browser client against the real server, so tests exercise the protocol
as docs/protocol.md section 6 describes it: `media_action` decides when to discard and rebuild the
peer connection, the `offerer` flag decides who offers, offers/answers/candidates are relayed,
`track_info` labels transceivers by mid, and a screen share is an extra sendonly transceiver
added and stopped by renegotiation.

aiortc differs from a browser in ways the client works around (measured; docs/architecture.md,
"Media tests"): it does not trickle (its SDP carries every
candidate), it cannot restart ICE (so it always joins with `can_restart_ice: false`, which makes the
server answer a resume with `new_connection`), and it cannot roll back a local offer. With
``trickle=True`` it strips candidates out of its SDP and sends them as `candidate` messages, as a
browser would, so the receiving side's trickle path is exercised too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
from aiortc import (
    MediaStreamTrack,
    RTCDataChannel,
    RTCIceServer,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp

from media.ice import IceServer
from signaling import messages as m
from signaling.codec import decode_server, encode
from tests.support.apiclient import Api, Person
from tests.support.peers import FrameCounter, MediaPeer

__all__ = ["CallPeer", "Dialer", "MediaClient", "SizedFrameCounter", "sdp_candidates"]

log = logging.getLogger("tests.support.media_client")

# Opens a new socket and fetches a new ticket for it (every socket needs its own ticket).
Dialer = Callable[[], Awaitable[tuple[aiohttp.ClientWebSocketResponse, str]]]


def api_dialer(api: Api, person: Person, chat_id: str, *, binary: bool = False) -> Dialer:
    """A new ticket and a new socket per connection, as docs/protocol.md section 1 demands."""

    async def dial() -> tuple[aiohttp.ClientWebSocketResponse, str]:
        grant = await api.call(person, "POST", f"/api/v1/chats/{chat_id}/join")
        protocol = m.SUBPROTOCOL_MSGPACK if binary else m.SUBPROTOCOL_JSON
        ws = await api.client.ws_connect("/api/v1/ws", protocols=(protocol,))
        return ws, grant["ticket"]

    return dial


class SizedFrameCounter(FrameCounter):
    """A FrameCounter that also remembers the last video frame's size, to tell tracks apart."""

    def __init__(self, track: MediaStreamTrack) -> None:
        self.size: tuple[int, int] | None = None
        super().__init__(track)

    async def _run(self) -> None:
        try:
            while True:
                frame = await self.track.recv()
                if hasattr(frame, "width"):
                    self.size = (frame.width, frame.height)
                self.count += 1
                self._changed.set()
        except MediaStreamError:
            pass
        finally:
            self.ended = True
            self._changed.set()


def _vp8() -> list[Any]:
    return [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/VP8"]


class CallPeer(MediaPeer):
    """MediaPeer plus what a call needs: remote tracks keyed by mid, and a data channel.

    MediaPeer keys remote tracks by kind, which cannot tell a camera from a screen share; the
    protocol labels tracks by mid, so this peer counts frames per mid as well.
    """

    def __init__(
        self,
        name: str,
        ice_servers: Sequence[IceServer | RTCIceServer],
        on_change: Callable[[], None],
        *,
        relay_only: bool = False,
    ) -> None:
        super().__init__(name, ice_servers, relay_only=relay_only)
        self.by_mid: dict[str, SizedFrameCounter] = {}
        self.channel: RTCDataChannel | None = None
        self.channel_messages: list[str] = []
        self.screen: RTCRtpTransceiver | None = None
        self.labelled: dict[str, str] = {}  # mid -> purpose already sent in track_info
        self.trickled = False
        self._on_change = on_change
        self.pc.on("datachannel", self._adopt_channel)
        self.pc.on("signalingstatechange", on_change)

    def _on_track(self, track: MediaStreamTrack) -> None:
        counter = SizedFrameCounter(track)
        mid = next(t.mid for t in self.pc.getTransceivers() if t.receiver.track is track)
        assert mid is not None, "aiortc assigns the mid before the track event"
        self.by_mid[mid] = counter
        self.received.setdefault(track.kind, counter)  # the first of a kind is the camera/mic
        self._track_arrived.set()
        self._on_change()

    def open_channel(self) -> None:
        """The offerer opens the data channel before its first offer (it needs an m-line)."""
        self._adopt_channel(self.pc.createDataChannel("duet-test"))

    def _adopt_channel(self, channel: RTCDataChannel) -> None:
        self.channel = channel

        def on_message(message: str | bytes) -> None:
            self.channel_messages.append(
                message if isinstance(message, str) else message.decode("utf-8")
            )
            self._on_change()

        channel.on("message", on_message)
        channel.on("open", self._on_change)
        self._on_change()

    def purpose_of(self, transceiver: RTCRtpTransceiver) -> m.TrackPurpose:
        return "screen" if transceiver is self.screen else "camera"

    async def close(self) -> None:
        await super().close()
        if self.screen is not None and self.screen.sender.track is not None:
            self.screen.sender.track.stop()
        for counter in self.by_mid.values():
            await counter.close()


def sdp_candidates(sdp: str) -> tuple[str, list[tuple[str, str | None, int]]]:
    """Split an aiortc SDP into (SDP without candidates, [(candidate, mid, m-line index)]).

    That is what a browser's trickle-ICE SDP and its `icecandidate` events look like.
    """
    kept: list[str] = []
    found: list[tuple[str, str | None, int]] = []
    index = -1
    mid: str | None = None
    pending: list[str] = []

    def flush() -> None:
        found.extend((c, mid, index) for c in pending)
        pending.clear()

    for line in sdp.splitlines():
        if line.startswith("m="):
            flush()
            index += 1
            mid = None
        elif line.startswith("a=mid:"):
            mid = line[len("a=mid:") :]
        if line.startswith("a=candidate:"):
            pending.append(line[2:])
            continue
        if line == "a=end-of-candidates":
            continue
        kept.append(line)
    flush()
    return "\r\n".join(kept) + "\r\n", found


class MediaClient:
    """One person in a call: a signaling socket, the current peer connection, and what was seen.

    Everything the server sends is handled by one reader task in order; tests observe the state
    through `wait_until` (bounded) rather than by reading the socket themselves.
    """

    def __init__(
        self,
        name: str,
        dial: Dialer,
        *,
        binary: bool = False,
        trickle: bool = False,
        relay_only: bool = False,
    ) -> None:
        self.name = name
        self.relay_only = relay_only  # TURN only, as behind a firewall that blocks direct UDP
        self.dial = dial  # replaceable: a resume may reach another node
        self.binary = binary
        self.trickle = trickle
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.joined: m.Joined | None = None
        self.peer: CallPeer | None = None
        self.generation = 0  # peer connections created so far (each new_connection adds one)
        self.messages: list[m.ServerMessage] = []
        self.chat: list[m.ChatMessage] = []
        self.acks: dict[str, m.ChatAck] = {}
        self.errors: list[m.Error] = []
        self.failures: list[str] = []  # exceptions in the reader: a test must see none
        self.peer_tracks: dict[str, str] = {}  # the peer's mid -> purpose (latest wins)
        self.peer_media: m.MediaFlags | None = None
        self.candidates_added = 0
        self.ignored_offers = 0
        self.last_seq = 0
        self.sharing = False
        self.close_code: int | None = None
        self._changed = asyncio.Event()
        self._negotiating = asyncio.Lock()
        self._pending_candidates: list[m.RelayedCandidate] = []
        self._reader: asyncio.Task[None] | None = None

    # --- the socket ------------------------------------------------------------------------

    async def connect(self, *, resume: bool = False, within: float = 10.0) -> m.Joined:
        """Open a new socket with a new ticket and join (with `resume` after a drop)."""
        await self._stop_reader()
        ws, ticket = await self.dial()
        self.ws = ws
        self.close_code = None
        self.joined = None
        self._reader = asyncio.create_task(self._read(ws), name=f"media-client-{self.name}")
        await self.send(
            m.Join(
                v=1,
                ticket=ticket,
                resume=m.Resume(last_seq=self.last_seq, media_kept=self.peer is not None)
                if resume
                else None,
                can_restart_ice=False,  # aiortc has no restartIce()
            )
        )
        await self.wait_until(
            lambda: self.joined is not None or self.close_code is not None, within, "joined"
        )
        if self.joined is None:  # refused, or the node went away before answering
            raise ConnectionResetError(f"{self.name}: closed with {self.close_code} before joined")
        return self.joined

    async def drop(self) -> None:
        """Lose the socket without a close frame, as a network failure would (no `leave`)."""
        assert self.ws is not None
        sock = self.ws.get_extra_info("socket")
        assert sock is not None, "the socket is already gone"
        sock.shutdown(socket.SHUT_RDWR)
        await self.wait_until(lambda: self.close_code is not None, 5.0, "the socket to close")

    async def send(self, msg: m.ClientMessage) -> None:
        assert self.ws is not None
        frame = encode(msg, binary=self.binary)
        if isinstance(frame, bytes):
            await self.ws.send_bytes(frame)
        else:
            await self.ws.send_str(frame)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for frame in ws:
                if frame.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    break
                msg = decode_server(frame.data)
                self.messages.append(msg)
                try:
                    await self._handle(msg)
                except Exception as exc:  # recorded for the test, which asserts there are none
                    log.exception("%s: handling %s failed", self.name, msg.type)
                    self.failures.append(f"{msg.type}: {exc!r}")
                self._changed.set()
        finally:
            self.close_code = ws.close_code if ws.close_code is not None else 1006
            self._changed.set()

    async def _stop_reader(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self.ws is not None and not self.ws.closed:
            await self.ws.close()

    # --- waiting ---------------------------------------------------------------------------

    def notify(self) -> None:
        self._changed.set()

    async def wait_until(self, condition: Callable[[], bool], within: float, what: str) -> None:
        """Until `condition()` holds; re-checked whenever a message or media event arrives."""
        try:
            async with asyncio.timeout(within):
                while not condition():
                    if self.failures:
                        raise AssertionError(f"{self.name}: client failures {self.failures}")
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            seen = [x.type for x in self.messages[-12:]]
            raise TimeoutError(
                f"{self.name}: no {what} after {within}s; last messages {seen}, "
                f"errors {self.errors}, failures {self.failures}"
            ) from None

    async def expect(self, kind: type[Any], within: float = 10.0, after: int = 0) -> Any:
        """The first message of `kind` at index >= `after` in `messages` (waiting if needed)."""

        def found() -> Any:
            return next((x for x in self.messages[after:] if isinstance(x, kind)), None)

        await self.wait_until(lambda: found() is not None, within, kind.__name__)
        return found()

    # --- handling server messages -----------------------------------------------------------

    async def _handle(self, msg: m.ServerMessage) -> None:
        if isinstance(msg, m.Joined):
            self.joined = msg
            self._saw_chat(msg.last_seq, msg.history)
            self.peer_media = msg.peer.media_state
            await self.send(m.MediaState(mic=True, camera=True, screen=self.sharing))
            if msg.media_action == "new_connection":
                await self._new_connection()
        elif isinstance(msg, m.PeerJoined):
            self.peer_media = msg.peer.media_state
            if msg.media_action == "new_connection":
                await self._new_connection()
            # "ice_restart" cannot happen: we joined with can_restart_ice=false
        elif isinstance(msg, m.RelayedOffer):
            await self._on_offer(msg.sdp)
        elif isinstance(msg, m.RelayedAnswer):
            await self._on_answer(msg.sdp)
        elif isinstance(msg, m.RelayedCandidate):
            await self._on_candidate(msg)
        elif isinstance(msg, m.PeerTrackInfo):
            self.peer_tracks[msg.mid] = msg.purpose
        elif isinstance(msg, m.PeerMediaState):
            self.peer_media = m.MediaFlags(mic=msg.mic, camera=msg.camera, screen=msg.screen)
        elif isinstance(msg, m.ChatMessage):
            self.chat.append(msg)
            self._saw_chat(msg.seq, ())
        elif isinstance(msg, m.ChatAck):
            self.acks[msg.client_msg_id] = msg
        elif isinstance(msg, m.Error):
            self.errors.append(msg)

    def _saw_chat(self, seq: int, history: Sequence[m.ChatEntry]) -> None:
        for entry in history:
            self.chat.append(
                m.ChatMessage(
                    seq=entry.seq,
                    client_msg_id=entry.client_msg_id,
                    sender_id=entry.sender_id,
                    text=entry.text,
                    sent_at=entry.sent_at,
                )
            )
        self.last_seq = max(self.last_seq, seq)

    async def _new_connection(self) -> None:
        """Discard the old peer connection, build a new one; the offerer offers at once."""
        async with self._negotiating:
            if self.peer is not None:
                await self.peer.close()
            assert self.joined is not None
            servers = [IceServer(s.urls, s.username, s.credential) for s in self.joined.ice_servers]
            # aiortc takes only the first TURN URL: the one that works from here goes first.
            self.peer = await CallPeer.create(
                self.name, servers, self.notify, relay_only=self.relay_only
            )
            self.generation += 1
            self.sharing = False
            self._pending_candidates.clear()
            if self.joined.offerer:
                self.peer.open_channel()
                await self._offer()

    async def _offer(self) -> None:
        """Create and send an offer (the caller holds the negotiation lock)."""
        assert self.peer is not None
        description = await self.peer.create_offer()
        await self._send_description(description)

    async def _send_description(self, description: RTCSessionDescription) -> None:
        """track_info for newly labelled transceivers first, then the SDP (and trickle)."""
        assert self.peer is not None
        for transceiver in self.peer.pc.getTransceivers():
            mid = transceiver.mid
            if transceiver.kind != "video" or mid is None or transceiver.sender.track is None:
                continue
            purpose = self.peer.purpose_of(transceiver)
            if self.peer.labelled.get(mid) != purpose:
                self.peer.labelled[mid] = purpose
                await self.send(m.TrackInfo(mid=mid, purpose=purpose))
        sdp, candidates = description.sdp, []
        if self.trickle and not self.peer.trickled:
            # Later descriptions reuse the same ICE transport: a browser sends no new candidates.
            self.peer.trickled = True
            sdp, candidates = sdp_candidates(sdp)
        kind = m.Offer if description.type == "offer" else m.Answer
        await self.send(kind(sdp=sdp))
        for candidate, mid, index in candidates:
            await self.send(m.Candidate(candidate=candidate, sdpMid=mid, sdpMLineIndex=index))
        if candidates:
            await self.send(m.Candidate(candidate=""))  # end of candidates

    async def _on_offer(self, sdp: str) -> None:
        async with self._negotiating:
            if self.peer is None:
                self.failures.append("offer before any new_connection")
                return
            assert self.joined is not None
            pc = self.peer.pc
            if pc.signalingState != "stable":
                if not self.joined.polite:
                    self.ignored_offers += 1  # perfect negotiation: the impolite side ignores
                    return
                # aiortc cannot roll back its own offer; a browser's polite side would.
                self.failures.append("offer collision on the polite side (no rollback in aiortc)")
                return
            answer = await self.peer.accept_offer(RTCSessionDescription(sdp=sdp, type="offer"))
            await self._apply_pending_candidates()
            await self._send_description(answer)

    async def _on_answer(self, sdp: str) -> None:
        async with self._negotiating:
            if self.peer is None or self.peer.pc.signalingState != "have-local-offer":
                self.failures.append("answer without an offer of ours outstanding")
                return
            await self.peer.accept_answer(RTCSessionDescription(sdp=sdp, type="answer"))
            await self._apply_pending_candidates()

    async def _on_candidate(self, msg: m.RelayedCandidate) -> None:
        if self.peer is None or self.peer.pc.remoteDescription is None:
            self._pending_candidates.append(msg)  # queued until a remote description is set
            return
        await self._add_candidate(msg)

    async def _apply_pending_candidates(self) -> None:
        pending, self._pending_candidates = self._pending_candidates, []
        for msg in pending:
            await self._add_candidate(msg)

    async def _add_candidate(self, msg: m.RelayedCandidate) -> None:
        assert self.peer is not None
        if not msg.candidate:
            await self.peer.pc.addIceCandidate(None)  # end of candidates
            return
        candidate = candidate_from_sdp(msg.candidate.split(":", 1)[1])
        candidate.sdpMid = msg.sdpMid
        candidate.sdpMLineIndex = msg.sdpMLineIndex
        await self.peer.pc.addIceCandidate(candidate)
        self.candidates_added += 1

    # --- actions a person takes during a call ------------------------------------------------

    async def chat_send(self, text: str, within: float = 10.0) -> m.ChatAck:
        client_msg_id = uuid.uuid4().hex
        await self.send(m.ChatSend(client_msg_id=client_msg_id, text=text))
        await self.wait_until(lambda: client_msg_id in self.acks, within, f"chat_ack for {text!r}")
        return self.acks[client_msg_id]

    async def wait_chat(self, text: str, within: float = 10.0) -> m.ChatMessage:
        def found() -> m.ChatMessage | None:
            return next((c for c in self.chat if c.text == text), None)

        await self.wait_until(lambda: found() is not None, within, f"chat_message {text!r}")
        message = found()
        assert message is not None
        return message

    async def renegotiate(self) -> None:
        """A new offer/answer on the current connection, as a browser's negotiationneeded does."""
        async with self._negotiating:
            assert self.peer is not None and self.peer.pc.signalingState == "stable"
            await self._offer()

    async def start_screen_share(self, track: MediaStreamTrack) -> str:
        """Add a sendonly transceiver for `track`, label it `screen`, renegotiate; its mid."""
        async with self._negotiating:
            assert self.peer is not None and self.peer.pc.signalingState == "stable"
            transceiver = self.peer.pc.addTransceiver(track, direction="sendonly")
            transceiver.setCodecPreferences(_vp8())
            self.peer.screen = transceiver
            self.sharing = True
            await self.send(m.MediaState(mic=True, camera=True, screen=True))
            await self._offer()
            assert transceiver.mid is not None
            return transceiver.mid

    async def stop_screen_share(self) -> None:
        """aiortc has no removeTrack(): make the transceiver inactive and renegotiate."""
        async with self._negotiating:
            assert self.peer is not None and self.peer.screen is not None
            self.peer.screen.direction = "inactive"
            self.sharing = False
            await self.send(m.MediaState(mic=True, camera=True, screen=False))
            await self._offer()

    def stable(self) -> bool:
        """Not in the middle of an offer/answer exchange."""
        return (
            self.peer is not None
            and self.peer.pc.signalingState == "stable"
            and not self._negotiating.locked()
        )

    async def close(self) -> None:
        """Leave deliberately (so the server holds no seat for us), then free everything."""
        if self.ws is not None and not self.ws.closed and self.close_code is None:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.send(m.Leave())
        await self._stop_reader()
        if self.peer is not None:
            await self.peer.close()
            self.peer = None
