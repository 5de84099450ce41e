"""A person's own settings: the time zone they read times in.

`user_zone` is what server-side text about a chat (emails, reminders) formats its times with:
the person's chosen zone, else the event's. The browser does better without a setting (it
knows its own zone), but a mail server does not.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduling.event_rules import zone_or
from scheduling.schema import users

__all__ = ["get_time_zone", "set_time_zone", "user_zone", "zone_or"]


async def get_time_zone(conn: AsyncConnection, user_id: str) -> str | None:
    """The zone the person chose, or None (follow the browser's)."""
    found: str | None = (
        await conn.execute(sa.select(users.c.time_zone).where(users.c.id == user_id))
    ).scalar()
    return found


async def set_time_zone(conn: AsyncConnection, user_id: str, time_zone: str | None) -> None:
    """Store the person's choice (the row exists: `ensure_user` ran in the transaction)."""
    await conn.execute(users.update().where(users.c.id == user_id).values(time_zone=time_zone))


async def user_zone(conn: AsyncConnection, user_id: str, event_timezone: str) -> ZoneInfo:
    """The zone to write a person's times in, for text the server sends (emails): their own
    setting, else the event's zone."""
    return zone_or(await get_time_zone(conn, user_id), event_timezone)
