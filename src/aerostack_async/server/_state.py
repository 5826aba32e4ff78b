"""What every request handler can reach: settings, the SQLite stores, the storage folder."""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ._config import ServerConfig
from ._idempotency import IdempotencyStore
from ._sqlite import SqliteStore

if TYPE_CHECKING:
    import httpx

PROJECT_ID = "proj_local"


@dataclass
class ServerState:
    """The emulator's state for one process.

    ``platform`` holds users, cache, queue, search and idempotency records; ``database`` is the
    project's own SQL database (a separate file, so user SQL can never touch platform tables).
    """

    config: ServerConfig
    data_dir: Path
    platform: SqliteStore
    database: SqliteStore
    storage_dir: Path
    jwt_secret: bytes
    project_id: str = PROJECT_ID
    clock: Callable[[], float] = time.time
    # Set by the app's lifespan: one pooled client for services, queue consumer and AI upstream.
    http: httpx.AsyncClient | None = None
    _temporary: bool = field(default=False, repr=False)
    # Stored responses for Idempotency-Key (raw-body handlers such as uploads use it directly).
    idempotency: IdempotencyStore = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.idempotency = IdempotencyStore(self.platform)

    @classmethod
    def open(cls, config: ServerConfig) -> ServerState:
        """Open (creating if needed) the data directory named by ``config``."""
        if config.memory:
            data_dir = Path(tempfile.mkdtemp(prefix="aerostack-emulator-"))
        else:
            data_dir = config.data_dir.resolve()
            data_dir.mkdir(parents=True, exist_ok=True)
        storage_dir = data_dir / "storage"
        storage_dir.mkdir(exist_ok=True)
        secret_file = data_dir / "jwt-secret"
        if not secret_file.exists():
            secret_file.write_bytes(secrets.token_bytes(32))
            secret_file.chmod(0o600)
        return cls(
            config=config,
            data_dir=data_dir,
            platform=SqliteStore(data_dir / "platform.sqlite3"),
            database=SqliteStore(data_dir / "database.sqlite3"),
            storage_dir=storage_dir,
            jwt_secret=secret_file.read_bytes(),
            _temporary=config.memory,
        )

    def close(self) -> None:
        """Close the stores; a ``--memory`` data directory is deleted."""
        self.platform.close()
        self.database.close()
        if self._temporary:
            shutil.rmtree(self.data_dir, ignore_errors=True)
