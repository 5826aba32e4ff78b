"""The package's constants in one place: servers, the emulator's default keys, the API's limits.

Every other module imports these from here (``_client``, ``compat``, ``cli``, ``testing``,
``resources``, ``_transport``), so a value is written once. The limits are the contract's
(``/work/shared/API.md``): checked before sending, so that a call the server would refuse fails
with a clear `InvalidRequestError` instead.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CACHE_MAX_DELETE_MANY",
    "CACHE_MAX_GET_MANY",
    "CACHE_MAX_KEY_BYTES",
    "CACHE_MAX_LIST_LIMIT",
    "CACHE_MAX_SET_MANY",
    "DATABASE_MAX_BATCH_QUERIES",
    "EMULATOR_API_KEY",
    "EMULATOR_PUBLIC_KEY",
    "ENVIRONMENTS",
    "LOCAL_BASE_URL",
    "MAX_IDEMPOTENCY_KEY",
    "MAX_JSON_DEPTH",
    "QUEUE_MAX_LIST_LIMIT",
    "SERVERS",
    "STORAGE_MAX_KEY_BYTES",
    "STORAGE_MAX_LIST_LIMIT",
    "STORAGE_MAX_URL_SECONDS",
]

LOCAL_BASE_URL: Final = "http://localhost:8787/v1"
"""The local emulator (``aerostack-async serve``)."""

ENVIRONMENTS: Final[dict[str, str]] = {
    "production": "https://api.aerostack.dev/v1",
    "local": LOCAL_BASE_URL,
}
"""Base URLs by ``environment`` name."""

SERVERS: Final[tuple[str, ...]] = ("https://api.aerostack.ai/v1", LOCAL_BASE_URL)
"""The seed SDK's servers, by ``server_idx``."""

EMULATOR_API_KEY: Final = "sk_local_aerostack"
"""The secret key ``aerostack-async serve`` accepts unless told otherwise."""

EMULATOR_PUBLIC_KEY: Final = "pk_local_aerostack"
"""The emulator's default public key."""

MAX_IDEMPOTENCY_KEY: Final = 255
MAX_JSON_DEPTH: Final = 512
CACHE_MAX_KEY_BYTES: Final = 512
CACHE_MAX_GET_MANY: Final = 100
CACHE_MAX_SET_MANY: Final = 100
CACHE_MAX_DELETE_MANY: Final = 500
CACHE_MAX_LIST_LIMIT: Final = 1000
QUEUE_MAX_LIST_LIMIT: Final = 200
DATABASE_MAX_BATCH_QUERIES: Final = 25
STORAGE_MAX_KEY_BYTES: Final = 1024
STORAGE_MAX_LIST_LIMIT: Final = 1000
STORAGE_MAX_URL_SECONDS: Final = 7 * 24 * 3600
