"""Wire types of ``/services/invoke``."""

from __future__ import annotations

from typing import Any

import msgspec

from ._base import Model

__all__ = ["InvokeRequest", "InvokeResult"]


class InvokeRequest(Model, kw_only=True):
    """``/services/invoke``: call the project service ``service_name`` with ``data``."""

    service_name: str = msgspec.field(name="serviceName")
    data: dict[str, Any]


class InvokeResult(Model, kw_only=True):
    """Whether the service succeeded, and what it returned."""

    success: bool
    result: Any = None
