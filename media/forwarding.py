"""Encoded-frame forwarding for aiortc: the ONE module that touches aiortc's private internals.

Why: a relay that decodes and re-encodes every frame (aiortc's ``MediaRelay``) costs about 30 % of
a core per 640x480 VP8 stream; handing the received, still-encoded frames to the other
connection's sender costs a fraction of that. aiortc has no public hook for it, so this adapter
uses a few private names of aiortc 1.16.0 (pinned exactly in pyproject.toml). Every one is listed
below, checked by ``check_internals()`` (called when a relay starts) and by
tests/media/test_forwarding_internals.py, so an aiortc upgrade fails loudly instead of silently
decoding again or dropping media.

Private names used (aiortc 1.16.0):

``RTCRtpReceiver._RTCRtpReceiver__decoder_queue`` (``queue.Queue``)
    ``_handle_rtp_packet`` puts each reassembled ``(codec, JitterFrame)`` there, for the decoder
    thread. ``ReceiverTap`` swaps in a stand-in whose ``put`` takes the frames (the decoder thread
    never sees one, so no decoder is ever created) and whose ``get`` waits on the original queue,
    so aiortc's ``None`` at stop still ends the idle decoder thread and the remote track.
``RTCRtpReceiver._RTCRtpReceiver__decoder_thread``
    Read only, to tell whether the receiver was started before the tap was installed.
``RTCRtpReceiver._send_rtcp_pli(media_ssrc)``
    Sends a Picture Loss Indication upstream: how a keyframe request reaches the original sender.
``RTCRtpSender._send_keyframe()``
    Called by ``RTCRtpSender._handle_rtcp_packet`` on a PLI or FIR from the receiving browser;
    ``hook_keyframe_requests`` wraps it per instance to pass the request upstream.
``RTCRtpSender._next_encoded_frame``
    Not called; its contract is relied on: a track yielding ``av.Packet`` (not a frame) is
    packetised by ``encoder.pack(packet)`` without re-encoding.
``RTCRtpTransceiver._codecs``
    The negotiated codecs; ``[0]`` is what the sender sends (aiortc has no getParameters()).
``aiortc.jitterbuffer.JitterFrame`` (``data``, ``timestamp``)
    The reassembled encoded frame with its timestamp, already mapped to start at 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import inspect
import logging
import queue
import time
from collections import deque
from typing import Any, Final, Literal

import aioice
import aiortc
import av
from aiortc import MediaStreamTrack, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.codecs.base import Encoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

__all__ = [
    "PINNED_AIOICE",
    "PINNED_AIORTC",
    "AiortcInternalsChanged",
    "EncodedTrack",
    "ReceiverTap",
    "TapMode",
    "check_internals",
    "hook_keyframe_requests",
    "is_keyframe",
    "same_codec",
    "sender_codec",
]

log = logging.getLogger("duet.media.forwarding")

PINNED_AIORTC: Final = "1.16.0"
PINNED_AIOICE: Final = "0.13.0"

# Instance attributes a fresh RTCRtpReceiver must have, with their type (None: any).
RECEIVER_ATTRIBUTES: Final[dict[str, type | None]] = {
    "_RTCRtpReceiver__decoder_queue": queue.Queue,
    "_RTCRtpReceiver__decoder_thread": None,
}
# (class, method name, parameter names after self)
METHODS: Final[tuple[tuple[type, str, tuple[str, ...]], ...]] = (
    (RTCRtpReceiver, "_send_rtcp_pli", ("media_ssrc",)),
    (RTCRtpReceiver, "_handle_rtp_packet", ("packet", "arrival_time_ms")),
    (RTCRtpSender, "_send_keyframe", ()),
    (RTCRtpSender, "_handle_rtcp_packet", ("packet",)),
    (RTCRtpSender, "_next_encoded_frame", ("codec",)),
    (Encoder, "pack", ("packet",)),
)
# Source lines whose presence is the contract (whitespace-insensitive).
SOURCE_CONTRACTS: Final[tuple[tuple[Any, str], ...]] = (
    (RTCRtpReceiver._handle_rtp_packet, "self.__decoder_queue.put((codec,encoded_frame))"),
    (RTCRtpReceiver._handle_rtp_packet, "ifencoded_frameisnotNoneandself.__decoder_thread:"),
    (RTCRtpSender._next_encoded_frame, "payloads,timestamp=self.__encoder.pack(data)"),
    (RTCRtpSender._handle_rtcp_packet, "self._send_keyframe()"),
)
KEYFRAME_REQUEST_INTERVAL_S: Final = 0.25  # at most this often upstream, per incoming track
MAX_QUEUED_FRAMES: Final = 90  # ~3 s of 30 fps video; beyond that we drop and ask for a keyframe

TapMode = Literal["idle", "forward", "decode"]


class AiortcInternalsChanged(RuntimeError):
    """aiortc no longer has the private shape this adapter relies on: do not run the relay."""


def check_internals() -> None:
    """Raise ``AiortcInternalsChanged`` naming everything that moved; cheap, safe to repeat."""
    problems: list[str] = []
    if aiortc.__version__ != PINNED_AIORTC:
        problems.append(
            f"aiortc is {aiortc.__version__}, the adapter is written for {PINNED_AIORTC}"
        )
    if aioice.__version__ != PINNED_AIOICE:
        problems.append(f"aioice is {aioice.__version__}, pinned {PINNED_AIOICE}")
    for cls, name, params in METHODS:
        method = getattr(cls, name, None)
        if method is None or not callable(method):
            problems.append(f"{cls.__name__}.{name} is gone")
            continue
        found = tuple(inspect.signature(method).parameters)[1:]
        if found != params:
            problems.append(f"{cls.__name__}.{name}{found} != expected {params}")
    for function, line in SOURCE_CONTRACTS:
        try:
            source = "".join(inspect.getsource(function).split())
        except (OSError, TypeError):
            problems.append(f"cannot read the source of {function.__qualname__}")
            continue
        if line not in source:
            problems.append(f"{function.__qualname__} no longer contains {line!r}")
    if not hasattr(RTCRtpTransceiver, "setCodecPreferences"):
        problems.append("RTCRtpTransceiver.setCodecPreferences is gone")
    if not {"data", "timestamp"} <= set(inspect.signature(JitterFrame).parameters):
        problems.append("JitterFrame(data, timestamp) changed")
    if problems:
        raise AiortcInternalsChanged(
            "media/forwarding.py relies on aiortc internals that changed: " + "; ".join(problems)
        )


def _check_receiver(receiver: RTCRtpReceiver) -> None:
    for name, kind in RECEIVER_ATTRIBUTES.items():
        if not hasattr(receiver, name):
            raise AiortcInternalsChanged(f"RTCRtpReceiver has no attribute {name}")
        if kind is not None and not isinstance(getattr(receiver, name), kind):
            raise AiortcInternalsChanged(f"RTCRtpReceiver.{name} is no longer a {kind.__name__}")


def sender_codec(transceiver: RTCRtpTransceiver) -> RTCRtpCodecParameters | None:
    """The codec the transceiver's sender uses once negotiated (None before)."""
    codecs = getattr(transceiver, "_codecs", None)
    if codecs is None:
        raise AiortcInternalsChanged("RTCRtpTransceiver._codecs is gone")
    return codecs[0] if codecs else None


