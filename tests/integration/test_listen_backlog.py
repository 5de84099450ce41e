"""`duet serve` listens with a deep accept queue: at :00 a thousand WebSockets a second arrive.

With aiohttp's default of 128 the kernel dropped the connections beyond it while the node was
busy, and each dropped client waited for its SYN's retransmission (1 s, then 3 s): the join
storm's p99 was 10-20 s where the work itself queued for well under a second
(docs/performance.md). `ss` reads the listening socket's queue size from the kernel.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import aiohttp

from tests.support.app import TEST_SECRET
from tests.support.duet_nodes import launch_node, wait_ready
from web.cli import LISTEN_BACKLOG


def accept_queue_size(port: int) -> int:
    """The listening socket's backlog as the kernel holds it (ss: Send-Q of a LISTEN socket)."""
    ss = shutil.which("ss")
    assert ss is not None, "install the Debian package 'iproute2'; this test never skips"
    out = subprocess.run(
        [ss, "-ltnH", f"sport = :{port}"], check=True, capture_output=True, text=True
    ).stdout
    lines = [line.split() for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, out
    return int(lines[0][2])


def kernel_cap() -> int:
    """net.core.somaxconn: the kernel gives a listening socket at most this many."""
    return int(Path("/proc/sys/net/core/somaxconn").read_text())


async def test_duet_serve_listens_with_the_storms_backlog(tmp_path: Path) -> None:
    node = launch_node("backlog", tmp_path, TEST_SECRET, f"sqlite+aiosqlite:///{tmp_path}/d.db")
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, node)
        assert accept_queue_size(node.port) == min(LISTEN_BACKLOG, kernel_cap()) >= 1024
    finally:
        node.stop()
