"""Reading a Server-Sent Events stream in tests: the organizer's live board (docs/live.md)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson


class SseReader:
    """Events of one open `text/event-stream` response, as (name, data) pairs."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def next(self, within: float = 10.0) -> tuple[str, Any]:
        name, data = "message", b""
        async with asyncio.timeout(within):
            while True:
                line = await self.response.content.readline()
                assert line, "the stream ended"
                line = line.rstrip(b"\r\n")
                if not line:
                    if data:
                        return name, orjson.loads(data)
                    continue
                if line.startswith(b":"):
                    continue  # a keepalive comment
                field, _, value = line.partition(b":")
                value = value.removeprefix(b" ")
                if field == b"event":
                    name = value.decode()
                elif field == b"data":
                    data += value

    async def row(self, chat_id: str, until: str | None = None, within: float = 10.0) -> Any:
        """The next `row` event of `chat_id` (whose group is `until`, if given)."""
        async with asyncio.timeout(within):
            while True:
                name, data = await self.next(within)
                if name == "row" and data["id"] == chat_id and until in (None, data["group"]):
                    return data

    def close(self) -> None:
        self.response.close()
