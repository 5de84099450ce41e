"""The transports against real servers: STARTTLS and SMTPS with a CA only the test trusts; a
certificate nobody vouched for, or plain text to a server that wants STARTTLS, is a failure to
retry (not a refusal that drops the mail); the `.eml` directory of `make run` and its outbox
page's reading of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from notifications.compose import compose
from notifications.transport import DirectoryTransport, SendFailed, SendRefused, SmtpTransport
from scheduling.clock import ManualClock
from scheduling.db import read_tx
from scheduling.mail_rules import MailKind
from scheduling.model import Role
from scheduling.schema import mail_deliveries
from tests.support.apiclient import Api, Person
from tests.support.app import TEST_SECRET
from tests.support.mail import delivery
from tests.support.seed import confirmed_chat
from tests.support.services import smtp_received, start_smtp
from tests.support.tls import throwaway_tls
from web.app import create_app
from web.config import Config
from web.keys import ENGINE, MAIL
from web.mail import mail_html, read_outbox, transport_for

SENDER = "Duet <duet@fair.example>"
ADA = Person("ada", "Ada Lovelace", Role.EMPLOYEE, "acme", email="ada@acme.example")
SAM = Person("sam", "Sam Student", Role.PARTICIPANT, email="sam@student.example")


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_mail_goes_over_tls_to_a_server_with_a_private_ca(
    tmp_path: Path, security: str
) -> None:
    ca, chain, key = throwaway_tls(tmp_path / "tls", ["127.0.0.1"])
    smtp = start_smtp(tmp_path, security=security, tls_files=(ca, chain, key))
    try:
        message = compose(delivery(MailKind.CHAT_CONFIRMED), "https://fair.example", SENDER)
        trusted = SmtpTransport("127.0.0.1", smtp.port, security, ca_file=str(ca))  # type: ignore[arg-type]
        await trusted.send(message)
        (got,) = smtp_received(smtp)
        assert got["Message-ID"] == message["Message-ID"]
        assert got["X-RcptTo"] == "sam@student.example"  # the envelope, as the server saw it

        untrusted = SmtpTransport("127.0.0.1", smtp.port, security, timeout=5)  # type: ignore[arg-type]
        with pytest.raises(SendFailed) as failed:
            await untrusted.send(message)
        assert not isinstance(failed.value, SendRefused)  # kept, to retry once fixed
        if security == "starttls":
            plain = SmtpTransport("127.0.0.1", smtp.port, "none", timeout=5)
            with pytest.raises(SendFailed) as failed:
                await plain.send(message)
            assert not isinstance(failed.value, SendRefused)
            assert "530" in str(failed.value)  # "Must issue a STARTTLS command first"
        assert len(smtp_received(smtp)) == 1
    finally:
        smtp.stop()


async def test_the_directory_catch_all_and_its_outbox_page(tmp_path: Path) -> None:
    directory = tmp_path / "mail"
    message = compose(
        delivery(MailKind.CHAT_CONFIRMED, "<b>x</b>"), "http://127.0.0.1:8080", SENDER
    )
    transport = DirectoryTransport(directory)
    await transport.send(message)
    await transport.send(message)  # a retry rewrites the same file
    (written,) = directory.glob("*.eml")
    assert written.name == "fixed_duet.mail.eml"
    (summary,) = read_outbox(directory)
    assert (summary.id, summary.kind, summary.calendar) == (
        "fixed_duet.mail",
        "chat_confirmed",
        "REQUEST",
    )
    assert summary.to.endswith("<sam@student.example>")
    assert "Your 1-1 chat is confirmed." in summary.text
    html = mail_html(directory, summary.id)
    assert html is not None and "&lt;b&gt;x&lt;/b&gt;" in html
    assert mail_html(directory, "../mail/fixed_duet.mail") is None
    assert mail_html(directory, "nothing") is None

    (tmp_path / "file").write_text("")
    with pytest.raises(SendFailed):  # a directory that cannot be made
        await DirectoryTransport(tmp_path / "file" / "mail").send(message)


async def test_the_apps_worker_writes_to_mail_dir_and_metrics_count_it(
    aiohttp_client: Any, tmp_path: Path, clock: ManualClock
) -> None:
    """The app picks the transport from its config and runs the worker; /metrics counts what
    it did by outcome."""
    token = "metrics-token-0123456789"
    config = Config(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/duet.sqlite3",
        jwt_secret=TEST_SECRET,
        mail_dir=str(tmp_path / "mail"),
        metrics_token=token,
        mail_poll_s=3600,  # rounds only when the test runs one
    )
    app = create_app(config, clock=clock)
    api = Api(await aiohttp_client(app), TEST_SECRET, clock)
    assert isinstance(transport_for(config), DirectoryTransport)
    assert transport_for(Config(smtp_host="mail.example")) == SmtpTransport("mail.example", 587)
    assert transport_for(Config()) is None
    await confirmed_chat(api, ADA, SAM)
    # The app's own loop (woken by the booking) and the test's rounds share the outbox: run
    # rounds until no row is left pending, whichever of them sent it.
    for _ in range(200):
        async with read_tx(app[ENGINE]) as conn:
            statuses = set((await conn.execute(sa.select(mail_deliveries.c.status))).scalars())
        if statuses == {"sent"}:
            break
        await app[MAIL].run_once()
    assert statuses == {"sent"}
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 4
    scrape = await api.client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    text = await scrape.text()
    assert 'duet_mails_total{outcome="sent"} 4.0' in text
    assert 'duet_mails_total{outcome="failed"} 0.0' in text
