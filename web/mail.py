"""The mail delivery worker's place in the app: which transport the config picks, and the
worker's loop for the app's life (docs/notifications.md)."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from aiohttp import web

from notifications.transport import DirectoryTransport, SmtpTransport, Transport
from notifications.worker import MailWorker, running
from web import resources as r
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
            ca_file=config.smtp_ca_file,
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


# --- The demo's mail outbox page: the .eml files the catch-all wrote --------------------------

MAIL_ID = re.compile(r"[A-Za-z0-9._-]{1,200}")
OUTBOX_LIMIT = 200


def _read(path: Path) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    return message


def _calendar_method(message: EmailMessage) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            return str(part.get_param("method") or "").upper()
    return ""


def _body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    return "" if part is None else str(part.get_content())


def read_outbox(directory: Path) -> list[r.MailSummary]:
    """The newest mails the catch-all wrote, newest first."""
    if not directory.is_dir():
        return []
    files = sorted(directory.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    found = []
    for path in files[:OUTBOX_LIMIT]:
        message = _read(path)
        found.append(
            r.MailSummary(
                id=path.stem,
                kind=str(message.get("X-Duet-Kind", "")),
                to=str(message.get("To", "")),
                subject=str(message.get("Subject", "")),
                date=str(message.get("Date", "")),
                calendar=_calendar_method(message),
                text=_body(message, "plain"),
            )
        )
    return found


def mail_html(directory: Path, mail_id: str) -> str | None:
    """The HTML body of one written mail, or None when there is no such mail."""
    if not MAIL_ID.fullmatch(mail_id):
        return None
    path = directory / f"{mail_id}.eml"
    if not path.is_file():
        return None
    return _body(_read(path), "html")
