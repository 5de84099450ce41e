"""Relay mode: one server-side aiortc peer per person, forwarding media between the two.

Why a server peer per person: some networks allow neither peer-to-peer media nor TURN, and some
events want media to pass through their own servers. Each client's connection ends here; every
incoming track (camera, microphone, screen share) is sent on the other person's connection.

Frames are forwarded still encoded (media/forwarding.py: about a fifth of the CPU of decoding
and re-encoding) when both connections negotiated the same codec; otherwise the track goes
through ``MediaRelay(buffered=False)``, which decodes and re-encodes but never queues.

Negotiation (docs/protocol.md section 6, relay mode): every client offers first (the server says
``offerer: true``) and the relay answers; the relay offers only when it must add or pause a
forwarded screen share on a connection. The relay is the impolite side: an offer arriving while
its own is outstanding is ignored, and the client (told ``polite: true``) rolls back.

This module knows nothing of signaling: SDP strings and candidates come in, ``Description`` /
``Label`` / ``Refused`` values go out through a callback. Everything it starts (one worker per
person, keyframe requests) is cancelled by ``close()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from aiortc import (
    MediaStreamTrack,
    RTCPeerConnection,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc import sdp as aiortc_sdp
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from media.forwarding import (
    EncodedTrack,
    ReceiverTap,
    hook_keyframe_requests,
    same_codec,
    sender_codec,
)
from media.ice import IceServer, reachable_turn_first, rtc_configuration

__all__ = ["Description", "Label", "Outgoing", "Purpose", "Refused", "RelayRoom"]

log = logging.getLogger("duet.media.relay")

Purpose = Literal["camera", "screen"]
MAX_PENDING: Final = 64  # signaling messages queued per person before we refuse more
MAX_MEDIA_SECTIONS: Final = 6  # camera, mic, a screen or two, a data channel: more is abuse


@dataclass(frozen=True, slots=True)
class Description:
    """An offer or answer for the person's client."""

    type: Literal["offer", "answer"]
    sdp: str


@dataclass(frozen=True, slots=True)
class Label:
    """``track_info`` for the person's client: the mid on *its* connection."""

    mid: str
    purpose: Purpose


@dataclass(frozen=True, slots=True)
class Refused:
    """A message from the client could not be applied; ``reason`` is for a person to read."""

    ref_type: str
    reason: str


Outgoing = Description | Label | Refused
Send = Callable[[str, Outgoing], None]


class RelayTrack(MediaStreamTrack):
    """What the relay sends on one transceiver: bound later to the other person's track.

    It exists before its source (a client may offer before the other person's camera arrives);
    the first ``recv()`` waits for the source and its codec, then picks encoded forwarding or
    the ``MediaRelay`` fallback.
    """

    def __init__(self, kind: str, media_relay: MediaRelay, forward_encoded: bool) -> None:
        super().__init__()
        self.kind = kind
        self.transceiver: RTCRtpTransceiver | None = None
        self.source: _Incoming | None = None
        self.mode: Literal["forward", "decode"] | None = None
        self._media_relay = media_relay
        self._forward_encoded = forward_encoded
        self._bound = asyncio.Event()
        self._inner: MediaStreamTrack | None = None

    def bind(self, source: _Incoming) -> None:
        self.source = source
        self._bound.set()

    async def recv(self) -> Any:
        if self._inner is None:
            self._inner = await self._choose()
        return await self._inner.recv()

    async def _choose(self) -> MediaStreamTrack:
        await self._bound.wait()
        source, transceiver = self.source, self.transceiver
        if self.readyState != "live" or source is None or transceiver is None:
            raise MediaStreamError
        incoming = await source.tap.wait_codec()
        outgoing = sender_codec(transceiver)
        if incoming is None or self.readyState != "live":
            raise MediaStreamError
        if self._forward_encoded and outgoing is not None and same_codec(incoming, outgoing):
            self.mode = "forward"
            source.tap.set_mode("forward")
            hook_keyframe_requests(transceiver.sender, source.tap)
            return EncodedTrack(self.kind, source.tap)
        log.info("relay falls back to decoding %s (%s -> %s)", self.kind, incoming, outgoing)
        self.mode = "decode"
        source.tap.set_mode("decode")
        return self._media_relay.subscribe(source.track, buffered=False)

    def stop(self) -> None:
        super().stop()
        self._bound.set()
        if self._inner is not None:
            self._inner.stop()


