"""The emulator's route modules, one per API area; each exports ``MODULE``."""

from __future__ import annotations

from . import ai, auth, cache, database, queue, search, services, storage

ALL_MODULES = (
    auth.MODULE,
    database.MODULE,
    cache.MODULE,
    queue.MODULE,
    services.MODULE,
    storage.MODULE,
    ai.MODULE,
    search.MODULE,
)
