"""Emulator routes: ``/auth/signup`` and ``/auth/signin``.

Users live in the platform database. Passwords are hashed with scrypt and a per-user salt
(in a worker thread, so hashing never stalls the event loop) and compared in constant time;
tokens are HS256 JWTs signed with the data directory's secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import sqlite3
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import anyio
import anyio.to_thread
import jwt
import msgspec
from anyio.lowlevel import RunVar

from .._app import Call, Operation, RouteModule
from .._errors import ApiError

TOKEN_LIFETIME_SECONDS = 24 * 3600
# scrypt cost: 16 MiB and a few tens of milliseconds per hash (the interactive-login setting).
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_SCRYPT_MAXMEM = 64 * 2**20
_HASH_LENGTH = 32
# Lenient on purpose: anything shaped like local@domain, as JSON Schema's "email" format allows.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_MAX_EMAIL_CHARS = 320
# At most this many hashes at once: each takes 16 MiB, and a burst of sign-ups must not take
# every worker thread (or a gigabyte of memory).
_CONCURRENT_HASHES = 2
_hash_limiter: RunVar[anyio.CapacityLimiter] = RunVar("_hash_limiter")

SCHEMA = """
CREATE TABLE IF NOT EXISTS auth_users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL UNIQUE,
    name TEXT,
    password_hash TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def _rfc3339(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _hash_password(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=_SCRYPT_N,
        r=_SCRYPT_R,
        p=_SCRYPT_P,
        maxmem=_SCRYPT_MAXMEM,
        dklen=_HASH_LENGTH,
    )


async def _in_thread(fn: Callable[[], bytes]) -> bytes:
    try:
        limiter = _hash_limiter.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(_CONCURRENT_HASHES)
        _hash_limiter.set(limiter)
    return await anyio.to_thread.run_sync(fn, limiter=limiter)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


async def _new_password_hash(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = await _in_thread(lambda: _hash_password(password, salt))
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


async def _password_matches(password: str, stored: str | None) -> bool:
    """Check ``password`` against ``stored``; with ``stored=None`` hash anyway (same timing)."""
    if stored is None:
        await _in_thread(lambda: _hash_password(password, b"\0" * 16))
        return False
    _, n, r, p, salt, digest = stored.split("$")

    def compute() -> bytes:
        return hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_SCRYPT_MAXMEM,
            dklen=_HASH_LENGTH,
        )

    candidate = await _in_thread(compute)
    return hmac.compare_digest(candidate, base64.b64decode(digest))


def _user(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "email": row["email"],
        "name": row["name"],
        "createdAt": row["created_at"],
        "metadata": _decode(row["metadata"]),
    }


def _auth_response(call: Call, user: dict[str, Any]) -> dict[str, Any]:
    now = int(call.state.clock())
    expires = now + TOKEN_LIFETIME_SECONDS
    claims = {
        "sub": user["id"],
        "email": user["email"],
        "iat": now,
        "exp": expires,
        "iss": "aerostack-emulator",
        "projectId": call.state.project_id,
    }
    token = jwt.encode(claims, call.state.jwt_secret, algorithm="HS256")
    return {"token": token, "expiresAt": _rfc3339(expires), "user": user}


def _email(call: Call) -> Any:
    email = call.body.string("email", required=True)
    if isinstance(email, str) and (len(email) > _MAX_EMAIL_CHARS or not _EMAIL.fullmatch(email)):
        call.body.error("email", "Must be a valid e-mail address")
    return email


async def signup(call: Call) -> Any:
    """Create a user (e-mail unique, case-insensitively) and sign them in."""
    body = call.body
    email = _email(call)
    password = body.string("password", required=True, min_length=8)
    name = body.string("name")
    metadata = body.object("metadata", default={})
    body.check()

    password_hash = await _new_password_hash(password)
    created_at = _rfc3339(call.state.clock())
    user_id = str(uuid.uuid4())

    def insert(conn: sqlite3.Connection) -> bool:
        try:
            conn.execute(
                "INSERT INTO auth_users VALUES (?, ?, ?, ?, ?, ?, ?)",
                (user_id, email, email.lower(), name, password_hash, _encode(metadata), created_at),
            )
        except sqlite3.IntegrityError:
            return False
        return True

    if not await call.state.platform.run(insert):
        raise ApiError(409, "AUTH_USER_EXISTS", "A user with this e-mail already exists")
    user = {
        "id": user_id,
        "email": email,
        "name": name,
        "createdAt": created_at,
        "metadata": metadata,
    }
    return _auth_response(call, user)


async def signin(call: Call) -> Any:
    """Check an e-mail and password; the same 401 for an unknown e-mail and a wrong password."""
    body = call.body
    email = body.string("email", required=True)
    password = body.string("password", required=True)
    body.check()

    def find(conn: sqlite3.Connection) -> sqlite3.Row | None:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM auth_users WHERE email_key = ?", (email.lower(),)
        ).fetchone()
        return row

    row = await call.state.platform.run(find)
    matches = await _password_matches(password, row["password_hash"] if row else None)
    if row is None or not matches:
        raise ApiError(401, "AUTH_INVALID_CREDENTIALS", "Invalid e-mail or password")
    return _auth_response(call, _user(row))


MODULE = RouteModule(
    operations=[
        Operation("/auth/signup", signup, status=201),
        Operation("/auth/signin", signin),
    ],
    schema=SCHEMA,
)
