"""CSV exports: every chat of an event for its organizers, a company's own chats with its notes.

Both stream (`web/csv_stream.py` over `scheduling/store_exports.py`'s batches): the rows are
read through a server-side cursor in one read transaction and written as they come. Who may
export is decided before the first byte, so a refusal is still problem+json.
"""

from __future__ import annotations

from aiohttp import web

from scheduling.db import read_tx
from scheduling.model import Role
from scheduling.store_events import require_event
from scheduling.store_exports import (
    CALL_QUALITY_COLUMNS,
    COMPANY_COLUMNS,
    ORGANIZER_COLUMNS,
    company_query,
    export_batches,
    organizer_query,
)
from web.auth import principal
from web.csv_stream import stream_csv
from web.keys import CALL_QUALITY, ENGINE

routes = web.RouteTableDef()


@routes.get("/api/v1/events/{event_id}/export/chats.csv")
async def export_chats(request: web.Request) -> web.StreamResponse:
    """Every chat of the event: people, company, state, slot, attendance, absence, feedback
    score and the call-quality columns (`CALL_QUALITY`, the stored summaries unless a test
    sets another source)."""
    principal(request, Role.ORGANIZER)
    quality = request.app.get(CALL_QUALITY, CALL_QUALITY_COLUMNS)
    async with read_tx(request.app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
        return await stream_csv(
            request,
            f"duet-chats-{event.id}.csv",
            (*ORGANIZER_COLUMNS, *quality.columns),
            export_batches(conn, organizer_query(event.id), quality),
        )


@routes.get("/api/v1/events/{event_id}/export/company.csv")
async def export_company(request: web.Request) -> web.StreamResponse:
    """My company's chats of the event with its notes, ratings and next steps (no feedback:
    organizers see that only summed up)."""
    who = principal(request, Role.EMPLOYEE)
    assert who.company_id is not None  # verify_token guarantees it for employees
    async with read_tx(request.app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
        return await stream_csv(
            request,
            f"duet-{who.company_id}-{event.id}.csv",
            COMPANY_COLUMNS,
            export_batches(conn, company_query(event.id, who.company_id)),
        )
