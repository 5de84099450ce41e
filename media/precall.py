"""The pre-call check: a server-side aiortc peer that mirrors a person's camera and microphone.

Before joining a chat, the browser calls this peer. It sends back what it receives (so the person
sees and hears themselves through a real network round trip) and measures what it can: decoded
video frames, audio level, round-trip time (RTCP receiver reports on the returned media), packet
loss in both directions, the bitrate it receives, and whether the selected ICE pair goes through
TURN. ``verdict`` turns those figures into a short answer a person understands.

Media is forwarded through a one-frame slot (``ForwardTrack``), never a queue: if the encoder
falls behind, older frames are dropped instead of piling up in memory. Every remote track is
drained by a task of this peer even when nothing is sent back, because aiortc's decoded-frame
queue is unbounded when nobody reads it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from collections import OrderedDict, deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc import sdp as aiortc_sdp
from aiortc.exceptions import InternalError, InvalidAccessError, InvalidStateError, OperationError
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame

from media.ice import IceServer, reachable_turn_first, rtc_configuration
from media.peer_pool import PeerPool, PoolEntry
from scheduling.clock import Clock

__all__ = [
    "BadOffer",
    "ForwardTrack",
    "Measurement",
    "PrecallPeer",
    "PrecallService",
    "verdict",
]

log = logging.getLogger("duet.media.precall")

# An offer may carry a camera, a microphone and perhaps a screen; more is abuse (every media
# section costs a decoder thread and an encoder here).
MAX_MEDIA_SECTIONS = 4
# Until this long after connecting, missing frames or silence may just mean "not yet".
GRACE_S = 5.0
STATS_INTERVAL_S = 1.0
# Thresholds for a two-person video call (ITU-T G.114 puts one-way delay trouble at ~150 ms,
# i.e. a round trip of ~300 ms; video conferencing degrades visibly beyond ~2 % loss).
MIN_VIDEO_FRAMES = 3
SILENCE_DBFS = -50.0  # a peak below this over the whole check is "we hear nothing"
RTT_FAIR_MS = 150.0
RTT_POOR_MS = 400.0
LOSS_FAIR_PCT = 2.0
LOSS_POOR_PCT = 8.0
# A camera sending less than this is a slideshow, whatever the round trip says.
BITRATE_POOR_KBPS = 50.0


class BadOffer(ValueError):
    """The offer cannot be answered; the message is a sentence for the person."""


# --- forwarding -------------------------------------------------------------------------------


class ForwardTrack(MediaStreamTrack):
    """Hands the newest received frame to the encoder; holds at most one frame.

    Like ``MediaRelay(buffered=False)``, but fed by this peer's own tracked drain task instead
    of an untracked task inside the relay.
    """

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._frame: AudioFrame | VideoFrame | None = None
        self._ended = False
        self._ready = asyncio.Event()

    def offer(self, frame: AudioFrame | VideoFrame) -> None:
        """Replace any frame not yet taken: the newest frame wins."""
        self._frame = frame
        self._ready.set()

    def end(self) -> None:
        self._ended = True
        self._ready.set()

    async def recv(self) -> AudioFrame | VideoFrame:
        while self._frame is None:
            if self._ended or self.readyState != "live":
                self.stop()
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        frame, self._frame = self._frame, None
        return frame

    def stop(self) -> None:
        super().stop()
        self._ended = True
        self._ready.set()


# --- measuring ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Measurement:
    """Raw figures of one check at one moment; ``verdict`` grades them."""

    state: str  # "connecting" | "connected" | "failed" | "closed"
    connected_for_s: float | None
    offered_video: bool
    offered_audio: bool
    video_frames: int = 0
    video_width: int | None = None
    video_height: int | None = None
    video_fps: float | None = None
    audio_frames: int = 0
    audio_peak_dbfs: float | None = None
    rtt_ms: float | None = None
    loss_pct: float | None = None
    bitrate_kbps: float | None = None
    path: str | None = None  # "direct" | "turn"


def _peak_dbfs(frame: AudioFrame) -> float | None:
    """Peak level of a signed 16-bit frame in dBFS (aiortc's Opus decoder gives s16)."""
    if frame.format.name not in ("s16", "s16p"):
        return None
    peak = 0
    for plane in frame.planes:
        view = memoryview(plane).cast("B")
        samples = view[: len(view) - len(view) % 2].cast("h")
        if len(samples):
            peak = max(peak, max(samples), -min(samples))
    return 20 * math.log10(peak / 32768) if peak else -math.inf


class _Probe:
    """Counts and levels of one kind of received media, in bounded memory."""

    def __init__(self) -> None:
        self.frames = 0
        self.width: int | None = None
        self.height: int | None = None
        self.peak_dbfs: float | None = None
        self._arrivals: deque[float] = deque(maxlen=64)

    def observe(self, frame: AudioFrame | VideoFrame, now: float) -> None:
        self.frames += 1
        self._arrivals.append(now)
        if isinstance(frame, VideoFrame):
            self.width, self.height = frame.width, frame.height
        elif isinstance(frame, AudioFrame):
            level = _peak_dbfs(frame)
            if level is not None and (self.peak_dbfs is None or level > self.peak_dbfs):
                self.peak_dbfs = level

    def rate(self, now: float, window_s: float = 2.0) -> float | None:
        recent = [t for t in self._arrivals if now - t <= window_s]
        if len(recent) < 2:
            return None
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-3)


