"""The emulator's shared behaviour: routing, keys, request ids, the error envelope."""

from __future__ import annotations

import httpx

from aerostack_async.testing import Emulator


def test_unknown_route_is_404_not_found_envelope(emulator: Emulator) -> None:
    response = httpx.post(
        emulator.base_url + "/no/such/route", headers={"X-Aerostack-Key": emulator.api_key}
    )
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
    assert response.headers["X-Request-ID"].startswith("req_")


def test_health_answers_without_a_key(emulator: Emulator) -> None:
    assert httpx.get(emulator.origin + "/health").json() == {"ok": True}