@dataclass(eq=False)
class _Incoming:
    """A track a person sends to the relay."""

    mid: str
    kind: str
    purpose: Purpose
    track: MediaStreamTrack
    transceiver: RTCRtpTransceiver
    tap: ReceiverTap
    active: bool = True

    @property
    def slot(self) -> str:
        if self.kind == "audio":
            return "mic"
        return "camera" if self.purpose == "camera" else f"screen:{self.mid}"


@dataclass(eq=False)
class _Outgoing:
    """A track the relay sends to a person (the other person's camera, mic or screen)."""

    slot: str
    track: RelayTrack
    transceiver: RTCRtpTransceiver | None = None
    active: bool = True
    labelled: bool = False


@dataclass(eq=False)
class _Leg:
    """One person's connection to the relay, with a worker applying their messages in order."""

    user_id: str
    pc: RTCPeerConnection
    inbox: asyncio.Queue[tuple[str, Callable[[], Awaitable[None]]]] = field(
        default_factory=lambda: asyncio.Queue(MAX_PENDING)
    )
    incoming: dict[str, _Incoming] = field(default_factory=dict)
    outgoing: dict[str, _Outgoing] = field(default_factory=dict)
    labels: dict[str, Purpose] = field(default_factory=dict)
    candidates: list[Any] = field(default_factory=list)
    needs_offer: bool = False
    worker: asyncio.Task[None] | None = None


