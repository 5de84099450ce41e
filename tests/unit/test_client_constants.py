"""The browser client's copies of server constants stay in step with the server.

web/static/js has no build step, so it cannot import Python's tables; these tests read the JS
and compare, so changing a close code, its retry rule or its sentence on one side fails here.
"""

from __future__ import annotations

import re

from scheduling.webhook_payloads import EventType
from signaling.close_codes import REASONS, CloseCode
from signaling.messages import MAX_FPS, MAX_RTT_MS, STATS_EVERY_S
from signaling.ratelimit import STATS
from tests.support.app import REPO_ROOT
from tests.support.client_catalogue import load as load_catalogue

JS = REPO_ROOT / "web" / "static" / "js"


def _js_set(source: str, name: str) -> set[int]:
    found = re.search(rf"const {name} = new Set\(\[([0-9,\s]*)\]\)", source)
    assert found, f"{name} not found"
    return {int(x) for x in found.group(1).split(",") if x.strip()}


def _js_reasons(source: str) -> dict[int, str]:
    """code -> the English sentence: REASONS names catalogue keys, en.js holds the words."""
    block = re.search(r"const REASONS = \{(.*?)\n\};", source, re.S)
    assert block, "REASONS not found"
    english = load_catalogue("en")
    keys = re.findall(r"(\d{4}): '([^']*)'", block.group(1))
    return {int(code): str(english[key]) for code, key in keys}


def test_the_socket_retries_exactly_what_the_server_says_it_may() -> None:
    source = (JS / "call" / "signaling_socket.js").read_text()
    final = _js_set(source, "FINAL")
    ticket = _js_set(source, "TICKET")
    # 1000 is the one deliberate difference: the server sends it only after our own `leave`,
    # so a 1000 the client did not ask for is a socket closed under it (the JS explains).
    assert final == {int(c) for c in CloseCode if not c.retry} - {CloseCode.NORMAL}
    assert ticket == {CloseCode.TICKET_INVALID, CloseCode.TICKET_EXPIRED, CloseCode.TICKET_USED}
    assert not final & {int(c) for c in CloseCode if c.retry}


def test_the_sentences_the_client_shows_are_the_servers() -> None:
    reasons = _js_reasons((JS / "call" / "signaling_socket.js").read_text())
    assert reasons, "no reasons parsed"
    for code, text in reasons.items():
        assert text == REASONS[CloseCode(code)], code


def test_join_again_is_never_offered_after_a_final_close_of_the_room() -> None:
    session = (JS / "call" / "call_session.js").read_text()
    no_rejoin = _js_set(session, "NO_REJOIN")
    final = _js_set((JS / "call" / "signaling_socket.js").read_text(), "FINAL")
    assert no_rejoin <= final
    assert {CloseCode.CHAT_CANCELLED, CloseCode.ROOM_CLOSED, CloseCode.RESCHEDULED} <= no_rejoin


def test_the_webhook_section_offers_every_event_type_in_order() -> None:
    source = (JS / "views" / "webhooks.js").read_text()
    block = re.search(r"export const EVENT_TYPES = \[(.*?)\];", source, re.S)
    assert block, "EVENT_TYPES not found"
    assert re.findall(r"'([a-z_.]+)'", block.group(1)) == [t.value for t in EventType]


def test_the_after_chat_forms_offer_what_the_server_takes() -> None:
    """The notes and feedback forms' limits and next steps, and the résumé's size in words."""
    from scheduling.after_chat_rules import MAX_COMMENT, MAX_NOTES, NEXT_STEPS
    from scheduling.resume_rules import MAX_RESUME_BYTES

    source = (JS / "after_chat.js").read_text()
    block = re.search(r"const NEXT_STEPS = \[(.*?)\n\];", source, re.S)
    assert block, "NEXT_STEPS not found"
    assert tuple(re.findall(r"\['([a-z_]*)', ", block.group(1))) == NEXT_STEPS
    assert f"const NOTES_MAX = {MAX_NOTES};" in source
    assert f"const COMMENT_MAX = {MAX_COMMENT};" in source
    resume = (JS / "resume.js").read_text()
    assert f"const MAX_MB = {MAX_RESUME_BYTES // (1024 * 1024)};" in resume


def test_stats_pace_and_figures_are_the_protocols() -> None:
    """The client sends `stats` at the protocol's pace, inside the rate limit, within its
    ranges (rtt and jitter capped at the codec's maximum)."""
    source = (JS / "call" / "call_stats.js").read_text()
    every = re.search(r"export const STATS_EVERY_MS = (\d+);", source)
    assert every and int(every.group(1)) == STATS_EVERY_S * 1000
    assert 1 / STATS.per_second <= STATS_EVERY_S  # the pace never runs the bucket dry
    assert f"Math.min({MAX_RTT_MS}," in source and f"Math.min({MAX_FPS}," in source
