"""A tiny notes service: the application code whose tests live beside it.

It keeps notes in the project's SQL database, a running count in the cache, announces each
note on the job queue and stores attachments in object storage: one of every kind of state a
project has, so its tests show that each test starts from a clean slate.
"""

from __future__ import annotations

from aerostack_async import Aerostack, AsyncAerostack

SCHEMA = "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"


async def add_note(client: AsyncAerostack, body: str) -> int:
    """Store a note; return the number of notes so far."""
    await client.database.query(SCHEMA)
    await client.database.query("INSERT INTO notes (body) VALUES (?)", [body])
    await client.queue.enqueue("note.added", {"body": body})
    return (await client.cache.increment("notes:count")).value


async def list_notes(client: AsyncAerostack) -> list[str]:
    """Every note, oldest first."""
    await client.database.query(SCHEMA)
    rows = (await client.database.query("SELECT body FROM notes ORDER BY id")).results
    return [row["body"] for row in rows]


async def note_count(client: AsyncAerostack) -> int:
    """The running count (0 before the first note)."""
    found = await client.cache.get("notes:count")
    return int(found.value) if found.exists else 0


async def attach(client: AsyncAerostack, name: str, data: bytes) -> str:
    """Store an attachment; return its (signed) URL."""
    return (await client.storage.upload(f"attachments/{name}", data)).url


def add_note_blocking(client: Aerostack, body: str) -> int:
    """``add_note`` for code that is not async, on the blocking client."""
    client.database.query(SCHEMA)
    client.database.query("INSERT INTO notes (body) VALUES (?)", [body])
    return client.cache.increment("notes:count").value
