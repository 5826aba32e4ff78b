"""The emulator's start-up sweep of storage leftovers runs beside live uploads.

An upload's temp file is renamed away at any moment, so a file the sweep listed may be gone by
the time it looks at it. That must not stop the sweep (it once brought the whole emulator down).
A dangling symlink is a file that is listed but cannot be stat'ed: the same race, made certain.
"""

from __future__ import annotations

import time
from pathlib import Path

from aerostack_async.server._sqlite import SqliteStore
from aerostack_async.server._storage_store import ObjectStore


def test_sweep_skips_files_that_vanish_and_removes_old_leftovers(tmp_path: Path) -> None:
    db = SqliteStore(tmp_path / "platform.sqlite3")
    db.run_sync(lambda conn: conn.execute("CREATE TABLE storage_objects (file TEXT)"))
    store = ObjectStore(db, tmp_path / "storage")
    tmp = tmp_path / "storage" / "tmp"
    old = tmp / "old.part"
    old.write_bytes(b"left by a crash")
    (tmp / "vanished.part").symlink_to(tmp / "renamed-away")
    folder = tmp_path / "storage" / "objects" / "ab"
    folder.mkdir(parents=True)
    (folder / "abgone").symlink_to(folder / "deleted-meanwhile")
    unreferenced = folder / "ab0123"
    unreferenced.write_bytes(b"no row points here")

    store.sweep(time.time() + 60)

    assert not old.exists()
    assert not unreferenced.exists()
    db.close()
