"""Fails loudly when aiortc's internals that media/forwarding.py relies on move.

The relay forwards encoded frames through private parts of aiortc 1.16.0. An upgrade could
rename or reshape them without any public API changing; these tests pin down every private
name, its shape and the source lines whose behaviour the adapter depends on, plus the exact
versions in pyproject.toml, so such an upgrade breaks here and not in someone's call.
"""

from __future__ import annotations

import inspect
import queue
import re
import tomllib
from collections.abc import AsyncIterator

import aioice
import aiortc
import pytest
from aiortc import RTCPeerConnection, RTCRtpSender, RTCRtpTransceiver
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import decoder_worker

from media import forwarding
from media.forwarding import (
    PINNED_AIOICE,
    PINNED_AIORTC,
    AiortcInternalsChanged,
    ReceiverTap,
    check_internals,
    is_keyframe,
    same_codec,
    sender_codec,
)
from media.ice import rtc_configuration
from tests.support.app import REPO_ROOT

ROOT = REPO_ROOT
VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
H264 = RTCRtpCodecParameters(
    mimeType="video/H264",
    clockRate=90000,
    payloadType=102,
    parameters={"packetization-mode": "1", "profile-level-id": "42e01f"},
)


def test_versions_are_pinned_exactly_and_installed() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"aiortc=={PINNED_AIORTC}" in deps and f"aioice=={PINNED_AIOICE}" in deps
    assert aiortc.__version__ == PINNED_AIORTC
    assert aioice.__version__ == PINNED_AIOICE


def test_check_internals_passes_on_the_pinned_aiortc() -> None:
    check_internals()


@pytest.fixture
async def video_transceiver() -> AsyncIterator[RTCRtpTransceiver]:
    pc = RTCPeerConnection(rtc_configuration([]))  # never aiortc's default public STUN
    try:
        yield pc.addTransceiver("video", direction="sendrecv")
    finally:
        await pc.close()


async def test_receiver_sender_and_transceiver_have_the_private_shape(
    video_transceiver: RTCRtpTransceiver,
) -> None:
    receiver = video_transceiver.receiver
    for name, kind in forwarding.RECEIVER_ATTRIBUTES.items():
        assert hasattr(receiver, name), name
        if kind is not None:
            assert isinstance(getattr(receiver, name), kind), name
    assert receiver._RTCRtpReceiver__decoder_thread is None  # started only by receive()
    assert callable(video_transceiver.sender._send_keyframe)
    assert isinstance(video_transceiver._codecs, list)
    assert sender_codec(video_transceiver) is None  # nothing negotiated yet
    # The decoder thread's entry point still takes the queue it reads from as input_q.
    params = list(inspect.signature(decoder_worker).parameters)
    assert params == ["loop", "input_q", "output_q", "decode_error"]


async def test_tap_replaces_the_decoder_queue_and_keeps_the_stop_signal(
    video_transceiver: RTCRtpTransceiver,
) -> None:
    receiver = video_transceiver.receiver
    original = receiver._RTCRtpReceiver__decoder_queue
    tap = ReceiverTap(receiver)
    stand_in = receiver._RTCRtpReceiver__decoder_queue
    assert stand_in is not original
    stand_in.put((VP8, JitterFrame(b"\x10\x02\x00", 0)))  # idle: nobody listens, dropped
    assert tap.codec is VP8 and tap.dropped == 1 and original.empty()
    tap.set_mode("decode")
    stand_in.put((VP8, JitterFrame(b"\x00", 3000)))
    assert tap.decoded == 1 and original.get_nowait()[1].timestamp == 3000
    stand_in.put(None)  # what aiortc's __stop_decoder sends: it must reach the decoder thread
    assert tap.ended and original.get_nowait() is None
    assert isinstance(original, queue.Queue)


def test_every_private_method_is_where_the_adapter_expects_it() -> None:
    for cls, name, params in forwarding.METHODS:
        method = getattr(cls, name)
        assert tuple(inspect.signature(method).parameters)[1:] == params, (cls, name)
    for function, line in forwarding.SOURCE_CONTRACTS:
        assert line in "".join(inspect.getsource(function).split()), (function, line)


def test_check_internals_names_what_moved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(RTCRtpSender, "_send_keyframe")
    monkeypatch.setattr(aiortc, "__version__", "1.17.0")
    with pytest.raises(AiortcInternalsChanged) as caught:
        check_internals()
    assert "RTCRtpSender._send_keyframe is gone" in str(caught.value)
    assert re.search(r"aiortc is 1\.17\.0", str(caught.value))


def test_codec_comparison_decides_forwarding_or_fallback() -> None:
    assert same_codec(VP8, RTCRtpCodecParameters("video/vp8", 90000, payloadType=97))
    assert not same_codec(VP8, H264)
    other_profile = RTCRtpCodecParameters(
        "video/H264", 90000, payloadType=104, parameters={"packetization-mode": "0"}
    )
    assert not same_codec(H264, other_profile)


def test_keyframes_are_recognised() -> None:
    assert is_keyframe(VP8, b"\x10\x02\x00\x9d\x01\x2a") and not is_keyframe(VP8, b"\x31")
    assert is_keyframe(H264, b"\x00\x00\x00\x01\x67\x42") and not is_keyframe(
        H264, b"\x00\x00\x01\x41"
    )
    opus = RTCRtpCodecParameters("audio/opus", 48000, channels=2, payloadType=111)
    assert is_keyframe(opus, b"\xfc")
