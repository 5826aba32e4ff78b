"""The local Aerostack emulator (install the ``server`` extra): every route of the API, for real.

Start it with ``aerostack-async serve`` or ``python -m aerostack_async.server``; build the ASGI
app yourself with `create_app()`.
"""

from __future__ import annotations

from ._app import create_app
from ._config import ServerConfig

__all__ = ["ServerConfig", "create_app"]
