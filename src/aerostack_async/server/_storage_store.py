"""Stored objects: files on disk under random names, their metadata in the platform database.

Every version of an object is its own immutable file (``objects/ab/ab12…``); the table
``storage_objects`` maps a key to its current file. Writes land in ``tmp/`` first and are
renamed into ``objects/`` only once complete, then the row is switched in one statement, so a
reader sees either the old object or the new one, never a partial file. Replaced and deleted
files are unlinked after the switch; a reader that already opened one keeps reading it.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import re
import secrets
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread

from ._sqlite import SqliteStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS storage_objects (
    key TEXT PRIMARY KEY,
    file TEXT NOT NULL,
    size INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    etag TEXT NOT NULL,
    last_modified REAL NOT NULL
) WITHOUT ROWID;
"""

DEFAULT_CONTENT_TYPE = "application/octet-stream"
# Anything that is safe to send back as a header value: visible ASCII and inner spaces. The
# vendor's schema allows any string, so "type/subtype" is not enforced.
_HEADER_VALUE = re.compile(r"[!-~]([ -~]*[!-~])?")
MAX_CONTENT_TYPE_LENGTH = 255


def valid_content_type(value: str) -> bool:
    """Whether ``value`` can be stored as a content type and sent back as a header."""
    return len(value) <= MAX_CONTENT_TYPE_LENGTH and _HEADER_VALUE.fullmatch(value) is not None


def guess_content_type(key: str) -> str:
    """The media type suggested by the key's extension, else ``application/octet-stream``."""
    guessed, _ = mimetypes.guess_type(key, strict=False)
    return guessed or DEFAULT_CONTENT_TYPE


