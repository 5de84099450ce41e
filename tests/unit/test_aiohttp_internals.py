"""signaling/aiohttp_internals.py relies on private names of aiohttp 3.14.5: they are all there,
the copy of `_post_start` still matches aiohttp's, and a different aiohttp fails at start-up."""

from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from signaling import aiohttp_internals
from signaling.aiohttp_internals import (
    PINNED_AIOHTTP,
    AiohttpInternalsChanged,
    InlineWebSocketResponse,
    check_internals,
)


def test_the_installed_aiohttp_has_every_name_used() -> None:
    assert aiohttp.__version__ == PINNED_AIOHTTP
    check_internals()


def test_another_version_or_a_missing_name_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aiohttp_internals, "PINNED_AIOHTTP", "3.14.4")
    with pytest.raises(AiohttpInternalsChanged, match=r"3\.14\.4 expected"):
        check_internals()
    monkeypatch.undo()
    monkeypatch.setattr(
        aiohttp_internals,
        "WEBSOCKET_RESPONSE_FIELDS",
        (*aiohttp_internals.WEBSOCKET_RESPONSE_FIELDS, "_gone_in_the_next_release"),
    )
    with pytest.raises(AiohttpInternalsChanged, match="_gone_in_the_next_release"):
        check_internals()


def _body(function: Any) -> list[str]:
    """The statements of a function (not its signature or comments), as AST dumps."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    return [ast.dump(stmt) for stmt in tree.body[0].body]  # type: ignore[attr-defined]


def test_aiohttp_still_starts_sockets_the_way_the_copy_does() -> None:
    """`InlineWebSocketResponse._post_start` copies aiohttp's to install its queue. If an
    aiohttp upgrade changes the original, this fails: re-copy it."""
    ours = _body(InlineWebSocketResponse._post_start)
    renamed = [s.replace("'InlineQueue'", "'WebSocketDataQueue'") for s in ours]
    assert renamed == _body(web.WebSocketResponse._post_start)
    assert renamed != ours  # the one difference is there
