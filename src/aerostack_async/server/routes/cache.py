"""Emulator routes: the key-value cache (``/cache/*``).

Values are stored as their JSON text, so any JSON value round-trips exactly. A TTL becomes an
absolute expiry time: reads ignore expired entries at once, and a background sweep deletes
them. Single-request operations go through a `Coalescer`, which runs the
ones that arrive together in one worker-thread trip; each runs in its own savepoint under the
store's lock, so every operation — ``increment`` and the many-key ones included — is atomic.
"""

from __future__ import annotations

import base64
import binascii
import math
import sqlite3
from typing import Any

import anyio
import msgspec
from starlette.responses import Response

from .._app import Call, Operation, RouteModule
from .._errors import ApiError, validation_error
from .._state import ServerState
from .._validation import Body
from ._coalesce import coalescer

MAX_KEY_BYTES = 512
MAX_GET_MANY = 100
MAX_SET_MANY = 100
MAX_DELETE_MANY = 500
MAX_LIST_LIMIT = 1000
DEFAULT_LIST_LIMIT = 100
MAX_KEYS = 10_000
SWEEP_INTERVAL_SECONDS = 1.0
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_LIVE = "(expires_at IS NULL OR expires_at > ?)"

SCHEMA = """
CREATE TABLE IF NOT EXISTS cache (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires_at REAL
);
CREATE INDEX IF NOT EXISTS cache_expiry ON cache (expires_at) WHERE expires_at IS NOT NULL;
"""

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


# --- reading the request -------------------------------------------------------------------


def _key_error(value: Any) -> str | None:
    if not isinstance(value, str):
        return "Expected string"
    if not value:
        return "Must not be empty"
    if len(value.encode("utf-8")) > MAX_KEY_BYTES:
        return f"Must be at most {MAX_KEY_BYTES} bytes (UTF-8)"
    return None


def _key(body: Body, name: str = "key") -> Any:
    value = body.data.get(name)
    if name not in body.data or value is None:
        body.error(name, "Required")
        return None
    problem = _key_error(value)
    if problem:
        body.error(name, problem)
    return value


def _keys(body: Body, maximum: int) -> list[str]:
    keys = body.array("keys", required=True, max_items=maximum)
    if not isinstance(keys, list):
        return []
    for index, value in enumerate(keys):
        problem = _key_error(value)
        if problem:
            body.error(f"keys[{index}]", problem)
    return keys


def _ttl(body: Body, name: str = "ttl", *, required: bool = False) -> Any:
    return body.integer(name, required=required, minimum=0, maximum=_INT64_MAX)


def _expiry(now: float, ttl: int | None) -> float | None:
    # 0 or absent means "never expires".
    return now + ttl if ttl else None


def _unix(expires_at: float | None) -> int | None:
    return None if expires_at is None else math.ceil(expires_at)