def rfc3339(timestamp: float) -> str:
    """``2026-01-02T03:04:05.678Z``."""
    moment = datetime.fromtimestamp(timestamp, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object's metadata (``etag`` is the hex MD5 of the bytes, unquoted)."""

    key: str
    file: str
    size: int
    content_type: str
    etag: str
    last_modified: float

    def listing(self) -> dict[str, object]:
        """The object as ``/storage/list`` shows it."""
        return {
            "key": self.key,
            "size": self.size,
            "lastModified": rfc3339(self.last_modified),
            "contentType": self.content_type,
            "etag": self.etag,
        }


def _info(row: sqlite3.Row) -> ObjectInfo:
    return ObjectInfo(
        row["key"],
        row["file"],
        row["size"],
        row["content_type"],
        row["etag"],
        row["last_modified"],
    )


class ObjectStore:
    """The emulator's object storage under ``root`` (the data directory's ``storage/``)."""

    def __init__(self, db: SqliteStore, root: Path) -> None:
        self._db = db
        self._objects = root / "objects"
        self._tmp = root / "tmp"
        self._objects.mkdir(parents=True, exist_ok=True)
        self._tmp.mkdir(parents=True, exist_ok=True)

    def temp_path(self) -> Path:
        """A fresh path in ``tmp/`` for a file being written."""
        return self._tmp / f"{secrets.token_hex(16)}.part"

    def _path(self, file: str) -> Path:
        return self._objects / file[:2] / file

    def sweep(self, before: float) -> None:
        """Remove leftovers of a crash older than ``before``: temp files, unreferenced files."""
        for leftover in self._tmp.iterdir():
            if _older_than(leftover, before):
                leftover.unlink(missing_ok=True)
        referenced = {
            row[0]
            for row in self._db.run_sync(
                lambda conn: conn.execute("SELECT file FROM storage_objects").fetchall()
            )
        }
        for folder in self._objects.iterdir():
            for path in folder.iterdir():
                if path.name not in referenced and _older_than(path, before):
                    path.unlink(missing_ok=True)

    async def commit(
        self, key: str, temp: Path, *, size: int, content_type: str, etag: str, now: float
    ) -> ObjectInfo:
        """Make the complete file ``temp`` the object at ``key`` (replacing any old one)."""
        file = secrets.token_hex(16)
        info = ObjectInfo(key, file, size, content_type, etag, now)
        final = self._path(file)

        def switch(conn: sqlite3.Connection) -> str | None:
            final.parent.mkdir(exist_ok=True)
            os.replace(temp, final)
            try:
                old = conn.execute(
                    "SELECT file FROM storage_objects WHERE key = ?", (key,)
                ).fetchone()
                conn.execute(
                    "INSERT OR REPLACE INTO storage_objects VALUES (?, ?, ?, ?, ?, ?)",
                    (key, file, size, content_type, etag, now),
                )
            except BaseException:
                final.unlink(missing_ok=True)
                raise
            return None if old is None else str(old[0])

        old_file = await self._db.run(switch)
        if old_file is not None:
            await anyio.to_thread.run_sync(self._unlink, old_file)
        return info

    def _unlink(self, file: str) -> None:
        self._path(file).unlink(missing_ok=True)

    async def info(self, key: str) -> ObjectInfo | None:
        """The metadata of ``key``, or ``None``."""

        def read(conn: sqlite3.Connection) -> ObjectInfo | None:
            row = conn.execute("SELECT * FROM storage_objects WHERE key = ?", (key,)).fetchone()
            return None if row is None else _info(row)

        return await self._db.run(read)

    async def open(self, key: str) -> tuple[ObjectInfo, BinaryIO] | None:
        """The metadata of ``key`` and its file, open for reading; ``None`` if missing."""
        # A concurrent overwrite may unlink the file between the lookup and the open: look again.
        for _ in range(3):
            info = await self.info(key)
            if info is None:
                return None
            try:
                handle = await anyio.to_thread.run_sync(self._open_file, info.file)
            except FileNotFoundError:
                continue
            return info, handle
        return None

    def _open_file(self, file: str) -> BinaryIO:
        return self._path(file).open("rb")

    async def list(self, prefix: str, after: str | None, limit: int) -> list[ObjectInfo]:
        """Up to ``limit`` objects under ``prefix`` in key order, after the key ``after``."""

        def read(conn: sqlite3.Connection) -> list[ObjectInfo]:
            rows = conn.execute(
                "SELECT * FROM storage_objects WHERE key >= ? AND key > ?"
                " AND substr(key, 1, ?) = ? ORDER BY key LIMIT ?",
                (prefix, after or "", len(prefix), prefix, limit),
            ).fetchall()
            return [_info(row) for row in rows]

        return await self._db.run(read)

    async def delete(self, key: str) -> bool:
        """Remove ``key``; whether it existed."""

        def remove(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "DELETE FROM storage_objects WHERE key = ? RETURNING file", (key,)
            ).fetchone()
            return None if row is None else str(row[0])

        file = await self._db.run(remove)
        if file is None:
            return False
        await anyio.to_thread.run_sync(self._unlink, file)
        return True

    async def copy(self, source: str, dest: str, now: float) -> ObjectInfo | None:
        """Copy ``source`` to ``dest``; ``None`` if ``source`` does not exist."""
        for _ in range(3):
            info = await self.info(source)
            if info is None:
                return None
            temp = self.temp_path()
            try:
                await anyio.to_thread.run_sync(self._duplicate, info.file, temp)
            except FileNotFoundError:
                continue  # replaced or deleted meanwhile: look again
            try:
                return await self.commit(
                    dest,
                    temp,
                    size=info.size,
                    content_type=info.content_type,
                    etag=info.etag,
                    now=now,
                )
            finally:
                temp.unlink(missing_ok=True)
        return None

    def _duplicate(self, file: str, temp: Path) -> None:
        # Object files are never modified in place, so a hard link is a faithful copy.
        try:
            os.link(self._path(file), temp)
        except FileNotFoundError:
            raise
        except OSError:
            shutil.copyfile(self._path(file), temp)

    async def move(self, source: str, dest: str, now: float) -> ObjectInfo | None:
        """Rename ``source`` to ``dest`` (replacing ``dest``); ``None`` if ``source`` is missing."""

        def rename(conn: sqlite3.Connection) -> tuple[ObjectInfo | None, str | None]:
            row = conn.execute("SELECT * FROM storage_objects WHERE key = ?", (source,)).fetchone()
            if row is None:
                return None, None
            info = _info(row)
            if source == dest:
                return info, None
            old = conn.execute("SELECT file FROM storage_objects WHERE key = ?", (dest,)).fetchone()
            conn.execute("DELETE FROM storage_objects WHERE key IN (?, ?)", (source, dest))
            moved = ObjectInfo(dest, info.file, info.size, info.content_type, info.etag, now)
            conn.execute(
                "INSERT INTO storage_objects VALUES (?, ?, ?, ?, ?, ?)",
                (dest, moved.file, moved.size, moved.content_type, moved.etag, now),
            )
            return moved, None if old is None else str(old[0])

        moved, replaced = await self._db.transaction(rename)
        if replaced is not None:
            await anyio.to_thread.run_sync(self._unlink, replaced)
        return moved


def discard(path: Path) -> None:
    """Delete ``path`` if it exists (cleanup of an abandoned temp file)."""
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def _older_than(path: Path, before: float) -> bool:
    """Whether ``path`` was last written before ``before``; False once it is gone.

    The sweep runs beside live uploads, whose temp files are renamed away at any moment.
    """
    try:
        return path.stat().st_mtime < before
    except FileNotFoundError:
        return False
