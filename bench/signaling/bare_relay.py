"""The baseline: a bare aiohttp WebSocket relay with Duet's pairing by room and nothing else.

No tickets, no validation, no rate limits, no database: the first text frame is a `join` whose
ticket is the room key (``<room>:<side>``), and every later frame is forwarded unchanged to the
other socket of the room. The same WebSocket settings as Duet (subprotocol, no
permessage-deflate, 64 KiB frames, 20 s heartbeat), so Duet ÷ bare is the cost of Duet's own code.

    python bench/signaling/bare_relay.py --port 8765 [--uvloop]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from aiohttp import WSMsgType, web

ROOMS = web.AppKey("rooms", dict)


async def ws_handler(request: web.Request) -> web.WebSocketResponse:
    rooms: dict[str, list[web.WebSocketResponse | None]] = request.app[ROOMS]
    ws = web.WebSocketResponse(
        protocols=("duet.v1.json",), compress=False, heartbeat=20.0, max_msg_size=64 * 1024
    )
    await ws.prepare(request)
    first = await ws.receive(timeout=10)
    if first.type != WSMsgType.TEXT:
        await ws.close()
        return ws
    room, _, side_text = str(json.loads(first.data)["ticket"]).partition(":")
    side = 1 if side_text == "1" else 0
    seats = rooms.setdefault(room, [None, None])
    seats[side] = ws
    peer = seats[1 - side]
    await ws.send_str(
        '{"type":"joined","peer":{"present":%s,"state":"connected"}}'
        % ("true" if peer is not None else "false")
    )
    if peer is not None:
        await peer.send_str('{"type":"peer_joined","peer":{"present":true,"state":"connected"}}')
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            peer = seats[1 - side]
            if peer is not None:
                await peer.send_str(msg.data)
    finally:
        if seats[side] is ws:
            seats[side] = None
    return ws


async def healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop instead of asyncio")
    args = parser.parse_args()
    if args.host != "127.0.0.1":
        parser.error("the benchmark only listens on 127.0.0.1")
    logging.basicConfig(level=logging.WARNING)
    app = web.Application()
    app[ROOMS] = {}
    app.router.add_get("/api/v1/ws", ws_handler)
    app.router.add_get("/healthz", healthz)
    loop_factory = None
    if args.uvloop:
        import uvloop

        loop_factory = uvloop.new_event_loop
    web.run_app(
        app,
        host=args.host,
        port=args.port,
        access_log=None,
        print=lambda *_a: None,
        loop=loop_factory() if loop_factory else None,
    )
    print("bare relay stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