@dataclass(frozen=True, slots=True)
class _Sample:
    at: float
    bytes_received: int
    packets_received: int
    packets_lost: int


class _Window:
    """The last few stats samples, so bitrate and loss describe now, not the whole check."""

    def __init__(self, size: int = 6) -> None:
        self.samples: deque[_Sample] = deque(maxlen=size)

    def bitrate_kbps(self) -> float | None:
        if len(self.samples) < 2:
            return None
        first, last = self.samples[0], self.samples[-1]
        seconds = last.at - first.at
        if seconds <= 0:
            return None
        return max(last.bytes_received - first.bytes_received, 0) * 8 / seconds / 1000

    def loss_pct(self) -> float | None:
        if len(self.samples) < 2:
            return None
        first, last = self.samples[0], self.samples[-1]
        lost = max(last.packets_lost - first.packets_lost, 0)
        received = max(last.packets_received - first.packets_received, 0)
        if lost + received == 0:
            return None
        return 100 * lost / (lost + received)


# --- grading --------------------------------------------------------------------------------


def _grade_connection(m: Measurement) -> str:
    rtt = m.rtt_ms or 0.0
    loss = m.loss_pct or 0.0
    slideshow = (
        m.video_frames >= MIN_VIDEO_FRAMES
        and m.bitrate_kbps is not None
        and m.bitrate_kbps < BITRATE_POOR_KBPS
    )
    if rtt >= RTT_POOR_MS or loss >= LOSS_POOR_PCT or slideshow:
        return "poor"
    if rtt >= RTT_FAIR_MS or loss >= LOSS_FAIR_PCT:
        return "fair"
    return "good"


_CAMERA = {
    "ok": "your camera works",
    "no_frames": "we receive no picture from your camera; check that no other app is using it",
    "checking": "we are still checking your camera",
    "unknown": "we could not check your camera",
}
_MICROPHONE = {
    "ok": "your microphone works",
    "silent": "we hear nothing from your microphone; say something, or check it is not muted",
    "no_audio": "we receive no sound from your microphone; check that the browser may use it",
    "checking": "we are still checking your microphone",
    "unknown": "we could not check your microphone",
}
_CONNECTION = {
    "good": "your connection is good",
    "fair": "your connection is fair; video may stutter now and then",
    "poor": "your connection is poor; close other apps or move closer to your Wi-Fi",
    "checking": "we are still measuring your connection",
    "unknown": "we could not measure your connection",
    "failed": "we could not connect to you; your network may block video calls",
}


