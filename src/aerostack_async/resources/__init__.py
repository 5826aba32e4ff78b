"""The API's resources, one class per area; each is thin: check arguments, send, decode."""

from __future__ import annotations

from ._base import Pages, Resource
from .ai import AI
from .authentication import Authentication
from .cache import Cache
from .database import Database
from .queue import Queue
from .search import Search
from .services import Services
from .storage import Storage

__all__ = [
    "AI",
    "Authentication",
    "Cache",
    "Database",
    "Pages",
    "Queue",
    "Resource",
    "Search",
    "Services",
    "Storage",
]
