"""Who offers, who is polite, and what to do with media when a seat is taken: pure decisions.

docs/protocol.md section 6 is the contract; tests/unit/test_negotiation.py walks every case.
"""

from __future__ import annotations

from signaling.messages import MediaAction, Role


def roles(role: Role, relay_mode: bool) -> tuple[bool, bool]:
    """(polite, offerer) for a seat. The employee offers and is impolite; in relay mode each
    client offers to the (impolite) relay, so both are polite offerers."""
    if relay_mode:
        return True, True
    offerer = role == "employee"
    return not offerer, offerer


def media_action(
    *,
    peer_connected: bool,
    seat_was_held: bool,
    media_kept: bool,
    can_restart_ice: bool,
    peer_can_restart_ice: bool,
    relay_mode: bool,
) -> MediaAction:
    """What both sides do with media when a seat is (re)taken.

    `seat_was_held`: the joining person's seat was still held (a resume within the grace; after
    the grace the peer has dropped its media). An ICE restart keeps both connections, so it needs
    the seat held, the joining client's connection kept, and both sides able to restart ICE;
    the relay's aiortc peers cannot, so relay mode always rebuilds.
    """
    if not peer_connected:
        return "none"
    if not relay_mode and seat_was_held and media_kept and can_restart_ice and peer_can_restart_ice:
        return "ice_restart"
    return "new_connection"
