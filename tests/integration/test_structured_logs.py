"""JSON log lines from the real app: every REST request's lines carry its request id (the
client's, echoed back, or a new one) and the caller's user id; a socket's lines carry its chat,
connection and user; every line names the node."""

from __future__ import annotations

import io
import logging
import re

import orjson

from signaling import messages as m
from signaling.ws import NODE
from tests.support.apiclient import ADA, Api
from tests.support.rooms import live_chat, pair
from web.keys import CONFIG
from web.logs import log_handler


async def test_a_request_id_is_echoed_and_on_every_line_of_the_request(api: Api) -> None:
    stream = io.StringIO()
    handler = log_handler("json", api.client.app[CONFIG].node_id, stream)
    logging.getLogger().addHandler(handler)
    logger = logging.getLogger("duet.web.requests")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        mine = await api.client.get(
            "/api/v1/me",
            headers={
                "X-Request-Id": "support-case-12345",
                "Authorization": f"Bearer {api.token(ADA)}",
            },
        )
        assert mine.status == 200 and mine.headers["X-Request-Id"] == "support-case-12345"
        jwt_like = await api.client.get("/healthz", headers={"X-Request-Id": api.token(ADA)})
        made_up = await api.client.get("/healthz")
    finally:
        logging.getLogger().removeHandler(handler)
        logger.setLevel(level)
    assert re.fullmatch(r"[0-9a-f]{16}", jwt_like.headers["X-Request-Id"])  # not echoed
    assert re.fullmatch(r"[0-9a-f]{16}", made_up.headers["X-Request-Id"])
    assert jwt_like.headers["X-Request-Id"] != made_up.headers["X-Request-Id"]
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    by_id = {
        line.get("request_id"): line for line in lines if line["logger"] == "duet.web.requests"
    }
    me = by_id["support-case-12345"]
    assert me["message"].startswith("GET /api/v1/me answered 200")
    assert me["user_id"] == "ada" and me["node_id"] == api.client.app[NODE].broker.node_id
    anonymous = by_id[made_up.headers["X-Request-Id"]]
    assert "user_id" not in anonymous  # nobody signed in: no user id left over from before
    assert api.token(ADA) not in stream.getvalue()


async def test_a_sockets_lines_name_its_chat_connection_and_user(api: Api) -> None:
    stream = io.StringIO()
    handler = log_handler("json", api.client.app[CONFIG].node_id, stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        chat_id, _ = await live_chat(api)
        ada, sam = await pair(api, chat_id)
        await ada.send(m.Leave())
        await ada.closed()
        await sam.expect(m.PeerLeft)
        await sam.close()
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    joined = [line for line in lines if line["message"] == "joined (json)"]
    assert {line["user_id"] for line in joined} == {"ada", "sam"}
    assert len({line["conn_id"] for line in joined}) == 2
    node_id = api.client.app[NODE].broker.node_id
    for line in joined:
        assert line["chat_id"] == chat_id and line["node_id"] == node_id
        assert "request_id" not in line  # the ticket's request is over
    closed = [line for line in lines if line["message"].startswith("socket closed")]
    assert {line["user_id"] for line in closed} == {"ada", "sam"}
