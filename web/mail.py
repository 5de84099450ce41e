"""The mail delivery worker's place in the app: which transport the config picks, and the
worker's loop for the app's life (docs/notifications.md)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from notifications.transport import DirectoryTransport, SmtpTransport, Transport
from notifications.worker import MailWorker, running
from web.config import Config
from web.keys import CLOCK, CONFIG, ENGINE, MAIL

log = logging.getLogger("duet.notifications")


def transport_for(config: Config) -> Transport | None:
    """SMTP when `smtp_host` is set, else the `.eml` directory when `mail_dir` is, else none
    (mails then wait in the outbox)."""
    if config.smtp_host:
        return SmtpTransport(
            config.smtp_host,
            config.smtp_port_or_default,
            "none"
            if config.smtp_security == "none"
            else ("tls" if config.smtp_security == "tls" else "starttls"),
            config.smtp_user,
            config.smtp_password,
        )
    if config.mail_dir:
        return DirectoryTransport(Path(config.mail_dir))
    return None


async def mail_context(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    transport = transport_for(config)
    if transport is None:
        log.info("mail: no smtp_host or mail_dir configured; mails stay in the outbox")
        yield
        return
    worker = MailWorker(
        app[ENGINE],
        app[CLOCK],
        transport,
        base_url=config.base_url,
        sender=config.mail_from,
        owner=config.node_id,
        poll_s=config.mail_poll_s,
    )
    app[MAIL] = worker
    async with running(worker):
        yield