def same_codec(a: RTCRtpCodecParameters, b: RTCRtpCodecParameters) -> bool:
    """Whether frames encoded for ``a`` can be sent unchanged as ``b`` (else: decode+encode)."""
    if a.mimeType.lower() != b.mimeType.lower() or a.clockRate != b.clockRate:
        return False
    if (a.channels or 1) != (b.channels or 1):
        return False
    if a.mimeType.lower() == "video/h264":
        keys = ("packetization-mode", "profile-level-id")
        return all(
            str(a.parameters.get(k, "")).lower() == str(b.parameters.get(k, "")).lower()
            for k in keys
        )
    return True


def is_keyframe(codec: RTCRtpCodecParameters, data: bytes) -> bool:
    """Whether a decoder can start at this frame; audio frames always can."""
    mime = codec.mimeType.lower()
    if mime == "video/vp8":
        return bool(data) and not data[0] & 0x01  # RFC 6386 9.1: P bit clear on key frames
    if mime == "video/h264":
        i = data.find(b"\x00\x00\x01")
        while i >= 0 and i + 3 < len(data):
            if data[i + 3] & 0x1F in (5, 7):  # IDR slice or SPS
                return True
            i = data.find(b"\x00\x00\x01", i + 3)
        return False
    return not mime.startswith("video/")


class _QueueStandIn:
    """Replaces the receiver's decoder queue: ``put`` goes to the tap, ``get`` to the original."""

    def __init__(self, tap: ReceiverTap, original: queue.Queue[Any]) -> None:
        self._tap = tap
        self.original = original

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        self._tap._on_item(item)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        # Only reached by a decoder thread started after the swap; it idles here until stop.
        return self.original.get(block, timeout)


