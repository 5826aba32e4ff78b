"""Conformance (raw HTTP): bodies no JSON parser should be trusted with are a 400, never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from aerostack_async.testing import Emulator

MAX_JSON_DEPTH = 512  # the emulator's documented limit (docs/emulator.md)


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    headers = {"X-Aerostack-Key": emulator.api_key, "Content-Type": "application/json"}
    with httpx.Client(base_url=emulator.base_url, timeout=30, headers=headers) as client:
        yield client


def deep_body(depth: int) -> bytes:
    """A cache/set body whose nesting (the body's own object included) is ``depth`` levels."""
    inner = depth - 1
    return b'{"key": "deep", "value": ' + b"[" * inner + b"1" + b"]" * inner + b"}"


@pytest.mark.parametrize(
    "depth", [MAX_JSON_DEPTH + 1, 900, 1_000, 5_000, 100_000], ids=lambda d: f"depth-{d}"
)
@pytest.mark.parametrize("path", ["/cache/set", "/queue/enqueue", "/db/query"])
def test_a_body_nested_too_deep_is_400_validation_error(
    http: httpx.Client, path: str, depth: int
) -> None:
    response = http.post(path, content=deep_body(depth))
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["code"] == "VALIDATION_ERROR"
    assert "nested" in error["message"]


def test_a_body_nested_too_deep_with_an_idempotency_key_is_400(http: httpx.Client) -> None:
    response = http.post(
        "/cache/set", content=deep_body(5_000), headers={"Idempotency-Key": "deep-body"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


def test_a_body_at_the_depth_limit_is_accepted(http: httpx.Client) -> None:
    response = http.post("/cache/set", content=deep_body(MAX_JSON_DEPTH))
    assert response.status_code == 200, response.text
    got = http.post("/cache/get", json={"key": "deep"}).json()
    value = got["value"]
    for _ in range(MAX_JSON_DEPTH - 1):
        value = value[0]
    assert value == 1


def test_brackets_inside_strings_do_not_count(http: httpx.Client) -> None:
    response = http.post("/cache/set", json={"key": "brackets", "value": "[{" * 5_000})
    assert response.status_code == 200, response.text