class RelayRoom:
    """The relay for one chat: two legs, media forwarded between them; ``close()`` ends all."""

    def __init__(
        self,
        chat_id: str,
        people: tuple[str, str],
        ice_servers: Sequence[IceServer],
        send: Send,
        *,
        forward_encoded: bool = True,
    ) -> None:
        self.chat_id = chat_id
        self.forward_encoded = forward_encoded
        self._send = send
        self._media_relay = MediaRelay()
        self._closed = False
        self.closed = asyncio.Event()  # set once close() has finished
        self._legs: dict[str, _Leg] = {}
        self._ice_servers = list(ice_servers)
        # One TURN choice per room (both legs share this server's network), made while the
        # first offers are on their way; aiortc takes only the first TURN URL (media/ice.py).
        self._turn_choice = asyncio.create_task(reachable_turn_first(self._ice_servers))
        for user_id in people:
            leg = _Leg(user_id, self._connection_for(user_id, self._ice_servers))
            leg.worker = asyncio.create_task(self._work(leg), name=f"relay-{chat_id[:8]}-{user_id}")
            self._legs[user_id] = leg

    def _connection_for(self, user_id: str, servers: Sequence[IceServer]) -> RTCPeerConnection:
        pc = RTCPeerConnection(rtc_configuration(servers))
        pc.on("track", lambda track: self._on_track(self._legs[user_id], track))
        return pc

    async def _use_reachable_turn(self, leg: _Leg) -> None:
        """Before the leg's first use: rebuild its connection if another TURN URL works."""
        try:
            servers = await asyncio.shield(self._turn_choice)
        except Exception as exc:  # a failed choice must not cost the call: keep the order
            log.warning("relay %s: choosing a TURN URL failed: %r", self.chat_id, exc)
            return
        if servers == self._ice_servers:
            return
        unused, leg.pc = leg.pc, self._connection_for(leg.user_id, servers)
        unused.remove_all_listeners()
        await unused.close()

    # --- messages from clients (never block: queued for the person's worker) ----------------

    def offer(self, user_id: str, sdp: str) -> bool:
        return self._queue(user_id, "offer", lambda leg: self._on_offer(leg, sdp))

    def answer(self, user_id: str, sdp: str) -> bool:
        return self._queue(user_id, "answer", lambda leg: self._on_answer(leg, sdp))

    def candidate(
        self, user_id: str, candidate: str | None, mid: str | None, index: int | None
    ) -> bool:
        return self._queue(
            user_id, "candidate", lambda leg: self._on_candidate(leg, candidate, mid, index)
        )

    def label(self, user_id: str, mid: str, purpose: Purpose) -> bool:
        leg = self._legs.get(user_id)
        if leg is None or self._closed:
            return False
        leg.labels[mid] = purpose  # before the offer that follows it, so no queueing needed
        return True

    def _queue(self, user_id: str, kind: str, op: Callable[[_Leg], Awaitable[None]]) -> bool:
        leg = self._legs.get(user_id)
        if leg is None or self._closed:
            return False
        try:
            leg.inbox.put_nowait((kind, lambda: op(leg)))
        except asyncio.QueueFull:
            return False
        return True

    # --- figures ------------------------------------------------------------------------------

    def connection(self, user_id: str) -> RTCPeerConnection:
        """The relay's peer connection facing ``user_id`` (for inspection only)."""
        return self._legs[user_id].pc

    def stats(self) -> dict[str, Any]:
        """Per direction and slot: mode and frame counts (tests and the bench read these)."""
        out: dict[str, Any] = {}
        for leg in self._legs.values():
            for slot, outgoing in leg.outgoing.items():
                source = outgoing.track.source
                out[f"to:{leg.user_id}:{slot}"] = {
                    "mode": outgoing.track.mode,
                    "forwarded": source.tap.forwarded if source else 0,
                    "decoded": source.tap.decoded if source else 0,
                    "mid": outgoing.transceiver.mid if outgoing.transceiver else None,
                    "active": outgoing.active,
                }
        return out

    # --- the worker -----------------------------------------------------------------------------

    async def _work(self, leg: _Leg) -> None:
        await self._use_reachable_turn(leg)
        while True:
            kind, op = await leg.inbox.get()
            try:
                await op()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("relay %s: %s from %s failed: %r", self.chat_id, kind, leg.user_id, exc)
                self._send(leg.user_id, Refused(kind, "The media relay could not use that."))

    async def _on_offer(self, leg: _Leg, sdp: str) -> None:
        if leg.pc.signalingState != "stable":
            log.info("relay %s: glare with %s, ignoring its offer", self.chat_id, leg.user_id)
            return  # impolite: the client rolls back and answers ours
        parsed = aiortc_sdp.SessionDescription.parse(sdp)
        if len(parsed.media) > MAX_MEDIA_SECTIONS:
            self._send(leg.user_id, Refused("offer", "Too many media sections for the relay."))
            return
        await leg.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        self._adopt_offered(leg, parsed)
        await leg.pc.setLocalDescription(await leg.pc.createAnswer())
        self._send_labels(leg)
        self._send(leg.user_id, Description("answer", leg.pc.localDescription.sdp))
        await self._negotiated(leg)

    async def _on_answer(self, leg: _Leg, sdp: str) -> None:
        if leg.pc.signalingState != "have-local-offer":
            self._send(leg.user_id, Refused("answer", "The relay has no offer waiting for that."))
            return
        await leg.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        await self._negotiated(leg)

    async def _on_candidate(
        self, leg: _Leg, candidate: str | None, mid: str | None, index: int | None
    ) -> None:
        if not candidate:
            parsed = None
        else:
            parsed = aiortc_sdp.candidate_from_sdp(candidate.split(":", 1)[1])
            parsed.sdpMid, parsed.sdpMLineIndex = mid, index
        if leg.pc.remoteDescription is None:
            leg.candidates.append(parsed)
        else:
            await leg.pc.addIceCandidate(parsed)

    async def _negotiated(self, leg: _Leg) -> None:
        """After an offer/answer: apply queued candidates, mirror screen state, pair, re-offer."""
        pending, leg.candidates = leg.candidates, []
        for candidate in pending:
            await leg.pc.addIceCandidate(candidate)
        for incoming in leg.incoming.values():
            if incoming.purpose == "screen":
                incoming.active = incoming.transceiver.currentDirection in ("recvonly", "sendrecv")
        self._pair()
        if leg.needs_offer:
            await self._offer(leg)

    # --- tracks -------------------------------------------------------------------------------

    def _on_track(self, leg: _Leg, track: MediaStreamTrack) -> None:
        transceiver = next(t for t in leg.pc.getTransceivers() if t.receiver.track is track)
        mid = transceiver.mid or ""
        purpose: Purpose = "camera"
        if track.kind == "video":
            has_camera = any(i.slot == "camera" for i in leg.incoming.values())
            purpose = leg.labels.get(mid, "screen" if has_camera else "camera")
        tap = ReceiverTap(transceiver.receiver)
        leg.incoming[mid] = _Incoming(mid, track.kind, purpose, track, transceiver, tap)

    def _adopt_offered(self, leg: _Leg, parsed: aiortc_sdp.SessionDescription) -> None:
        """Send the other person's mic and camera on the first audio/video m-lines offered."""
        for media in parsed.media:
            if media.kind not in ("audio", "video") or media.direction not in (
                "sendrecv",
                "recvonly",
            ):
                continue
            slot = "mic" if media.kind == "audio" else "camera"
            if slot in leg.outgoing or leg.labels.get(media.rtp.muxId) == "screen":
                continue
            transceiver = next(
                (t for t in leg.pc.getTransceivers() if t.mid == media.rtp.muxId), None
            )
            if transceiver is None or transceiver.sender.track is not None:
                continue
            track = RelayTrack(media.kind, self._media_relay, self.forward_encoded)
            track.transceiver = transceiver
            transceiver.sender.replaceTrack(track)
            transceiver.direction = "sendrecv" if media.direction == "sendrecv" else "sendonly"
            leg.outgoing[slot] = _Outgoing(slot, track, transceiver)

    def _pair(self) -> None:
        """Bind every incoming track to its slot on the other leg; new screens need an offer."""
        legs = list(self._legs.values())
        for source_leg, target in ((legs[0], legs[1]), (legs[1], legs[0])):
            for incoming in source_leg.incoming.values():
                outgoing = target.outgoing.get(incoming.slot)
                if outgoing is None:
                    if incoming.purpose != "screen" or not incoming.active:
                        continue
                    track = RelayTrack("video", self._media_relay, self.forward_encoded)
                    outgoing = _Outgoing(incoming.slot, track)
                    target.outgoing[incoming.slot] = outgoing
                    target.needs_offer = True
                if outgoing.track.source is None:
                    outgoing.track.bind(incoming)
                if incoming.purpose == "screen" and outgoing.active != incoming.active:
                    outgoing.active = incoming.active
                    target.needs_offer = True
            if target.needs_offer and target is not source_leg:
                self._queue(target.user_id, "offer", self._offer)

    async def _offer(self, leg: _Leg) -> None:
        """Offer the person's connection the screen changes (only when stable and set up)."""
        if not leg.needs_offer or leg.pc.signalingState != "stable":
            return  # retried after the exchange in progress completes
        if leg.pc.remoteDescription is None:
            return  # the client's first offer has not come yet; _negotiated retries
        leg.needs_offer = False
        for outgoing in leg.outgoing.values():
            if not outgoing.slot.startswith("screen:"):
                continue
            if outgoing.transceiver is None:
                if not outgoing.active:
                    continue
                transceiver = leg.pc.addTransceiver(outgoing.track, direction="sendonly")
                source = outgoing.track.source
                if source is not None and source.tap.codec is not None:
                    _prefer(transceiver, source.tap.codec)
                outgoing.transceiver = outgoing.track.transceiver = transceiver
            else:
                outgoing.transceiver.direction = "sendonly" if outgoing.active else "inactive"
        await leg.pc.setLocalDescription(await leg.pc.createOffer())
        self._send_labels(leg)
        self._send(leg.user_id, Description("offer", leg.pc.localDescription.sdp))

    def _send_labels(self, leg: _Leg) -> None:
        """``track_info`` for each forwarded video, by the mid on this person's connection."""
        for outgoing in leg.outgoing.values():
            transceiver = outgoing.transceiver
            if outgoing.labelled or transceiver is None or transceiver.mid is None:
                continue
            if outgoing.track.kind != "video":
                continue
            outgoing.labelled = True
            purpose: Purpose = "camera" if outgoing.slot == "camera" else "screen"
            self._send(leg.user_id, Label(transceiver.mid, purpose))

    # --- closing ------------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop workers, close both connections (ends decoder threads and senders). Idempotent."""
        if self._closed:
            return
        self._closed = True
        workers = [leg.worker for leg in self._legs.values() if leg.worker is not None]
        for task in (*workers, self._turn_choice):
            task.cancel()
        await asyncio.gather(*workers, self._turn_choice, return_exceptions=True)
        for leg in self._legs.values():
            for outgoing in leg.outgoing.values():
                outgoing.track.stop()
            with contextlib.suppress(Exception):
                await leg.pc.close()
            for incoming in leg.incoming.values():
                await incoming.tap.close()
        self.closed.set()


def _prefer(transceiver: RTCRtpTransceiver, codec: RTCRtpCodecParameters) -> None:
    """Offer the incoming codec first, so the answer usually allows forwarding it unchanged."""
    codecs = RTCRtpSender.getCapabilities(transceiver.kind).codecs
    first = [c for c in codecs if c.mimeType.lower() == codec.mimeType.lower()]
    transceiver.setCodecPreferences(first + [c for c in codecs if c not in first])