def verdict(m: Measurement, *, final: bool = False, grace_s: float = GRACE_S) -> dict[str, Any]:
    """Grade a measurement for a person: device and connection answers plus one summary.

    While the check runs, anything not yet known is ``"checking"``; once it has ended
    (``final``), what was never established becomes ``"unknown"`` rather than a false alarm.
    """
    settled = m.connected_for_s is not None and m.connected_for_s >= grace_s
    pending = "unknown" if final else "checking"

    if not m.offered_video:
        camera = "no_frames"
    elif m.video_frames >= MIN_VIDEO_FRAMES:
        camera = "ok"
    else:
        camera = "no_frames" if settled else pending

    if not m.offered_audio:
        microphone = "no_audio"
    elif m.audio_frames == 0:
        microphone = "no_audio" if settled else pending
    elif m.audio_peak_dbfs is not None and m.audio_peak_dbfs >= SILENCE_DBFS:
        microphone = "ok"
    else:
        microphone = "silent" if settled else pending

    if m.state == "failed" or (final and m.connected_for_s is None):
        connection = "failed"
    elif m.rtt_ms is not None or (settled and m.loss_pct is not None):
        connection = _grade_connection(m)
    else:
        connection = "unknown" if final or settled else "checking"

    if camera == "ok" and microphone == "ok":
        devices = "Your camera and microphone work"
    else:
        devices = _CAMERA[camera] + "; " + _MICROPHONE[microphone]
        devices = devices[0].upper() + devices[1:]
    summary = f"{devices}; {_CONNECTION[connection]}."
    if m.path == "turn" and connection in ("good", "fair"):
        summary += " Your video goes through our relay server, which is fine."

    return {
        "camera": camera,
        "microphone": microphone,
        "connection": connection,
        "path": m.path or "unknown",
        "rtt_ms": None if m.rtt_ms is None else round(m.rtt_ms, 1),
        "loss_pct": None if m.loss_pct is None else round(m.loss_pct, 2),
        "bitrate_kbps": None if m.bitrate_kbps is None else round(m.bitrate_kbps),
        "video": {
            "frames": m.video_frames,
            "width": m.video_width,
            "height": m.video_height,
            "fps": None if m.video_fps is None else round(m.video_fps, 1),
        },
        "audio": {
            "frames": m.audio_frames,
            "peak_dbfs": (
                None
                if m.audio_peak_dbfs is None or math.isinf(m.audio_peak_dbfs)
                else round(m.audio_peak_dbfs, 1)
            ),
        },
        "summary": summary,
    }


# --- the peer -------------------------------------------------------------------------------

_VP8 = [
    c
    for c in RTCRtpSender.getCapabilities("video").codecs
    if c.mimeType in ("video/VP8", "video/rtx")
]
_STATES = {"new": "connecting", "connecting": "connecting"}


