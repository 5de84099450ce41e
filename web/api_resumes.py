"""Participants' résumés: upload, replace and delete one PDF; the company they talk to reads it.

The upload is the raw PDF as the body (any Content-Type: the bytes decide, `resume_rules`), read
up to the limit here rather than through the app-wide body limit; parsing runs on a worker
thread so a large PDF does not hold the event loop.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from scheduling.db import read_tx, write_tx
from scheduling.errors import DomainError, ErrorKind
from scheduling.model import Role
from scheduling.resume_rules import (
    MAX_RESUME_BYTES,
    check_pdf,
    check_reader,
    clean_filename,
    content_disposition,
    resume_shared,
    too_large,
)
from scheduling.store_chats import get_chat
from scheduling.store_events import ensure_user
from scheduling.store_resumes import (
    ResumeInfo,
    delete_resume,
    resume_file,
    resume_info,
    save_resume,
)
from web import resources as r
from web.api_chats import CHAT_ID
from web.auth import principal
from web.json_io import json_response
from web.keys import CLOCK, ENGINE

routes = web.RouteTableDef()

MY_RESUME_URL = "/api/v1/me/resume.pdf"


def _view(info: ResumeInfo) -> r.Resume:
    return r.Resume(info.filename, info.size, info.pages, info.uploaded_at, MY_RESUME_URL)


async def _read_upload(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_RESUME_BYTES:
        raise too_large()
    content = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        content += chunk
        if len(content) > MAX_RESUME_BYTES:  # a body without Content-Length stops here
            raise too_large()
    return bytes(content)


def _pdf(filename: str, content: bytes) -> web.Response:
    return web.Response(
        body=content,
        content_type="application/pdf",
        headers={
            "Content-Disposition": content_disposition(filename),
            "X-Content-Type-Options": "nosniff",
        },
    )


@routes.put("/api/v1/me/resume")
async def put_resume(request: web.Request) -> web.Response:
    """Upload or replace my résumé: the PDF's bytes as the body."""
    who = principal(request, Role.PARTICIPANT)
    content = await _read_upload(request)
    pages = await asyncio.to_thread(check_pdf, content)
    filename = clean_filename(request.query.get("filename"))
    async with write_tx(request.app[ENGINE]) as conn:
        await ensure_user(conn, who.as_user())
        info = await save_resume(
            conn, who.user_id, filename, content, pages, request.app[CLOCK].now()
        )
    return json_response(_view(info))


@routes.get("/api/v1/me/resume")
async def get_resume(request: web.Request) -> web.Response:
    who = principal(request, Role.PARTICIPANT)
    async with read_tx(request.app[ENGINE]) as conn:
        info = await resume_info(conn, who.user_id)
    if info is None:
        raise DomainError(ErrorKind.NOT_FOUND, "You have not uploaded a résumé yet.")
    return json_response(_view(info))


@routes.delete("/api/v1/me/resume")
async def remove_resume(request: web.Request) -> web.Response:
    who = principal(request, Role.PARTICIPANT)
    async with write_tx(request.app[ENGINE]) as conn:
        deleted = await delete_resume(conn, who.user_id)
    if not deleted:
        raise DomainError(ErrorKind.NOT_FOUND, "You have not uploaded a résumé yet.")
    return web.Response(status=204)


@routes.get("/api/v1/me/resume.pdf")
async def get_my_resume_pdf(request: web.Request) -> web.Response:
    who = principal(request, Role.PARTICIPANT)
    async with read_tx(request.app[ENGINE]) as conn:
        found = await resume_file(conn, who.user_id)
    if found is None:
        raise DomainError(ErrorKind.NOT_FOUND, "You have not uploaded a résumé yet.")
    return _pdf(*found)


@routes.get(f"/api/v1/chats/{CHAT_ID}/resume.pdf")
async def get_chat_resume_pdf(request: web.Request) -> web.Response:
    """The chat's participant's résumé, for the employees of the chat's company."""
    who = principal(request)
    async with read_tx(request.app[ENGINE]) as conn:
        chat = await get_chat(conn, request.match_info["chat_id"])
        check_reader(who.role, who.company_id, None if chat is None else chat.company_id)
        assert chat is not None
        if not resume_shared(chat.initiator, chat.state):
            raise DomainError(
                ErrorKind.NOT_FOUND,
                "The participant has not accepted this invitation, so their résumé is not "
                "shared with your company.",
            )
        found = await resume_file(conn, chat.participant_id)
    if found is None:
        raise DomainError(ErrorKind.NOT_FOUND, "This participant has not shared a résumé.")
    return _pdf(*found)
