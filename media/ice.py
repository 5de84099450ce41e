"""ICE server description shared by the REST API (browser) and aiortc peers (server side).

aiortc falls back to a public Google STUN server when ``iceServers`` is left unset, which would
leak every call's addresses to a third party; everything here therefore always passes an
explicit list, empty when Duet has no servers configured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiortc import RTCConfiguration, RTCIceServer, RTCIceTransportPolicy

__all__ = ["IceServer", "rtc_configuration"]


@dataclass(frozen=True, slots=True)
class IceServer:
    """One STUN/TURN server with its (possibly short-lived) credentials.

    Frozen so a minted credential cannot be altered after it was signed.
    """

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    def __post_init__(self) -> None:
        # Accept any sequence but store a tuple, so the value stays hashable and immutable.
        object.__setattr__(self, "urls", tuple(self.urls))
        if not self.urls:
            raise ValueError("an ICE server needs at least one URL")

    def to_json(self) -> dict[str, Any]:
        """The browser's ``RTCIceServer`` dictionary, ready for ``new RTCPeerConnection``."""
        out: dict[str, Any] = {"urls": list(self.urls)}
        if self.username is not None:
            out["username"] = self.username
        if self.credential is not None:
            out["credential"] = self.credential
        return out

    def to_aiortc(self) -> RTCIceServer:
        """The same server for aiortc (which only uses the first TURN URL of a configuration)."""
        return RTCIceServer(
            urls=list(self.urls), username=self.username, credential=self.credential
        )


def rtc_configuration(
    servers: Sequence[IceServer], *, relay_only: bool = False
) -> RTCConfiguration:
    """Build an aiortc configuration that never falls back to a public STUN server.

    ``relay_only`` forces all media through TURN (no host candidates are even gathered), which
    hides the server's own addresses from the remote side.
    """
    policy = RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL
    return RTCConfiguration(
        iceServers=[server.to_aiortc() for server in servers], iceTransportPolicy=policy
    )
