"""The soak tests run on uvloop, the loop `duet serve` runs on (web/cli.py).

Memory held per socket depends on the loop's transports: CPython 3.11's selector transport is a
reference cycle of its own (its read callback is a bound method of itself), uvloop's is not, so
a test of what a closed socket leaves behind must use the production loop.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
import uvloop


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> Mapping[str, object]:
    return {"uvloop": uvloop.new_event_loop}
