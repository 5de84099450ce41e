"""Short-lived TURN credentials (the "TURN REST API" that coturn checks with ``use-auth-secret``).

Duet and coturn share one secret; Duet signs ``"<unix expiry>:<opaque id>"`` and coturn recomputes
the signature, so no per-user state lives on the TURN server and a leaked credential dies by
itself at the expiry. Pure functions: the expiry is a parameter, the clock is the caller's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime

from media.ice import IceServer

__all__ = ["mint_turn_credentials", "opaque_turn_id", "turn_password"]

# Domain separation: the secret also signs passwords, so the id derivation gets its own label.
_OPAQUE_LABEL = b"duet/turn-opaque-id/v1\x00"
_OPAQUE_BYTES = 12  # 96 bits: unique per person and chat, short in coturn's logs.


def opaque_turn_id(secret: str, user_id: str, chat_id: str) -> str:
    """An id for one person in one chat that reveals neither.

    Keyed with the secret so that nobody who reads coturn's logs (or a captured username) can
    confirm a guessed user id; stable so quotas and logs group one person's allocations.
    """
    message = _OPAQUE_LABEL + user_id.encode() + b"\x00" + chat_id.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()[:_OPAQUE_BYTES]
    # base64url never contains ':' (coturn's REST API username separator).
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def turn_password(secret: str, username: str) -> str:
    """``base64(HMAC-SHA1(secret, username))``: exactly what coturn recomputes to check it."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def mint_turn_credentials(
    secret: str,
    user_id: str,
    chat_id: str,
    expires_at: datetime,
    urls: Sequence[str],
) -> IceServer:
    """TURN credentials for ``user_id`` in ``chat_id`` that coturn accepts until ``expires_at``.

    The caller decides who may get them and when (only the two members, only inside the join
    window); this function only signs. ``expires_at`` must be timezone-aware, since a naive
    datetime would be read in the server's local zone and shift the expiry by hours.
    """
    if not secret:
        raise ValueError("the TURN secret is empty")
    if expires_at.tzinfo is None or expires_at.utcoffset() is None:
        raise ValueError("expires_at must be timezone-aware")
    if not urls:
        raise ValueError("no TURN URLs given")
    username = f"{int(expires_at.timestamp())}:{opaque_turn_id(secret, user_id, chat_id)}"
    return IceServer(
        urls=tuple(urls), username=username, credential=turn_password(secret, username)
    )
