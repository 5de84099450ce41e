"""A small aiortc test client: synthetic camera and microphone, frame counters, ICE inspection.

Only the WebRTC half lives here. SDP goes in and out as ``RTCSessionDescription`` values so the
same peer can be wired directly to another one in-process (``connect_directly``) or through
Duet's signaling WebSocket by a later test; this module knows no transport.

Two facts of this machine shape it (measured; docs/architecture.md, "Media tests"):
aioice never offers 127.0.0.1 as a host candidate, so tests patch its host discovery with
``loopback_host_addresses()`` for the duration of a test only; and a wrong TURN password fails
silently, so every wait here takes a timeout.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import struct
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Self
from unittest import mock

import aioice.ice
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceCandidate,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import AUDIO_PTIME, MediaStreamError
from av import AudioFrame, VideoFrame

from media.ice import IceServer, reachable_turn_first

__all__ = [
    "CandidatePairInfo",
    "FrameCounter",
    "MediaPeer",
    "SyntheticAudioTrack",
    "SyntheticVideoTrack",
    "connect_directly",
    "loopback_host_addresses",
]


@contextmanager
def loopback_host_addresses(addresses: Iterable[str] = ("127.0.0.1",)) -> Iterator[None]:
    """Make aioice gather host candidates on ``addresses`` only, while the block runs.

    Scoped (not applied at import) so that no other test, and never production code, inherits
    the patch.
    """
    chosen = list(addresses)

    def fake(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in chosen if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    with mock.patch.object(aioice.ice, "get_host_addresses", fake):
        yield


class SyntheticVideoTrack(VideoStreamTrack):
    """A moving test pattern, so the encoder produces real (non-static) VP8 frames.

    Frames are precomputed once: a 2-core machine should spend its time on the codec, not on
    drawing pixels in Python.
    """

    def __init__(self, width: int = 320, height: int = 240, distinct_frames: int = 30) -> None:
        super().__init__()
        self.width = width
        self.height = height
        self._lumas = [self._luma(i, distinct_frames) for i in range(distinct_frames)]
        self._index = 0

    def _luma(self, index: int, total: int) -> bytes:
        bar = self.width // 8
        start = index * (self.width - bar) // max(total - 1, 1)
        row = bytes(
            235 if start <= x < start + bar else 16 + (x * 4) % 200 for x in range(self.width)
        )
        return row * self.height

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=self.width, height=self.height, format="yuv420p")
        luma = self._lumas[self._index % len(self._lumas)]
        self._index += 1
        _fill_plane(frame.planes[0], luma, self.width, self.height)
        for plane in frame.planes[1:]:
            plane.update(bytes([128]) * plane.buffer_size)
        frame.pts = pts
        frame.time_base = time_base
        return frame


def _fill_plane(plane: Any, pixels: bytes, width: int, height: int) -> None:
    """Copy tightly packed rows into a plane whose rows may be padded (line_size > width)."""
    stride = plane.line_size
    if stride == width:
        plane.update(pixels)
        return
    padding = bytes(stride - width)
    plane.update(b"".join(pixels[y * width : (y + 1) * width] + padding for y in range(height)))


class SyntheticAudioTrack(MediaStreamTrack):
    """A 400 Hz tone at 48 kHz mono in 20 ms frames (exactly 8 periods, so frames tile)."""

    kind = "audio"
    sample_rate = 48000

    def __init__(self) -> None:
        super().__init__()
        samples = int(AUDIO_PTIME * self.sample_rate)
        self._samples = samples
        self._pcm = struct.pack(
            f"<{samples}h",
            *(
                int(8000 * math.sin(2 * math.pi * 400 * n / self.sample_rate))
                for n in range(samples)
            ),
        )
        self._start: float | None = None
        self._timestamp = 0

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        else:
            self._timestamp += self._samples
            await asyncio.sleep(self._start + self._timestamp / self.sample_rate - time.time())
        frame = AudioFrame(format="s16", layout="mono", samples=self._samples)
        frame.planes[0].update(self._pcm)
        frame.pts = self._timestamp
        frame.sample_rate = self.sample_rate
        frame.time_base = fractions.Fraction(1, self.sample_rate)
        return frame


class FrameCounter:
    """Drains one remote track and counts decoded frames, so tests can await "N frames"."""

    def __init__(self, track: MediaStreamTrack) -> None:
        self.track = track
        self.count = 0
        self.ended = False
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=f"frames-{track.kind}")

    async def _run(self) -> None:
        try:
            while True:
                await self.track.recv()
                self.count += 1
                self._changed.set()
        except MediaStreamError:
            pass
        finally:
            self.ended = True
            self._changed.set()

    async def wait_for(self, count: int, within: float) -> int:
        """Return once ``count`` frames arrived; TimeoutError (with the count so far) if not."""
        try:
            async with asyncio.timeout(within):
                while self.count < count:
                    if self.ended:
                        raise AssertionError(
                            f"{self.track.kind} track ended after {self.count}/{count} frames"
                        )
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise TimeoutError(
                f"{self.count}/{count} {self.track.kind} frames after {within}s"
            ) from None
        return self.count

    async def close(self) -> None:
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task


@dataclass(frozen=True)
class CandidatePairInfo:
    """The ICE pair media actually flows over: its local and remote candidate types."""

    local_type: str
    remote_type: str
    local_address: tuple[str, int]
    remote_address: tuple[str, int]


class MediaPeer:
    """One aiortc endpoint that sends synthetic VP8 video (and audio) and counts what it gets.

    ``ice_servers`` is always passed explicitly (``[]`` allowed), because aiortc falls back to a
    public STUN server when it is left unset. aiortc uses only their first TURN URL: build peers
    with ``await MediaPeer.create(...)`` (or ``CallPeer.create``) so that it is the one that
    works from this peer's network, whatever the order Duet handed out (media/ice.py).
    """

    @classmethod
    async def create(
        cls, name: str, ice_servers: Sequence[IceServer | RTCIceServer], *args: Any, **kwargs: Any
    ) -> Self:
        """A peer whose one TURN URL is the best that answers from here (``reachable_turn_first``)."""
        servers = [
            s if isinstance(s, IceServer) else IceServer(_urls(s), s.username, s.credential)
            for s in ice_servers
        ]
        return cls(name, await reachable_turn_first(servers), *args, **kwargs)

    def __init__(
        self,
        name: str,
        ice_servers: Sequence[IceServer | RTCIceServer] = (),
        *,
        relay_only: bool = False,
        video: bool = True,
        audio: bool = True,
        video_size: tuple[int, int] = (320, 240),
    ) -> None:
        self.name = name
        # What aiortc was given, in order (its one TURN URL is the first), for tests to check.
        self.ice_servers = [s.to_aiortc() if isinstance(s, IceServer) else s for s in ice_servers]
        policy = RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=self.ice_servers, iceTransportPolicy=policy)
        )
        self.tracks: list[MediaStreamTrack] = []
        if video:
            self.tracks.append(SyntheticVideoTrack(*video_size))
        if audio:
            self.tracks.append(SyntheticAudioTrack())
        self.received: dict[str, FrameCounter] = {}
        self._tracks_added = False
        self._track_arrived = asyncio.Event()
        self._state_changed = asyncio.Event()
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._state_changed.set)

    def _on_track(self, track: MediaStreamTrack) -> None:
        self.received[track.kind] = FrameCounter(track)
        self._track_arrived.set()

    def _add_tracks(self) -> None:
        """Attach our tracks, reusing transceivers the remote offer created; VP8 only for video.

        VP8 because it costs about half of H264's CPU on this 2-core machine. Idempotent, so a
        renegotiation (a second offer or answer) does not add the tracks twice.
        """
        if self._tracks_added:
            return
        self._tracks_added = True
        for track in self.tracks:
            self.pc.addTrack(track)
        vp8 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/VP8"]
        for transceiver in self.pc.getTransceivers():
            if transceiver.kind == "video":
                transceiver.setCodecPreferences(vp8)

    # --- SDP in / SDP out (the transport is the caller's business) -------------------------

    async def create_offer(self) -> RTCSessionDescription:
        """Offer with all candidates included (aiortc gathers fully; no trickle)."""
        self._add_tracks()
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription

    async def accept_offer(self, offer: RTCSessionDescription) -> RTCSessionDescription:
        await self.pc.setRemoteDescription(offer)
        self._add_tracks()
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self.pc.localDescription

    async def accept_answer(self, answer: RTCSessionDescription) -> None:
        await self.pc.setRemoteDescription(answer)

    # --- waiting ------------------------------------------------------------------------------

    async def wait_connected(self, within: float) -> None:
        """Until connectionState is "connected"; fails fast on "failed"/"closed"."""
        try:
            async with asyncio.timeout(within):
                while self.pc.connectionState != "connected":
                    if self.pc.connectionState in ("failed", "closed"):
                        raise AssertionError(f"{self.name}: connection {self.pc.connectionState}")
                    self._state_changed.clear()
                    await self._state_changed.wait()
        except TimeoutError:
            raise TimeoutError(
                f"{self.name}: still {self.pc.connectionState!r} after {within}s "
                f"(ICE {self.pc.iceConnectionState!r})"
            ) from None

    async def wait_frames(self, kind: str = "video", count: int = 10, within: float = 10.0) -> int:
        """Until ``count`` frames of the remote ``kind`` track were decoded."""
        deadline = asyncio.get_running_loop().time() + within
        try:
            async with asyncio.timeout(within):
                while kind not in self.received:
                    self._track_arrived.clear()
                    await self._track_arrived.wait()
        except TimeoutError:
            raise TimeoutError(f"{self.name}: no remote {kind} track after {within}s") from None
        remaining = max(deadline - asyncio.get_running_loop().time(), 0.0)
        return await self.received[kind].wait_for(count, remaining)

    # --- ICE inspection -----------------------------------------------------------------------

    def _ice_transports(self) -> list[Any]:
        transports = []
        for transceiver in self.pc.getTransceivers():
            dtls = transceiver.sender.transport
            if dtls is not None and dtls.transport not in transports:
                transports.append(dtls.transport)
        return transports

    def local_candidates(self) -> list[RTCIceCandidate]:
        """Every local candidate gathered (public aiortc API)."""
        return [
            candidate
            for ice in self._ice_transports()
            for candidate in ice.iceGatherer.getLocalCandidates()
        ]

    def selected_pairs(self) -> list[CandidatePairInfo]:
        """The nominated pair of each ICE transport.

        aiortc exposes no selected-pair API, so this reads aioice's ``_nominated`` (aiortc and
        aioice are pinned exactly in pyproject.toml).
        """
        pairs = []
        for ice in self._ice_transports():
            for pair in ice._connection._nominated.values():
                pairs.append(
                    CandidatePairInfo(
                        local_type=pair.local_candidate.type,
                        remote_type=pair.remote_candidate.type,
                        local_address=(pair.local_candidate.host, pair.local_candidate.port),
                        remote_address=(pair.remote_candidate.host, pair.remote_candidate.port),
                    )
                )
        return pairs

    async def close(self) -> None:
        """Close the connection, stop our tracks and the frame-draining tasks."""
        await self.pc.close()
        for track in self.tracks:
            track.stop()
        for counter in self.received.values():
            await counter.close()


def _urls(server: RTCIceServer) -> tuple[str, ...]:
    return tuple(server.urls) if isinstance(server.urls, list) else (server.urls,)


async def connect_directly(offerer: MediaPeer, answerer: MediaPeer, within: float = 10.0) -> None:
    """Exchange SDP in-process (no signaling server) and wait until both sides are connected."""
    async with asyncio.timeout(within):
        offer = await offerer.create_offer()
        answer = await answerer.accept_offer(offer)
        await offerer.accept_answer(answer)
    await asyncio.gather(offerer.wait_connected(within), answerer.wait_connected(within))