class PrecallPeer:
    """One browser's check: answers its offer, mirrors its media, measures the connection.

    ``on_ended(reason)`` is called once if the connection fails or the browser closes it, so
    the pool can release the place without waiting for the time limit.
    """

    def __init__(self, ice_servers: Sequence[IceServer], *, grace_s: float = GRACE_S) -> None:
        # Always an explicit list: aiortc would otherwise use a public STUN server.
        self._ice_servers = list(ice_servers)
        self.pc = RTCPeerConnection(rtc_configuration(self._ice_servers))
        self.grace_s = grace_s
        self.on_ended: Callable[[str], None] | None = None
        self._loop = asyncio.get_running_loop()
        self._probes = {"video": _Probe(), "audio": _Probe()}
        self._offered: set[str] = set()
        self._forwards: list[ForwardTrack] = []
        self._window = _Window()
        self._rtt_ms: float | None = None
        self._down_loss_pct: float | None = None
        self._path: str | None = None
        self._connected_at: float | None = None
        self._ended_at: float | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        self._ended_reported = False
        self.pc.on("connectionstatechange", self._on_state)

    @property
    def task_count(self) -> int:
        return sum(1 for task in self._tasks if not task.done())

    async def answer(self, offer: RTCSessionDescription) -> RTCSessionDescription:
        """Answer a browser's offer with one returning track per media section it sends."""
        await self._use_reachable_turn()
        try:
            parsed = aiortc_sdp.SessionDescription.parse(offer.sdp)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise BadOffer("The offer is not a valid WebRTC session description.") from exc
        kinds = [media.kind for media in parsed.media if media.kind in ("audio", "video")]
        if not kinds:
            raise BadOffer("The offer has neither a camera nor a microphone to check.")
        if len(kinds) > MAX_MEDIA_SECTIONS:
            raise BadOffer(
                f"The offer has {len(kinds)} media tracks; a check takes at most "
                f"{MAX_MEDIA_SECTIONS}."
            )
        # Transceivers created before the offer is applied are matched to its media sections
        # in order, so each returning track goes back on the section it came from, and video is
        # limited to VP8 (H264 would cost this server about twice the CPU).
        for kind in kinds:
            forward = ForwardTrack(kind)
            self._forwards.append(forward)
            transceiver = self.pc.addTransceiver(forward, direction="sendrecv")
            if kind == "video":
                transceiver.setCodecPreferences(_VP8)
        try:
            await self.pc.setRemoteDescription(offer)
        except OperationError as exc:
            raise BadOffer(
                "Your browser offered no video or audio format Duet can use (VP8 and Opus)."
            ) from exc
        except (
            ValueError,
            KeyError,
            IndexError,
            TypeError,
            AttributeError,
            InvalidAccessError,
            InvalidStateError,
            InternalError,
        ) as exc:
            raise BadOffer(f"The offer could not be used ({exc}).") from exc
        for transceiver, forward in zip(self.pc.getTransceivers(), self._forwards, strict=False):
            track = transceiver.receiver.track
            if track is not None and transceiver.mid is not None:
                self._offered.add(track.kind)
                self._spawn(self._pump(track, forward), f"precall-pump-{track.kind}")
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        self._spawn(self._sample_stats(), "precall-stats")
        return self.pc.localDescription

    def measurement(self) -> Measurement:
        now = self._loop.time()
        until = self._ended_at if self._ended_at is not None else now
        video, audio = self._probes["video"], self._probes["audio"]
        state = self.pc.connectionState
        up_loss = self._window.loss_pct()
        losses = [x for x in (up_loss, self._down_loss_pct) if x is not None]
        return Measurement(
            state=_STATES.get(state, state),
            connected_for_s=None if self._connected_at is None else until - self._connected_at,
            offered_video="video" in self._offered,
            offered_audio="audio" in self._offered,
            video_frames=video.frames,
            video_width=video.width,
            video_height=video.height,
            video_fps=video.rate(now),
            audio_frames=audio.frames,
            audio_peak_dbfs=audio.peak_dbfs,
            rtt_ms=self._rtt_ms,
            # The worse direction: the person's upload (what we receive) or download.
            loss_pct=max(losses) if losses else None,
            bitrate_kbps=self._window.bitrate_kbps(),
            path=self._path,
        )

    async def close(self) -> None:
        """Stop measuring, close the connection and end every task of this peer. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._ended_at is None:
            self._ended_at = self._loop.time()
        for forward in self._forwards:
            forward.stop()
        for task in self._tasks:
            task.cancel()
        try:
            await self.pc.close()
        finally:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- internals -------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _use_reachable_turn(self) -> None:
        """aiortc takes only the first TURN URL: rebuild the still unused connection with the
        one that works from this server, whatever the configured order (media/ice.py)."""
        servers = await reachable_turn_first(self._ice_servers)
        if servers == self._ice_servers or self._closed:
            return
        unused, self.pc = self.pc, RTCPeerConnection(rtc_configuration(servers))
        self.pc.on("connectionstatechange", self._on_state)
        unused.remove_all_listeners()
        await unused.close()

    def _on_state(self) -> None:
        state = self.pc.connectionState
        if state == "connected" and self._connected_at is None:
            self._connected_at = self._loop.time()
        elif state in ("failed", "closed") and not self._closed:
            if self._ended_at is None:
                self._ended_at = self._loop.time()
            if not self._ended_reported and self.on_ended is not None:
                self._ended_reported = True
                self.on_ended("connection_failed" if state == "failed" else "disconnected")

    async def _pump(self, source: MediaStreamTrack, forward: ForwardTrack) -> None:
        """Drain one received track: measure each frame, hand it to the returning track."""
        probe = self._probes[source.kind]
        try:
            while True:
                frame = await source.recv()
                if not isinstance(frame, AudioFrame | VideoFrame):
                    continue  # a decoded track never yields encoded packets
                probe.observe(frame, self._loop.time())
                forward.offer(frame)
        except MediaStreamError:
            pass
        finally:
            forward.end()

    async def _sample_stats(self) -> None:
        while True:
            await asyncio.sleep(STATS_INTERVAL_S)
            if self.pc.connectionState != "connected":
                continue
            try:
                report = await self.pc.getStats()
            except (AttributeError, KeyError) as exc:  # a transport torn down mid-read
                log.debug("getStats failed: %s", exc)
                continue
            self._read_stats(report.values())
            self._path = self._path or self._selected_path()

    def _read_stats(self, stats: Any) -> None:
        rtts: list[float] = []
        fractions: list[float] = []
        received = lost = bytes_received = 0
        seen_transports: set[str] = set()
        for stat in stats:
            kind = getattr(stat, "type", "")
            if kind == "remote-inbound-rtp":
                if stat.roundTripTime is not None:
                    rtts.append(stat.roundTripTime * 1000)
                fractions.append(100 * stat.fractionLost / 256)
            elif kind == "inbound-rtp":
                received += stat.packetsReceived
                lost += max(stat.packetsLost, 0)
            elif kind == "transport" and stat.id not in seen_transports:
                seen_transports.add(stat.id)
                bytes_received += stat.bytesReceived
        if rtts:
            self._rtt_ms = sum(rtts) / len(rtts)
        if fractions:
            self._down_loss_pct = max(fractions)
        self._window.samples.append(_Sample(self._loop.time(), bytes_received, received, lost))

    def _selected_path(self) -> str | None:
        """Return "turn" if either end of the nominated ICE pair is a relay candidate.

        aiortc has no selected-pair API, so this reads aioice's nominated pairs (both packages
        are pinned exactly in pyproject.toml).
        """
        for transceiver in self.pc.getTransceivers():
            dtls = transceiver.receiver.transport
            connection = getattr(getattr(dtls, "transport", None), "_connection", None)
            nominated = getattr(connection, "_nominated", None) or {}
            for pair in nominated.values():
                relayed = "relay" in (pair.local_candidate.type, pair.remote_candidate.type)
                return "turn" if relayed else "direct"
        return None


# --- the service the web layer talks to ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Result:
    owner: str
    kept_until: float
    report: dict[str, Any]


class PrecallService:
    """Pre-call checks of one app: the bounded pool of peers and recent final verdicts.

    A finished check's verdict stays readable for ``retain_s`` (at most ``retain_max`` of them),
    so a browser that asks after the time limit still gets its answer, while memory stays
    bounded however many checks run.
    """

    def __init__(
        self,
        max_peers: int,
        max_s: float,
        ice_servers: Callable[[], Sequence[IceServer]],
        *,
        grace_s: float = GRACE_S,
        retain_s: float = 120.0,
        retain_max: int = 256,
        clock: Clock | None = None,
    ) -> None:
        self.pool: PeerPool[PrecallPeer] = PeerPool(
            max_peers, max_s, on_closed=self._keep, clock=clock
        )
        self._ice_servers = ice_servers
        self._grace_s = grace_s
        self._retain_s = retain_s
        self._retain_max = retain_max
        self._results: OrderedDict[str, _Result] = OrderedDict()
        # Told every check's final report once, as it ends (web/metrics.py counts verdicts).
        self.on_verdict: Callable[[dict[str, Any]], None] | None = None

    @property
    def results_kept(self) -> int:
        return len(self._results)

    async def start(self, owner: str, offer: RTCSessionDescription) -> tuple[str, dict[str, Any]]:
        """Admit a check and answer its offer: (id, answer). PoolFull, BadOffer pass through."""
        entry = self.pool.add(
            owner, lambda: PrecallPeer(self._ice_servers(), grace_s=self._grace_s)
        )
        entry.peer.on_ended = lambda reason: self.pool.close_soon(entry.id, reason)
        try:
            answer = await entry.peer.answer(offer)
        except asyncio.CancelledError:
            self.pool.close_soon(entry.id, "abandoned")
            raise
        except BaseException:
            await self.pool.close_peer(entry.id, "bad_offer")
            self._results.pop(entry.id, None)
            raise
        return entry.id, {
            "id": entry.id,
            "sdp": answer.sdp,
            "type": answer.type,
            "expires_in_s": self._expires_in(entry),
        }

    def status(self, owner: str, check_id: str) -> dict[str, Any] | None:
        """The live verdict, or the final one of a recently ended check; None if not theirs."""
        entry = self.pool.get(check_id)
        if entry is not None:
            return self._report(entry, final=False) if entry.owner == owner else None
        self._prune()
        kept = self._results.get(check_id)
        return kept.report if kept is not None and kept.owner == owner else None

    async def stop(self, owner: str, check_id: str) -> dict[str, Any] | None:
        """End a check and return its final verdict (again, if it had already ended)."""
        entry = self.pool.get(check_id)
        if entry is not None and entry.owner == owner:
            await self.pool.close_peer(check_id, "deleted")
        return self.status(owner, check_id)

    async def close(self) -> None:
        await self.pool.close()

    def _expires_in(self, entry: PoolEntry[PrecallPeer]) -> int:
        return max(0, math.ceil((entry.deadline - self.pool.clock.now()).total_seconds()))

    def _report(self, entry: PoolEntry[PrecallPeer], *, final: bool) -> dict[str, Any]:
        m = entry.peer.measurement()
        if final and m.state != "failed":
            m = dataclasses.replace(m, state="closed")
        elapsed = self.pool.clock.now() - entry.started_at
        return {
            "id": entry.id,
            "state": m.state,
            "closed_reason": entry.close_reason if final else None,
            "elapsed_s": round(elapsed.total_seconds(), 1),
            "expires_in_s": 0 if final else self._expires_in(entry),
            **verdict(m, final=final, grace_s=self._grace_s),
        }

    def _keep(self, entry: PoolEntry[PrecallPeer], reason: str) -> None:
        """Snapshot the final verdict just before the pool closes the peer."""
        report = self._report(entry, final=True)
        if self.on_verdict is not None and reason != "bad_offer":  # a check that ran
            self.on_verdict(report)
        kept_until = asyncio.get_running_loop().time() + self._retain_s
        self._results[entry.id] = _Result(entry.owner, kept_until, report)
        self._prune()

    def _prune(self) -> None:
        now = asyncio.get_running_loop().time()
        while self._results:
            oldest_id, oldest = next(iter(self._results.items()))
            if oldest.kept_until > now and len(self._results) <= self._retain_max:
                break
            del self._results[oldest_id]
