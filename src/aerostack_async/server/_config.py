"""The emulator's settings: one frozen object built from the command line or by tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_API_KEY = "sk_local_aerostack"
DEFAULT_PUBLIC_KEY = "pk_local_aerostack"
DEFAULT_MAX_UPLOAD_BYTES = 5 * 2**30
DEFAULT_MAX_JSON_BYTES = 10 * 2**20


@dataclass(frozen=True)
class ServerConfig:
    """Everything the emulator can be told. Defaults match ``aerostack-async serve``."""

    host: str = "127.0.0.1"
    port: int = 8787
    data_dir: Path = Path(".aerostack")
    memory: bool = False
    api_key: str = DEFAULT_API_KEY
    public_key: str | None = DEFAULT_PUBLIC_KEY
    ai_upstream: str | None = None
    ai_token_delay_ms: float = 15.0
    rate_limit: float | None = None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_json_bytes: int = DEFAULT_MAX_JSON_BYTES
    services: dict[str, str] = field(default_factory=dict)
    queue_consumer: str | None = None
    queue_poll_interval: float = 0.05
    access_log: bool = False
    # The public URL prefix the emulator advertises in storage URLs; derived from host/port if None.
    public_url: str | None = None
    # Keys sk_local_<name> / pk_local_<name> mint project <name> on first use (see _projects).
    projects: bool = True

    @property
    def base_url(self) -> str:
        """The API base URL clients should use (``http://host:port/v1``)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"
