"""signaling/negotiation.py against docs/protocol.md section 6, every combination."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from signaling.messages import MediaAction, Role
from signaling.negotiation import media_action, roles


@pytest.mark.parametrize(
    ("role", "relay", "polite", "offerer"),
    [
        ("employee", False, False, True),
        ("participant", False, True, False),
        ("employee", True, True, True),
        ("participant", True, True, True),
    ],
)
def test_exactly_one_side_offers_except_to_the_relay(
    role: Role, relay: bool, polite: bool, offerer: bool
) -> None:
    assert roles(role, relay) == (polite, offerer)


class Case(NamedTuple):
    scenario: str
    peer_connected: bool
    seat_was_held: bool
    media_kept: bool
    can_restart_ice: bool
    peer_can_restart_ice: bool
    relay_mode: bool
    expected: MediaAction


CASES = [
    Case("fresh join, the peer is there", True, False, False, True, True, False, "new_connection"),
    Case("fresh join, the peer is absent", False, False, False, True, True, False, "none"),
    Case("the peer is reconnecting", False, True, True, True, True, False, "none"),
    Case("resume in the grace, both kept", True, True, True, True, True, False, "ice_restart"),
    Case("resume, connection not kept", True, True, False, True, True, False, "new_connection"),
    Case(
        "resume, this side cannot restart", True, True, True, False, True, False, "new_connection"
    ),
    Case("resume, the peer cannot restart", True, True, True, True, False, False, "new_connection"),
    Case("back after the grace", True, False, True, True, True, False, "new_connection"),
    Case("relay mode, all kept", True, True, True, True, True, True, "new_connection"),
    Case("relay mode, peer absent", False, True, True, True, True, True, "none"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.scenario for c in CASES])
def test_media_action(case: Case) -> None:
    decided = media_action(
        peer_connected=case.peer_connected,
        seat_was_held=case.seat_was_held,
        media_kept=case.media_kept,
        can_restart_ice=case.can_restart_ice,
        peer_can_restart_ice=case.peer_can_restart_ice,
        relay_mode=case.relay_mode,
    )
    assert decided == case.expected
