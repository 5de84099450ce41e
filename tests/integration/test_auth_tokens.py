"""Bearer tokens through the REST middleware: a token verified once is remembered by the node
(web/auth.py), yet it still expires on the node's clock, and a token that differs from a good one
in any character is refused."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest

from tests.support.apiclient import SAM, Api
from web.auth import mint_token


async def me(api: Api, token: str) -> tuple[int, str]:
    resp = await api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    body = await resp.json(content_type=None)
    return resp.status, body.get("code", body.get("id"))


async def test_a_remembered_token_still_expires_on_the_clock(api: Api) -> None:
    token = mint_token(api.secret, SAM.record, api.clock.now(), timedelta(minutes=10))
    assert await me(api, token) == (200, SAM.id)
    assert await me(api, token) == (200, SAM.id)
    api.clock.advance(timedelta(minutes=10) - timedelta(seconds=1))
    assert await me(api, token) == (200, SAM.id)
    api.clock.advance(timedelta(seconds=1))
    assert await me(api, token) == (401, "token_expired")


async def test_a_token_changed_after_a_good_one_was_seen_is_refused(api: Api) -> None:
    token = mint_token(api.secret, SAM.record, api.clock.now())
    assert await me(api, token) == (200, SAM.id)
    head, claims, signature = token.split(".")
    forged = f"{head}.{claims}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    assert await me(api, forged) == (401, "bad_token")
    other = mint_token("another-secret-of-at-least-32-bytes!!", SAM.record, api.clock.now())
    assert await me(api, other) == (401, "bad_token")
    assert await me(api, token) == (200, SAM.id)


def test_a_key_that_is_a_public_key_is_refused_every_time() -> None:
    """HS256 keys are checked once per key (web/auth.py), not skipped: a PEM public key used as an HMAC
    secret (algorithm confusion) is refused on every use, before and after a good key."""
    pem = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"
    for _ in range(2):
        with pytest.raises(jwt.InvalidKeyError):
            jwt.encode({"sub": "x"}, pem, algorithm="HS256")
        assert jwt.decode(
            jwt.encode({"sub": "x"}, "a" * 32, algorithm="HS256"), "a" * 32, algorithms=["HS256"]
        ) == {"sub": "x"}