def _prefix_bounds(prefix: str) -> tuple[str, str | None]:
    """The key range ``[low, high)`` holding exactly the keys that start with ``prefix``."""
    stripped = prefix.rstrip("\U0010ffff")
    if not stripped:
        return prefix, None
    last = ord(stripped[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:  # skip the surrogate block, which UTF-8 text never holds
        last = 0xE000
    return prefix, stripped[:-1] + chr(last)


def _range_sql(prefix: str) -> tuple[str, list[Any]]:
    low, high = _prefix_bounds(prefix)
    if high is None:
        return "key >= ?", [low]
    return "key >= ? AND key < ?", [low, high]


def _encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode("utf-8")).decode("ascii")


def _decode_cursor(body: Body) -> str | None:
    cursor = body.string("cursor")
    if not cursor:
        return None
    try:
        return base64.urlsafe_b64decode(cursor.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        body.error("cursor", "Not a cursor returned by /cache/list")
        return None


# --- handlers ------------------------------------------------------------------------------

_MISSING = b'{"exists":false,"value":null}'
_GET_SQL = f"SELECT value FROM cache WHERE key = ? AND {_LIVE}"
# An upsert updates the row in place; INSERT OR REPLACE would delete and re-insert it (and its
# index entries), which costs about five times as much per write.
_SET_SQL = (
    "INSERT INTO cache VALUES (?, ?, ?) ON CONFLICT (key)"
    " DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at"
)


async def get(call: Call) -> Any:
    """``{exists, value}`` for one key."""
    key = _key(call.body)
    call.body.check()
    now = call.state.clock()

    def read(conn: sqlite3.Connection) -> Any:
        return conn.execute(_GET_SQL, (key, now)).fetchone()

    row = await coalescer(call.state.platform).run(read)
    # The stored JSON text is spliced in as is: no decode/encode round trip on the hot path.
    content = _MISSING if row is None else b'{"exists":true,"value":' + row[0].encode() + b"}"
    return Response(content, media_type="application/json")


async def set_(call: Call) -> Any:
    """Store any JSON value, with an optional TTL in seconds."""
    body = call.body
    key = _key(body)
    value = body.any("value", required=True)
    ttl = _ttl(body)
    body.check()
    text = _encode(value).decode()
    expires_at = _expiry(call.state.clock(), ttl)

    def write(conn: sqlite3.Connection) -> None:
        conn.execute(_SET_SQL, (key, text, expires_at))

    await coalescer(call.state.platform).run(write)
    return {"success": True}


async def delete(call: Call) -> Any:
    """Remove one key; ``deleted`` says whether a live entry was there."""
    key = _key(call.body)
    call.body.check()
    now = call.state.clock()

    def remove(conn: sqlite3.Connection) -> bool:
        live = conn.execute(f"DELETE FROM cache WHERE key = ? AND {_LIVE}", (key, now)).rowcount
        conn.execute("DELETE FROM cache WHERE key = ?", (key,))
        return live > 0

    deleted = await coalescer(call.state.platform).run(remove)
    return {"success": True, "deleted": deleted}


async def get_many(call: Call) -> Any:
    """``{key, value, exists}`` for each requested key, in request order."""
    keys = _keys(call.body, MAX_GET_MANY)
    call.body.check()
    now = call.state.clock()

    def read(conn: sqlite3.Connection) -> dict[str, str]:
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 100):
            chunk = unique[start : start + 100]
            marks = ",".join("?" * len(chunk))
            found.update(
                conn.execute(
                    f"SELECT key, value FROM cache WHERE key IN ({marks}) AND {_LIVE}",
                    (*chunk, now),
                ).fetchall()
            )
        return found

    found = await coalescer(call.state.platform).run(read)
    results = [
        {"key": key, "value": _decode(found[key]), "exists": True}
        if key in found
        else {"key": key, "value": None, "exists": False}
        for key in keys
    ]
    return {"results": results}


async def set_many(call: Call) -> Any:
    """Store up to 100 entries ``{key, value, ttl?}`` at once (all or none)."""
    body = call.body
    entries = body.array("entries", required=True, max_items=MAX_SET_MANY)
    now = call.state.clock()
    rows: list[tuple[Any, str, float | None]] = []
    for index, entry in enumerate(entries or []):
        field = f"entries[{index}]"
        if not isinstance(entry, dict):
            body.error(field, "Expected object with key, value and ttl")
            continue
        problem = _key_error(entry.get("key")) if "key" in entry else "Required"
        if problem:
            body.error(f"{field}.key", problem)
        if "value" not in entry:
            body.error(f"{field}.value", "Required")
        ttl = entry.get("ttl")
        if isinstance(ttl, float) and ttl.is_integer():
            ttl = int(ttl)
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int)):
            body.error(f"{field}.ttl", "Expected integer")
            ttl = None
        elif ttl is not None and not 0 <= ttl <= _INT64_MAX:
            body.error(f"{field}.ttl", "Must be >= 0")
            ttl = None
        rows.append((entry.get("key"), _encode(entry.get("value")).decode(), _expiry(now, ttl)))
    body.check()

    def write(conn: sqlite3.Connection) -> None:
        conn.executemany(_SET_SQL, rows)

    await coalescer(call.state.platform).run(write)
    return {"success": True, "count": len(rows)}


async def delete_many(call: Call) -> Any:
    """Remove up to 500 keys: ``count`` keys asked, ``deleted`` live entries removed."""
    keys = _keys(call.body, MAX_DELETE_MANY)
    call.body.check()
    now = call.state.clock()

    def remove(conn: sqlite3.Connection) -> int:
        deleted = 0
        for key in dict.fromkeys(keys):
            deleted += conn.execute(
                f"DELETE FROM cache WHERE key = ? AND {_LIVE}", (key, now)
            ).rowcount
            conn.execute("DELETE FROM cache WHERE key = ?", (key,))
        return deleted

    deleted = await coalescer(call.state.platform).run(remove)
    return {"success": True, "count": len(keys), "deleted": deleted}


