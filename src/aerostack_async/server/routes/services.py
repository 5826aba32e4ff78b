"""Emulator route: ``/services/invoke``.

The built-in ``echo`` service returns ``data`` as ``result``. ``--service NAME=URL`` forwards
``data`` as a JSON POST to URL and returns the reply as ``result``: ``success`` is true for a
2xx reply. An upstream that cannot be reached (or does not answer in time) is 502
``SERVICE_UNAVAILABLE``; a name that is neither configured nor built in is 404 ``NOT_FOUND``.
"""

from __future__ import annotations

from typing import Any

import httpx
import msgspec

from .._app import Call, Operation, RouteModule
from .._errors import ApiError, not_found

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def _reply_value(response: httpx.Response) -> Any:
    """The upstream reply as JSON; ``null`` when empty; the text when it is not JSON."""
    if not response.content:
        return None
    try:
        return _decode(response.content)
    except msgspec.DecodeError:
        return response.text


async def invoke(call: Call) -> Any:
    """Call a named service with ``data``."""
    body = call.body
    name = body.string("serviceName", required=True)
    data = body.object("data", required=True)
    body.check()
    url = call.state.config.services.get(name)
    if url is None:
        if name == "echo":
            return {"success": True, "result": data}
        raise not_found(f"No service named {name!r} (start the emulator with --service NAME=URL)")
    assert call.state.http is not None
    try:
        response = await call.state.http.post(
            url,
            content=_encode(data),
            headers={"Content-Type": "application/json", "X-Request-ID": call.request_id},
        )
    except httpx.HTTPError as exc:
        raise ApiError(
            502,
            "SERVICE_UNAVAILABLE",
            f"Service {name!r} could not be reached",
            {"serviceName": name, "reason": f"{type(exc).__name__}: {exc}"},
        ) from None
    return {
        "success": response.is_success,
        "result": _reply_value(response),
        "status": response.status_code,
    }


MODULE = RouteModule(operations=[Operation("/services/invoke", invoke)])
