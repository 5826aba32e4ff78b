"""Conformance (raw HTTP): /services/invoke, built-in echo and --service forwarding."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aerostack_async.testing import Emulator, run_emulator

from .._loopback import Receiver, run_receiver


def service_reply(path: str, body: Any) -> tuple[int, Any]:
    if path == "/broken":
        return 503, {"error": "down for maintenance"}
    if path == "/text":
        return 200, b"plain words"
    return 200, {"received": body, "path": path}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def services() -> Iterator[tuple[httpx.Client, Receiver]]:
    with run_receiver(service_reply) as receiver:
        flags = [
            "--service", f"billing={receiver.url}/billing",
            "--service", f"broken={receiver.url}/broken",
            "--service", f"text={receiver.url}/text",
            "--service", f"gone=http://127.0.0.1:{closed_port()}/",
        ]  # fmt: skip
        with (
            run_emulator(*flags) as running,
            httpx.Client(
                base_url=running.base_url, headers={"X-Aerostack-Key": running.api_key}, timeout=30
            ) as client,
        ):
            yield client, receiver


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=emulator.base_url, headers={"X-Aerostack-Key": emulator.api_key}, timeout=30
    ) as client:
        yield client


def invoke(http: httpx.Client, name: Any, data: Any) -> httpx.Response:
    return http.post("/services/invoke", json={"serviceName": name, "data": data})


def test_echo_returns_data_as_result(http: httpx.Client) -> None:
    response = invoke(http, "echo", {"a": [1, {"b": None}]})
    assert response.status_code == 200
    assert response.json() == {"success": True, "result": {"a": [1, {"b": None}]}}


def test_unknown_service_is_404_not_found(http: httpx.Client) -> None:
    response = invoke(http, "no-such-service", {})
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("body", "fields"),
    [({}, ["data", "serviceName"]), ({"serviceName": "echo", "data": "x"}, ["data"])],
)
def test_bad_invoke_is_400(http: httpx.Client, body: Any, fields: list[str]) -> None:
    response = http.post("/services/invoke", json=body)
    assert response.status_code == 400
    assert sorted(response.json()["details"]["fieldErrors"]) == fields


def test_configured_service_gets_data_as_json_and_its_reply_is_the_result(
    services: tuple[httpx.Client, Receiver],
) -> None:
    http, receiver = services
    response = invoke(http, "billing", {"invoice": 42})
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["result"] == {"received": {"invoice": 42}, "path": "/billing"}
    received = receiver.wait_for(lambda item: item.path == "/billing")
    assert received.headers["Content-Type"] == "application/json"


def test_upstream_error_status_is_success_false_with_its_body(
    services: tuple[httpx.Client, Receiver],
) -> None:
    http, _ = services
    body = invoke(http, "broken", {}).json()
    assert body["success"] is False
    assert body["result"] == {"error": "down for maintenance"}


def test_upstream_reply_that_is_not_json_is_returned_as_text(
    services: tuple[httpx.Client, Receiver],
) -> None:
    http, _ = services
    assert invoke(http, "text", {}).json()["result"] == "plain words"


def test_unreachable_upstream_is_502_service_unavailable(
    services: tuple[httpx.Client, Receiver],
) -> None:
    http, _ = services
    response = invoke(http, "gone", {})
    assert response.status_code == 502
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"
    assert response.json()["details"]["serviceName"] == "gone"