async def increment(call: Call) -> Any:
    """Add ``amount`` to an integer value atomically; a missing key starts at ``initialValue``."""
    body = call.body
    key = _key(body)
    amount = body.integer("amount", default=1, minimum=_INT64_MIN, maximum=_INT64_MAX)
    initial = body.integer("initialValue", default=0, minimum=_INT64_MIN, maximum=_INT64_MAX)
    ttl = _ttl(body)
    body.check()
    now = call.state.clock()

    def bump(conn: sqlite3.Connection) -> int:
        row = conn.execute(
            f"SELECT value FROM cache WHERE key = ? AND {_LIVE}", (key, now)
        ).fetchone()
        if row is None:
            value = initial + amount
            expires_at = _expiry(now, ttl)
        else:
            current = _decode(row[0])
            if isinstance(current, bool) or not isinstance(current, int):
                raise ApiError(
                    400,
                    "CACHE_VALUE_NOT_INTEGER",
                    "The stored value is not an integer, so it cannot be incremented",
                    {"key": key},
                )
            value = current + amount
            expires_at = conn.execute(
                "SELECT expires_at FROM cache WHERE key = ?", (key,)
            ).fetchone()[0]
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise validation_error(
                {"amount": ["The result would not fit in a signed 64-bit integer"]}
            )
        conn.execute(_SET_SQL, (key, str(value), expires_at))
        return int(value)

    return {"value": await coalescer(call.state.platform).run(bump)}


async def expire(call: Call) -> Any:
    """Give a live key a new TTL (seconds from now; 0 removes its expiry)."""
    body = call.body
    key = _key(body)
    ttl = _ttl(body, required=True)
    body.check()
    now = call.state.clock()

    def update(conn: sqlite3.Connection) -> bool:
        changed = conn.execute(
            f"UPDATE cache SET expires_at = ? WHERE key = ? AND {_LIVE}",
            (_expiry(now, ttl), key, now),
        ).rowcount
        return changed > 0

    return {"success": await coalescer(call.state.platform).run(update)}


async def list_(call: Call) -> Any:
    """Live keys in key order, a page at a time, with an opaque cursor."""
    body = call.body
    prefix = body.string("prefix", default="")
    limit = body.integer("limit", default=DEFAULT_LIST_LIMIT, minimum=1, maximum=MAX_LIST_LIMIT)
    after = _decode_cursor(body)
    body.check()
    now = call.state.clock()
    where, args = _range_sql(prefix)
    if after is not None:
        where += " AND key > ?"
        args.append(after)

    def read(conn: sqlite3.Connection) -> list[Any]:
        return conn.execute(
            f"SELECT key, expires_at FROM cache WHERE {where} AND {_LIVE} ORDER BY key LIMIT ?",
            (*args, now, limit + 1),
        ).fetchall()

    rows = await call.state.platform.run(read)
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "keys": [{"key": row[0], "expiration": _unix(row[1])} for row in rows],
        "list_complete": not more,
        "cursor": _encode_cursor(rows[-1][0]) if more else None,
    }


async def keys(call: Call) -> Any:
    """Up to 10,000 live keys starting with ``prefix``; ``truncated`` if there are more."""
    body = call.body
    prefix = body.string("prefix", default="")
    body.check()
    now = call.state.clock()
    where, args = _range_sql(prefix)

    def read(conn: sqlite3.Connection) -> list[Any]:
        return conn.execute(
            f"SELECT key FROM cache WHERE {where} AND {_LIVE} ORDER BY key LIMIT ?",
            (*args, now, MAX_KEYS + 1),
        ).fetchall()

    rows = await call.state.platform.run(read)
    return {"keys": [row[0] for row in rows[:MAX_KEYS]], "truncated": len(rows) > MAX_KEYS}


async def flush(call: Call) -> Any:
    """Delete every key (or every key starting with ``prefix``); ``deleted`` counts live ones."""
    body = call.body
    prefix = body.string("prefix", default="")
    body.check()
    now = call.state.clock()
    where, args = _range_sql(prefix)

    def remove(conn: sqlite3.Connection) -> int:
        conn.execute("DELETE FROM cache WHERE expires_at <= ?", (now,))
        return int(conn.execute(f"DELETE FROM cache WHERE {where}", args).rowcount)

    return {"success": True, "deleted": await call.state.platform.transaction(remove)}


async def sweep(state: ServerState) -> None:
    """Delete expired entries once a second, for as long as the server runs."""

    def remove(conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM cache WHERE expires_at <= ?", (state.clock(),))

    while True:
        await state.platform.run(remove)
        await anyio.sleep(SWEEP_INTERVAL_SECONDS)


def _secret(path: str, handler: Any) -> Operation:
    return Operation(path, handler, secret_only=True)


MODULE = RouteModule(
    operations=[
        _secret("/cache/get", get),
        _secret("/cache/set", set_),
        _secret("/cache/delete", delete),
        _secret("/cache/getMany", get_many),
        _secret("/cache/setMany", set_many),
        _secret("/cache/deleteMany", delete_many),
        _secret("/cache/increment", increment),
        _secret("/cache/expire", expire),
        _secret("/cache/list", list_),
        _secret("/cache/keys", keys),
        _secret("/cache/flush", flush),
    ],
    schema=SCHEMA,
    background=sweep,
)
