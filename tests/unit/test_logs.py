"""Log lines (web/logs.py): one valid JSON object a line with the context of the work that
logged it, context that never crosses from one task to another, and the redaction that catches
any secret a log call should never have printed."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from media.turn import mint_turn_credentials
from rooms.tickets import RoomPass, mint_ticket
from scheduling.model import Role
from scheduling.store_events import UserRecord
from signaling import log_context
from web.auth import mint_token
from web.logs import REDACTED, log_handler, redact

NOW = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger of its own writing JSON lines to a buffer, as `duet serve` would to stderr."""
    stream = io.StringIO()
    logger = logging.getLogger("duet.test.logs")
    handler = log_handler("json", "node-a", stream)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, str]]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines()]


def secrets_of_every_kind() -> dict[str, str]:
    user = UserRecord("sam", "Sam Student", Role.PARTICIPANT, None)
    room = RoomPass("c1", "sam", "participant", "Sam", "ada", "Ada", 1, 2, "p2p", 0, 0)
    turn = mint_turn_credentials("turn-secret", "sam", "c1", NOW, ["turn:127.0.0.1:3478"])
    assert turn.credential is not None
    return {
        "jwt": mint_token("jwt-secret-0123456789abcdef0123456789", user, NOW, timedelta(hours=1)),
        "ticket": mint_ticket("jwt-secret-0123456789abcdef0123456789", room, NOW, "epoch"),
        "turn password": turn.credential,
    }


def test_a_json_line_has_the_fields_and_the_context(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.info("no context: %s", "plain")
    token = log_context.bind(chat_id="c1", conn_id="k1", user_id="sam")
    try:
        logger.warning("about %d socket", 1)
    finally:
        log_context.unbind(token)
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    first, second, third = lines(stream)
    assert set(first) == {"ts", "level", "logger", "message", "node_id"}
    assert first["message"] == "no context: plain" and first["node_id"] == "node-a"
    assert datetime.fromisoformat(first["ts"]).tzinfo is not None
    assert (first["level"], first["logger"]) == ("INFO", "duet.test.logs")
    assert second["level"] == "WARNING" and second["message"] == "about 1 socket"
    assert (second["chat_id"], second["conn_id"], second["user_id"]) == ("c1", "k1", "sam")
    assert "chat_id" not in third and "ValueError: boom" in third["exc"]


async def test_context_never_crosses_between_tasks(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    both_bound = asyncio.Barrier(2)

    async def socket(chat_id: str) -> None:
        token = log_context.bind(chat_id=chat_id, conn_id=f"conn-{chat_id}")
        try:
            await both_bound.wait()  # the other task has bound its own fields by now
            logger.info("work of %s", chat_id)
        finally:
            log_context.unbind(token)

    await asyncio.gather(socket("a"), socket("b"))
    logger.info("after")
    by_message = {line["message"]: line for line in lines(stream)}
    assert (
        by_message["work of a"]["chat_id"] == "a" and by_message["work of a"]["conn_id"] == "conn-a"
    )
    assert (
        by_message["work of b"]["chat_id"] == "b" and by_message["work of b"]["conn_id"] == "conn-b"
    )
    assert "chat_id" not in by_message["after"]


def test_every_kind_of_secret_is_redacted_in_json_and_text(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    found = secrets_of_every_kind()
    text_stream = io.StringIO()
    text_handler = log_handler("text", "node-a", text_stream)
    logger.addHandler(text_handler)
    try:
        for kind, secret in found.items():
            logger.info('a careless line with a %s "%s" in "quotes"', kind, secret)
            logger.info("Authorization: Bearer %s", secret)
        logger.info("webhook secret=%s password: %s", "whsec_abc123", "hunter2")
        try:
            raise RuntimeError(f"token in an exception: {found['jwt']}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(text_handler)
    json_text, plain = stream.getvalue(), text_stream.getvalue()
    assert len(lines(stream)) == 2 * len(found) + 2  # still valid JSON, one object a line
    for secret in [*found.values(), "whsec_abc123", "hunter2"]:
        assert secret not in json_text and secret not in plain
    assert json_text.count(REDACTED) >= 2 * len(found) + 3
    assert "in an exception: [redacted]" in plain


@pytest.mark.parametrize(
    "line",
    [
        "chat 01J5ZQ3X8K9T2W4V6Y7B answered 200 in 3.1 ms",
        "GET /api/v1/chats/abc/join answered 201",
        "relay room c1 closed (closed)",
        "ticket_ttl_s=60 token_expired",
        "TURN turn:127.0.0.1:3478?transport=udp chosen",
    ],
)
def test_ordinary_lines_are_left_alone(line: str) -> None:
    assert redact(line) == line


def test_a_webhook_secret_is_redacted_wherever_it_appears() -> None:
    secret = "whsec_" + "Ab+/9" * 8 + "="
    assert redact(f"rotated to {secret} for endpoint 42") == "rotated to [redacted] for endpoint 42"
