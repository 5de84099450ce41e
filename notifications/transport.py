"""Where composed mails go: an SMTP server (aiosmtplib), or, with no server configured, a
directory of `.eml` files (`make run`'s catch-all, shown on the demo's mail outbox page).

Both take the same message and raise `SendFailed` when it did not go, so the worker retries
it later; a message the server refuses for good (a bad address) raises `SendRefused`.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Literal, Protocol

import aiosmtplib

Security = Literal["none", "starttls", "tls"]
SMTP_TIMEOUT_S = 20.0


class SendFailed(Exception):
    """The mail was not handed over this time (server down, timeout, temporary refusal)."""


class SendRefused(SendFailed):
    """The server refused this mail for good (5xx for its recipient): retrying cannot help."""


class Transport(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True, slots=True)
class SmtpTransport:
    host: str
    port: int
    security: Security = "starttls"
    user: str = ""
    password: str = ""
    timeout: float = SMTP_TIMEOUT_S
    ca_file: str = ""  # trust these CAs for the server's certificate (else the system's)

    async def send(self, message: EmailMessage) -> None:
        try:
            # aiosmtplib's timeout bounds each step of the exchange; this bounds the whole send,
            # so a batch of sends always ends inside its lease (notifications/worker.py).
            async with asyncio.timeout(self.timeout):
                await aiosmtplib.send(
                    message,
                    hostname=self.host,
                    port=self.port,
                    use_tls=self.security == "tls",
                    start_tls=self.security == "starttls",
                    username=self.user or None,
                    password=self.password or None,
                    timeout=self.timeout,
                    cert_bundle=self.ca_file or None,
                )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            if all(400 <= r.code < 500 for r in exc.recipients):
                raise SendFailed(f"recipient deferred: {_first_line(exc)}") from exc
            raise SendRefused(f"recipient refused: {_first_line(exc)}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600 and exc.code not in (530, 535):  # not an auth problem
                raise SendRefused(f"{exc.code} {_first_line(exc)}") from exc
            raise SendFailed(f"{exc.code} {_first_line(exc)}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise SendFailed(_first_line(exc) or type(exc).__name__) from exc


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().split("\n", 1)[0][:300]


@dataclass(frozen=True, slots=True)
class DirectoryTransport:
    """One `.eml` file per mail, named by its Message-ID: a retry rewrites the same file."""

    directory: Path

    async def send(self, message: EmailMessage) -> None:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", str(message["Message-ID"]).strip("<>")) + ".eml"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = self.directory / f".{name}.tmp"
            tmp.write_bytes(message.as_bytes())
            os.replace(tmp, self.directory / name)  # whole or not at all
        except OSError as exc:
            raise SendFailed(f"cannot write {self.directory}: {exc.strerror}") from exc