class ReceiverTap:
    """Takes a receiver's encoded frames before its decoder; one tap per incoming track.

    Modes: ``idle`` drops frames (nobody is listening yet), ``forward`` queues them for an
    ``EncodedTrack``, ``decode`` hands them to aiortc's decoder thread as if no tap existed (the
    ``MediaRelay`` fallback when the two connections negotiated different codecs).
    """

    def __init__(self, receiver: RTCRtpReceiver, *, max_queued: int = MAX_QUEUED_FRAMES) -> None:
        _check_receiver(receiver)
        self.receiver = receiver
        self.mode: TapMode = "idle"
        self.codec: RTCRtpCodecParameters | None = None
        self.forwarded = 0  # encoded frames handed to the sender
        self.decoded = 0  # frames handed to aiortc's decoder (fallback)
        self.dropped = 0
        self.keyframe_requests = 0
        self.ended = False
        original = receiver._RTCRtpReceiver__decoder_queue  # type: ignore[attr-defined]
        self._original: queue.Queue[Any] = original
        self._frames: deque[tuple[RTCRtpCodecParameters, JitterFrame]] = deque()
        self._max_queued = max_queued
        self._need_keyframe = True
        self._ready = asyncio.Event()
        self._codec_known = asyncio.Event()
        self._last_request = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        receiver._RTCRtpReceiver__decoder_queue = _QueueStandIn(self, original)  # type: ignore[attr-defined]

    # --- called by aiortc, on the event loop -------------------------------------------------

    def _on_item(self, item: tuple[RTCRtpCodecParameters, JitterFrame] | None) -> None:
        if item is None:  # the receiver stops: end the decoder thread and our consumer
            self._original.put(None)
            self.ended = True
            self._ready.set()
            self._codec_known.set()
            return
        codec, frame = item
        if self.codec is not codec:
            self.codec = codec
            self._codec_known.set()
        if self.mode == "decode":
            self.decoded += 1
            self._original.put(item)
        elif self.mode == "forward":
            self._queue_frame(codec, frame)
        else:
            self.dropped += 1

    def _queue_frame(self, codec: RTCRtpCodecParameters, frame: JitterFrame) -> None:
        if self._need_keyframe:
            if not is_keyframe(codec, frame.data):
                self.dropped += 1
                self.request_keyframe()
                return
            self._need_keyframe = False
        if len(self._frames) >= self._max_queued:
            # The sender fell behind: a gap in video must restart at a keyframe.
            self.dropped += len(self._frames) + 1
            self._frames.clear()
            self._need_keyframe = codec.mimeType.lower().startswith("video/")
            self.request_keyframe()
            return
        self._frames.append((codec, frame))
        self._ready.set()

    # --- used by the relay ------------------------------------------------------------------

    async def wait_codec(self) -> RTCRtpCodecParameters | None:
        """The incoming codec, known at the first frame (None if the track ended first)."""
        await self._codec_known.wait()
        return self.codec

    def set_mode(self, mode: TapMode) -> None:
        if mode == self.mode:
            return
        self.mode = mode
        self._frames.clear()
        if mode == "forward":
            self._need_keyframe = True
            self.request_keyframe()

    async def get(self) -> tuple[RTCRtpCodecParameters, JitterFrame]:
        """The next encoded frame (forward mode); MediaStreamError once the receiver stopped."""
        while not self._frames:
            if self.ended:
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        self.forwarded += 1
        return self._frames.popleft()

    def request_keyframe(self) -> None:
        """Send a PLI to the original sender (rate limited): the next frame will be a keyframe."""
        if self.ended or self.codec is None or not self.codec.mimeType.lower().startswith("video/"):
            return
        now = time.monotonic()
        if now - self._last_request < KEYFRAME_REQUEST_INTERVAL_S:
            return
        sources = self.receiver.getSynchronizationSources()
        if not sources:
            return
        self._last_request = now
        self.keyframe_requests += 1
        ssrc = max(sources, key=lambda s: s.timestamp).source
        task = asyncio.get_running_loop().create_task(self.receiver._send_rtcp_pli(ssrc))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Cancel keyframe requests in flight (the receiver itself is closed by its connection)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def hook_keyframe_requests(sender: RTCRtpSender, tap: ReceiverTap) -> None:
    """Pass the receiving browser's PLI/FIR for this sender upstream through ``tap``.

    aiortc's own handling (forcing a keyframe on its encoder) is kept, so the same sender still
    works when it re-encodes in the fallback.
    """
    original = sender._send_keyframe

    def send_keyframe() -> None:
        original()
        if tap.mode == "forward":
            tap.request_keyframe()

    sender._send_keyframe = send_keyframe  # type: ignore[method-assign]


class EncodedTrack(MediaStreamTrack):
    """A track whose ``recv()`` returns encoded ``av.Packet``s: the sender packs them as they are."""

    def __init__(self, kind: str, tap: ReceiverTap) -> None:
        super().__init__()
        self.kind = kind
        self._tap = tap

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        try:
            codec, frame = await self._tap.get()
        except MediaStreamError:
            self.stop()
            raise
        packet = av.Packet(frame.data)
        packet.pts = frame.timestamp
        packet.time_base = fractions.Fraction(1, codec.clockRate)
        return packet

    def stop(self) -> None:
        super().stop()
        with contextlib.suppress(RuntimeError):
            self._tap.set_mode("idle")
