"""Typed application keys: the only way handlers reach shared resources (no module globals)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from media.precall import PrecallService
from notifications.worker import MailWorker
from scheduling.clock import Clock
from scheduling.store_chats import ChatRecord
from scheduling.store_exports import CallQuality
from web.config import Config
from web.offers_cache import AnswerCache
from web.webhook_worker import DeliveryWorker

CONFIG = web.AppKey("config", Config)
CLOCK = web.AppKey("clock", Clock)
ENGINE = web.AppKey("engine", AsyncEngine)
# Called after a chat changed state or slot, so live rooms can close or move at once.
CHAT_CHANGED: web.AppKey[Callable[[ChatRecord], Awaitable[None]]] = web.AppKey("chat_changed")
# Pre-call checks: the bounded pool of server-side peers and their recent verdicts.
PRECALL = web.AppKey("precall", PrecallService)
# The offers list per event and one employee's free slots per (event, employee), validated
# through the broker (web/offers_cache.py).
OFFERS = web.AppKey("offers", AnswerCache)
SLOTS = web.AppKey("slots", AnswerCache)
# This node's webhook sender (web/webhook_worker.py).
WEBHOOKS = web.AppKey("webhooks", DeliveryWorker)
# The call-quality columns of the organizer's CSV export (scheduling/store_exports.py): unset,
# the export has one empty `call_quality` column; the live board's summary plugs in here.
CALL_QUALITY = web.AppKey("call_quality", CallQuality)
# The mail delivery worker, when mail is configured (web/mail.py).
MAIL = web.AppKey("mail", MailWorker)
