"""What every request handler can reach: settings, the SQLite stores, the storage folder.

One `ServerState` per project. The default project (the configured keys) lives at the
top of the data directory, as it always has; a project minted by a ``sk_local_<name>`` key
lives in ``projects/<name>/`` beside it (see ``_projects``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._config import ServerConfig
from ._idempotency import IdempotencyStore
from ._sqlite import SqliteStore

if TYPE_CHECKING:
    import httpx

    from ._projects import Projects

PROJECT_ID = "proj_local"
PROJECTS_DIR = "projects"


@dataclass(eq=False)
class ServerState:
    """One project's state in the emulator.

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
    # None for the default project; otherwise the name its keys carry (sk_local_<name>).
    project: str | None = None
    clock: Callable[[], float] = time.time
    # Set by the app's lifespan: one pooled client for services, queue consumer and AI upstream.
    http: httpx.AsyncClient | None = None
    # Every project of this emulator (set when the app is built).
    projects: Projects | None = field(default=None, repr=False)
    # Per-project helpers built on first use by route modules (the storage signer, …).
    extras: dict[str, Any] = field(default_factory=dict, repr=False)
    _temporary: bool = field(default=False, repr=False)
    # Stored responses for Idempotency-Key (raw-body handlers such as uploads use it directly).
    idempotency: IdempotencyStore = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.idempotency = IdempotencyStore(self.platform)

    @classmethod
    def open(cls, config: ServerConfig) -> ServerState:
        """Open (creating if needed) the data directory named by ``config``: the default project."""
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

    def project_dir(self, name: str) -> Path:
        """Where project ``name`` of this (default) project's emulator keeps its data."""
        return self.data_dir / PROJECTS_DIR / name

    def open_project(self, name: str) -> ServerState:
        """Open (creating if needed) project ``name``, beside this default project.

        Its secret is derived from the emulator's, so its tokens and signed URLs verify only
        in it.
        """
        data_dir = self.project_dir(name)
        storage_dir = data_dir / "storage"
        storage_dir.mkdir(parents=True, exist_ok=True)
        secret = hmac.new(self.jwt_secret, b"project\0" + name.encode(), hashlib.sha256).digest()
        return ServerState(
            config=self.config,
            data_dir=data_dir,
            platform=SqliteStore(data_dir / "platform.sqlite3"),
            database=SqliteStore(data_dir / "database.sqlite3"),
            storage_dir=storage_dir,
            jwt_secret=secret,
            project_id=f"{PROJECT_ID}_{name}",
            project=name,
            clock=self.clock,
            http=self.http,
            projects=self.projects,
        )

    def close(self, *, delete: bool = False) -> None:
        """Close the stores; a ``--memory`` data directory (or, with ``delete``, any) is deleted."""
        self.idempotency.close()  # rows still queued for the next trip are written first
        self.platform.close()
        self.database.close()
        if self._temporary or delete:
            shutil.rmtree(self.data_dir, ignore_errors=True)
