"""A client's unreadable request is logged as the client's error: one WARNING line, no traceback.

aiohttp answers an over-long header line with 400 before Duet sees the request, and logs it
through the connection handler's logger; `create_app` hands that handler web/server_log.py's
logger, so `duet serve`, `duet demo` and the tests' servers all log it the same way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.support.apiclient import Api
from tests.support.app import TEST_SECRET
from tests.support.services import free_port
from web.server_log import SERVER_LOG

ROOT = Path(__file__).resolve().parent.parent
# Longer than aiohttp's 8190-byte limit for one header line; it looks like a token on purpose.
SECRETISH = "eyJ" + "x" * 9000


async def raw_request(port: int, head: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()


async def test_an_over_long_header_is_one_warning_line(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    port = api.client.server.port
    assert port is not None
    caplog.set_level(logging.DEBUG, logger="aiohttp.server")
    answer = await raw_request(
        port,
        b"GET /api/v1/me HTTP/1.1\r\nHost: duet\r\nAuthorization: Bearer "
        + SECRETISH.encode()
        + b"\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 400") or answer.startswith(b"HTTP/1.0 400"), answer[:80]
    records = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert len(records) == 1, [r.getMessage() for r in records]
    record = records[0]
    assert record.levelno == logging.WARNING
    assert record.exc_info is None and record.exc_text is None
    message = record.getMessage()
    assert "\n" not in message
    assert "longer than 8190 bytes" in message and "127.0.0.1" in message
    assert "xxxxxxxx" not in message  # the request's bytes (a token, say) stay out of the log
    # The server carries on: the next request on a new connection is answered.
    assert (await api.client.get("/healthz")).status == 200


async def test_a_server_error_still_logs_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """Only clients' 4xx parse errors are downgraded; anything else keeps ERROR and exc_info."""
    caplog.set_level(logging.DEBUG, logger="aiohttp.server")
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        SERVER_LOG.exception("Error handling request from %s", "127.0.0.1", exc_info=exc)
    (record,) = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert record.levelno == logging.ERROR and record.exc_info is not None


async def wait_healthy(url: str, process: asyncio.subprocess.Process, within: float) -> None:
    """Poll a starting `duet serve` (an outside process) until it answers, or fail."""
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            assert process.returncode is None, "duet serve exited"
            try:
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {within} s")


async def test_duet_serve_logs_it_as_one_line(tmp_path: Path) -> None:
    """The command people run: its log shows the refusal once, as a WARNING, with no traceback."""
    port = free_port()
    env = os.environ | {
        "DUET_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/duet.sqlite3",
        "DUET_JWT_SECRET": TEST_SECRET,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "web.cli", "--host", "127.0.0.1", "--port", str(port), "serve"),
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await wait_healthy(f"http://127.0.0.1:{port}/healthz", process, within=60)
        answer = await raw_request(
            port, b"GET / HTTP/1.1\r\nHost: duet\r\nX-Big: " + SECRETISH.encode() + b"\r\n\r\n"
        )
        assert b" 400 " in answer.split(b"\r\n", 1)[0]
        await wait_healthy(f"http://127.0.0.1:{port}/healthz", process, within=10)
    finally:
        if process.returncode is None:
            process.terminate()
        _, err = await asyncio.wait_for(process.communicate(), timeout=30)
    log = err.decode()
    refused = [line for line in log.splitlines() if "not valid HTTP" in line]
    assert len(refused) == 1, log
    assert " WARNING aiohttp.server: Answered 400 to 127.0.0.1" in refused[0], refused
    assert "Traceback" not in log and "ERROR" not in log, log
