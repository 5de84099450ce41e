"""Bearer-token authentication: the host platform mints HS256 JWTs; Duet only verifies them."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from aiohttp import web
from aiohttp.typedefs import Middleware
from jwt.algorithms import HMACAlgorithm

from scheduling.model import Role
from scheduling.store_events import UserRecord
from signaling import log_context
from web.problems import Problem

ALGORITHM = "HS256"


class _KeyCheckedOnce(HMACAlgorithm):
    """PyJWT's HS256, checking a key once instead of on every token: its `prepare_key` makes
    sure a secret is not a PEM or SSH public key (the algorithm-confusion defence), ~3.5 % of a
    join storm's CPU when every person's token is seen for the first time (py-spy). The same
    checks run for each new key; a key that failed them is checked again, and fails again."""

    def __init__(self, hash_alg: Callable[..., object]) -> None:
        super().__init__(hash_alg)
        self._checked: tuple[str | bytes, bytes] | None = None

    def prepare_key(self, key: str | bytes) -> bytes:
        checked = self._checked
        if checked is not None and checked[0] == key:
            return checked[1]
        prepared = super().prepare_key(key)
        self._checked = (key, prepared)
        return prepared


# PyJWT's public registry: every jwt.encode/decode of this process (Duet's own) uses it.
jwt.unregister_algorithm(ALGORITHM)
jwt.register_algorithm(ALGORITHM, _KeyCheckedOnce(HMACAlgorithm.SHA256))
# An address mail can go to: one @, no spaces, brackets or control characters (nothing that could
# smuggle a header in); a claim that is not one is ignored, as if the platform sent none.
_EMAIL = re.compile(r"[^@\s<>,;\"\x00-\x1f\x7f]{1,64}@[^@\s<>,;\"\x00-\x1f\x7f]{1,255}")
PRINCIPAL_KEY: web.RequestKey[Principal] = web.RequestKey("principal")


@dataclass(frozen=True, slots=True)
class Principal:
    """The signed-in person, as the token says."""

    user_id: str
    role: Role
    company_id: str | None
    name: str
    email: str = ""  # the `email` claim, where the host platform sends one (for mail)

    def as_user(self) -> UserRecord:
        return UserRecord(self.user_id, self.name, self.role, self.company_id, email=self.email)


def mint_token(
    secret: str, user: UserRecord, now: datetime, ttl: timedelta = timedelta(hours=12)
) -> str:
    """What a host platform does; Duet uses it for the dev login and tests."""
    claims = {
        "sub": user.id,
        "role": user.role.value,
        "company": user.company_id,
        "name": user.name,
        **({"email": user.email} if user.email else {}),
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str, now: datetime) -> Principal:
    return _verify(secret, token, now)[0]


def _verify(secret: str, token: str, now: datetime) -> tuple[Principal, int]:
    """The token's principal and its expiry (Unix seconds), or the 401 it deserves."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={
                "require": ["sub", "role", "exp"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise Problem(
            401, "bad_token", "Your sign-in token is not valid; please sign in again."
        ) from exc
    # Expiry is checked against the injected clock, not PyJWT's hidden wall-clock read.
    if int(claims["exp"]) <= int(now.timestamp()):
        raise _expired()
    try:
        role = Role(claims["role"])
    except ValueError as exc:
        raise Problem(401, "bad_token", "Your sign-in token names an unknown role.") from exc
    company = claims.get("company")
    if role == Role.EMPLOYEE and not company:
        raise Problem(401, "bad_token", "An employee's token must name their company.")
    email = claims.get("email")
    who = Principal(
        str(claims["sub"]),
        role,
        str(company) if company else None,
        str(claims.get("name") or claims["sub"]),
        email if isinstance(email, str) and _EMAIL.fullmatch(email) else "",
    )
    return who, int(claims["exp"])


def _expired() -> Problem:
    return Problem(401, "token_expired", "Your sign-in has expired; please sign in again.")


_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# Tokens this node verified, per app (the middleware's own): a browser sends the same token with
# every request, and PyJWT's checks cost ~55 µs of a request's ~250 µs (one employee's slots,
# docs/performance.md, issue #12). A token verified once with the same secret always verifies
# again; only its expiry depends on the time, and is checked on every request.
VERIFIED_MAX = 20_000


def auth_middleware(secret: str, now: Callable[[], datetime]) -> Middleware:
    verified: dict[str, tuple[Principal, int]] = {}

    def check(token: str) -> Principal:
        at = now()
        known = verified.get(token)
        if known is None:
            known = _verify(secret, token, at)  # raises for a token that is not good
            if len(verified) >= VERIFIED_MAX:
                verified.clear()
            verified[token] = known
        elif known[1] <= int(at.timestamp()):
            raise _expired()
        return known[0]

    @web.middleware
    async def middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            who = check(header[7:].strip())
            request[PRINCIPAL_KEY] = who
            # On the rest of this request's log lines, its access line included: unbound with
            # the whole request's context by web/logs.py:request_context, further out.
            log_context.bind(user_id=who.user_id)
        return await handler(request)

    return middleware


def principal(request: web.Request, *roles: Role) -> Principal:
    """The caller, or 401; with roles given, 403 for anyone else."""
    who: Principal | None = request.get(PRINCIPAL_KEY)
    if who is None:
        raise Problem(
            401, "sign_in_needed", "Please sign in first (Authorization: Bearer <token>)."
        )
    if roles and who.role not in roles:
        wanted = " or ".join(r.value for r in roles)
        raise Problem(
            403,
            "wrong_role",
            f"Only an {wanted} can do this."
            if wanted[0] in "aeiou"
            else f"Only a {wanted} can do this.",
        )
    return who
