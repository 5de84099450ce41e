"""The mail delivery worker: each round writes the reminders due now, leases due outbox rows,
and sends them; a failure waits a growing backoff, and nothing is lost or sent twice.

Durability, in the terms of docs/notifications.md:
- A mail exists once its change committed (`store_mail.record_chat_mail`, same transaction).
- A row is sent by the node holding its lease (`store_mail.claim`, a compare-and-swap), and
  marked sent only after the server accepted it; while the server is down every try fails,
  the row stays pending with `next_attempt_at` pushed back (`mail_rules.backoff`).
- What can still repeat a mail: the server accepted it and this node died (or lost the
  database) before marking it sent; the lease then runs out and the mail goes again with the
  same Message-ID, which mail systems use to drop the duplicate.

Time comes from the injected clock, so tests move it by hand and call `run_once`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from notifications.compose import compose
from notifications.transport import SendFailed, SendRefused, Transport
from scheduling.clock import Clock
from scheduling.db import is_unavailable, read_tx, write_tx
from scheduling.store_mail import (
    Delivery,
    claim,
    due_mail,
    mark_dropped,
    mark_failed,
    mark_sent,
    still_true,
    write_due,
)

log = logging.getLogger("duet.notifications")

BATCH = 10
# Longer than a batch of sends can take (BATCH x SMTP_TIMEOUT_S): a lease that ran out while
# its node was still sending would let another node send the same mail.
LEASE = timedelta(minutes=5)


@dataclass
class Round:
    """What one round did, for tests and the log."""

    scheduled: int = 0
    sent: int = 0
    failed: int = 0
    dropped: int = 0


class MailWorker:
    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        transport: Transport,
        *,
        base_url: str,
        sender: str,
        owner: str,
        poll_s: float = 5.0,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.transport = transport
        self.base_url = base_url
        self.sender = sender
        self.owner = owner
        self.poll_s = poll_s
        self._wake = asyncio.Event()
        # Mails this worker handled since it started, by outcome: read by /metrics at scrape
        # time (web/metrics.py), plain ints like the node's other counters.
        self.outcomes = {"sent": 0, "failed": 0, "dropped": 0}

    def wake(self) -> None:
        """Run a round soon (a change just wrote mails) instead of at the next poll."""
        self._wake.set()

    async def run_once(self) -> Round:
        """Write what is due now, then send one batch of due mails."""
        done = Round()
        now = self.clock.now()
        async with read_tx(self.engine) as conn:
            due = await due_mail(conn, now)
        if due:
            async with write_tx(self.engine) as conn:
                done.scheduled = await write_due(conn, due)
        async with write_tx(self.engine) as conn:
            claimed = await claim(conn, self.owner, now, LEASE, BATCH)
        for delivery in claimed:
            outcome = await self._deliver(delivery)
            setattr(done, outcome, getattr(done, outcome) + 1)
            self.outcomes[outcome] += 1
        return done

    async def _deliver(self, delivery: Delivery) -> str:
        async with read_tx(self.engine) as conn:
            current = await still_true(conn, delivery, self.clock.now())
        if not current:
            async with write_tx(self.engine) as conn:
                await mark_dropped(
                    conn, delivery, self.owner, "no longer true (chat moved or too old)"
                )
            return "dropped"
        try:
            message = compose(delivery, self.base_url, self.sender)
            await self.transport.send(message)
        except SendRefused as exc:
            log.warning("mail %d (%s) refused for good: %s", delivery.id, delivery.kind, exc)
            async with write_tx(self.engine) as conn:
                await mark_dropped(conn, delivery, self.owner, str(exc))
            return "dropped"
        except SendFailed as exc:
            log.info("mail %d (%s) not sent, will retry: %s", delivery.id, delivery.kind, exc)
            async with write_tx(self.engine) as conn:
                await mark_failed(conn, delivery, self.owner, str(exc), self.clock.now())
            return "failed"
        except Exception as exc:  # a bug in composing: keep the mail, say so, try later
            log.exception("mail %d (%s) could not be composed", delivery.id, delivery.kind)
            async with write_tx(self.engine) as conn:
                await mark_failed(conn, delivery, self.owner, repr(exc), self.clock.now())
            return "failed"
        async with write_tx(self.engine) as conn:
            await mark_sent(conn, delivery, self.owner, self.clock.now())
        log.info("mail %d (%s) sent", delivery.id, delivery.kind)
        return "sent"

    async def run(self) -> None:
        """Rounds until cancelled: at once after `wake`, else every `poll_s` seconds; a round
        that found a full batch goes again at once. A database outage waits for the next."""
        while True:
            self._wake.clear()
            try:
                done = await self.run_once()
            except Exception as exc:
                if not is_unavailable(exc):
                    log.exception("mail round failed")
                else:
                    log.warning("mail round skipped: the database is unavailable")
                done = Round()
            if done.sent + done.failed + done.dropped >= BATCH:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)


@contextlib.asynccontextmanager
async def running(worker: MailWorker) -> AsyncIterator[MailWorker]:
    """The worker's loop as a task for the life of the block."""
    task = asyncio.create_task(worker.run(), name="mail-worker")
    try:
        yield worker
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
