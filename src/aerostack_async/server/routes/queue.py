"""Emulator routes: the job queue (``/queue/*``) and its delivery loop.

Jobs persist in the platform database with their status. With ``--queue-consumer URL`` a
background task POSTs each due job (its ``JobRecord`` as JSON) to that URL and marks it
``completed`` on a 2xx answer or ``failed`` otherwise (one attempt, no retries). Without a
consumer, jobs stay ``queued`` until cancelled. ``delay`` holds a job back until its ``runAt``.
"""

from __future__ import annotations

import base64
import binascii
import sqlite3
import uuid
from datetime import datetime, timezone
from typing import Any

import anyio
import httpx
import msgspec

from .._app import Call, Operation, RouteModule
from .._state import ServerState

STATUSES = ("queued", "processing", "completed", "failed", "cancelled")
TERMINAL = ("completed", "failed", "cancelled")
MAX_LIST_LIMIT = 200
DEFAULT_LIST_LIMIT = 50
MAX_DELAY_SECONDS = 10 * 365 * 24 * 3600
# How many due jobs the delivery loop claims at once (and delivers concurrently).
DELIVERY_BATCH = 16

SCHEMA = """
CREATE TABLE IF NOT EXISTS queue_jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    status TEXT NOT NULL,
    project_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    run_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    finished_at REAL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS queue_jobs_due ON queue_jobs (status, run_at);
"""

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def _rfc3339(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _record(row: sqlite3.Row) -> dict[str, Any]:
    """A ``JobRecord``: the API's fields plus ``runAt``, ``attempts``, ``finishedAt``, ``error``."""
    return {
        "id": row["id"],
        "type": row["type"],
        "data": _decode(row["data"]),
        "status": row["status"],
        "projectId": row["project_id"],
        "createdAt": _rfc3339(row["created_at"]),
        "runAt": _rfc3339(row["run_at"]),
        "attempts": row["attempts"],
        "finishedAt": None if row["finished_at"] is None else _rfc3339(row["finished_at"]),
        "error": row["error"],
    }


async def enqueue(call: Call) -> Any:
    """Store a job; it is due ``delay`` seconds from now."""
    body = call.body
    job_type = body.string("type", required=True)
    data = body.object("data", required=True)
    delay = body.integer("delay", default=0, minimum=0, maximum=MAX_DELAY_SECONDS)
    body.check()
    job_id = str(uuid.uuid4())
    now = call.state.clock()
    row = (job_id, job_type, _encode(data).decode(), call.state.project_id, now, now + delay)

    def insert(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO queue_jobs (id, type, data, status, project_id, created_at, run_at)"
            " VALUES (?, ?, ?, 'queued', ?, ?, ?)",
            row,
        )

    await call.state.platform.run(insert)
    return {"jobId": job_id, "success": True}


async def job(call: Call) -> Any:
    """``{job, exists}`` for one job id."""
    job_id = call.body.string("jobId", required=True)
    call.body.check()

    def read(conn: sqlite3.Connection) -> sqlite3.Row | None:
        found: sqlite3.Row | None = conn.execute(
            "SELECT * FROM queue_jobs WHERE id = ?", (job_id,)
        ).fetchone()
        return found

    row = await call.state.platform.run(read)
    return {"job": None if row is None else _record(row), "exists": row is not None}


def _decode_cursor(call: Call) -> int | None:
    cursor = call.body.string("cursor")
    if not cursor:
        return None
    try:
        return int(base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii"))
    except (binascii.Error, UnicodeError, ValueError):
        call.body.error("cursor", "Not a cursor returned by /queue/jobs")
        return None


async def jobs(call: Call) -> Any:
    """Jobs in the order they were enqueued, filtered by status and type, a page at a time."""
    body = call.body
    status = body.string("status", choices=STATUSES)
    job_type = body.string("type")
    limit = body.integer("limit", default=DEFAULT_LIST_LIMIT, minimum=1, maximum=MAX_LIST_LIMIT)
    after = _decode_cursor(call)
    body.check()
    where, args = ["1"], []
    if status is not None:
        where.append("status = ?")
        args.append(status)
    if job_type is not None:
        where.append("type = ?")
        args.append(job_type)
    if after is not None:
        where.append("seq > ?")
        args.append(after)

    def read(conn: sqlite3.Connection) -> list[sqlite3.Row]:
        return conn.execute(
            f"SELECT * FROM queue_jobs WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?",
            (*args, limit + 1),
        ).fetchall()

    rows = await call.state.platform.run(read)
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = base64.urlsafe_b64encode(str(rows[-1]["seq"]).encode()).decode() if more else None
    return {"jobs": [_record(row) for row in rows], "list_complete": not more, "cursor": cursor}


async def cancel(call: Call) -> Any:
    """Cancel a job that has not finished; finished (terminal) jobs report ``success: false``."""
    job_id = call.body.string("jobId", required=True)
    call.body.check()
    now = call.state.clock()

    def update(conn: sqlite3.Connection) -> dict[str, Any]:
        row = conn.execute("SELECT status FROM queue_jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            return {"success": False, "note": "No job with this id"}
        status = row[0]
        if status in TERMINAL:
            return {
                "success": False,
                "note": f"The job is already {status}; it cannot be cancelled",
            }
        conn.execute(
            "UPDATE queue_jobs SET status = 'cancelled', finished_at = ? WHERE id = ?",
            (now, job_id),
        )
        if status == "processing":
            note = "The job was already sent to the consumer; that delivery's outcome is ignored."
            return {"success": True, "note": note}
        return {"success": True}

    return await call.state.platform.transaction(update)


# --- delivery to --queue-consumer ----------------------------------------------------------


async def _claim_due(state: ServerState) -> list[dict[str, Any]]:
    now = state.clock()

    def claim(conn: sqlite3.Connection) -> list[dict[str, Any]]:
        rows = conn.execute(
            "SELECT * FROM queue_jobs WHERE status = 'queued' AND run_at <= ?"
            " ORDER BY run_at, seq LIMIT ?",
            (now, DELIVERY_BATCH),
        ).fetchall()
        conn.executemany(
            "UPDATE queue_jobs SET status = 'processing', attempts = attempts + 1 WHERE id = ?",
            [(row["id"],) for row in rows],
        )
        records = [_record(row) for row in rows]
        for record in records:
            record["status"] = "processing"
            record["attempts"] += 1
        return records

    return await state.platform.transaction(claim)


async def _deliver(state: ServerState, url: str, record: dict[str, Any]) -> None:
    assert state.http is not None
    error: str | None = None
    try:
        response = await state.http.post(
            url, content=_encode(record), headers={"Content-Type": "application/json"}
        )
        if not response.is_success:
            error = f"The consumer answered HTTP {response.status_code}"
    except httpx.HTTPError as exc:
        error = f"The consumer could not be reached: {type(exc).__name__}: {exc}"
    except Exception as exc:  # a bad URL, say: the job fails, the loop goes on
        error = f"Delivery failed: {type(exc).__name__}: {exc}"
    finished = state.clock()

    def record_outcome(conn: sqlite3.Connection) -> None:
        # A job cancelled while in flight stays cancelled.
        conn.execute(
            "UPDATE queue_jobs SET status = ?, finished_at = ?, error = ?"
            " WHERE id = ? AND status = 'processing'",
            ("failed" if error else "completed", finished, error, record["id"]),
        )

    await state.platform.run(record_outcome)


async def deliver_jobs(state: ServerState) -> None:
    """POST due jobs to ``--queue-consumer`` for as long as the server runs.

    At start, jobs a previous run left ``processing`` are ``queued`` again.
    """

    def recover(conn: sqlite3.Connection) -> None:
        # Deliveries cut short by a previous shutdown are tried again.
        conn.execute("UPDATE queue_jobs SET status = 'queued' WHERE status = 'processing'")

    await state.platform.run(recover)
    url = state.config.queue_consumer
    if url is None:
        return
    while True:
        due = await _claim_due(state)
        if due:
            async with anyio.create_task_group() as tg:
                for record in due:
                    tg.start_soon(_deliver, state, url, record)
        else:
            await anyio.sleep(state.config.queue_poll_interval)


MODULE = RouteModule(
    operations=[
        Operation("/queue/enqueue", enqueue, status=201),
        Operation("/queue/job", job),
        Operation("/queue/jobs", jobs),
        Operation("/queue/cancel", cancel),
    ],
    schema=SCHEMA,
    background=deliver_jobs,
)
