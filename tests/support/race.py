"""Requests fired at once from several OS processes, for races that one event loop cannot make
(its requests leave one at a time): each process opens its connections, waits at a barrier with
the others, then sends everything it was given at once and reports what came back."""

from __future__ import annotations

import asyncio
import multiprocessing
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from typing import Any

import aiohttp


@dataclass(frozen=True)
class Shot:
    """One request: where, as whom, what."""

    url: str
    token: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    code: str | None  # a problem's `code`, else None


async def _fire(shots: list[Shot], barrier: Barrier) -> list[Answer]:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        # Open a connection per request before the barrier: the race starts with the requests.
        await asyncio.gather(*(session.get(s.url.split("/api/")[0] + "/healthz") for s in shots))
        await asyncio.get_running_loop().run_in_executor(None, barrier.wait, 60.0)

        async def one(shot: Shot) -> Answer:
            headers = {"Authorization": f"Bearer {shot.token}"}
            async with session.post(shot.url, json=shot.body, headers=headers) as resp:
                body = await resp.json(content_type=None)
                code = body.get("code") if isinstance(body, dict) else None
                return Answer(resp.status, resp.content_type, code)

        return list(await asyncio.gather(*(one(s) for s in shots)))


def _worker(shots: list[Shot], barrier: Barrier, results: Any) -> None:
    results.put(asyncio.run(_fire(shots, barrier)))


def fire_from_processes(batches: list[list[Shot]], timeout: float = 120.0) -> list[Answer]:
    """Each batch from its own process, all released together; every answer, in no order."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(batches))
    results = ctx.Queue()
    processes = [ctx.Process(target=_worker, args=(b, barrier, results)) for b in batches]
    for process in processes:
        process.start()
    try:
        answers: list[Answer] = []
        for _ in processes:
            answers += results.get(timeout=timeout)
        return answers
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
