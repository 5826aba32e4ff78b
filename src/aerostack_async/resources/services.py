"""``client.services``: call the project's own services."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._options import CallOptions, Unpack
from ..models._base import decoder_for
from ..models.services import InvokeRequest, InvokeResult
from ._base import Resource, check_object, check_str, encode_body

__all__ = ["Services"]

_INVOKE = decoder_for(InvokeResult)


class Services(Resource):
    """Invoke a named project service with a JSON object."""

    __slots__ = ()

    async def invoke(
        self,
        service_name: str,
        data: Mapping[str, Any] | None = None,
        **options: Unpack[CallOptions],
    ) -> InvokeResult:
        """Call ``service_name`` with ``data`` (default ``{}``); ``result`` is what it returned."""
        body = encode_body(
            InvokeRequest(
                service_name=check_str("service_name", service_name),
                data={} if data is None else check_object("data", data),
            )
        )
        return await self._transport.request(
            "POST", "/services/invoke", body, _INVOKE, mutating=True, options=options
        )
