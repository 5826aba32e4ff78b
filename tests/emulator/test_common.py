"""Conformance (raw HTTP): keys, the error envelope, request ids, body limits, idempotency, 429."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from aerostack_async.testing import Emulator, run_emulator


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.base_url, timeout=30) as client:
        yield client


def secret(emulator: Emulator) -> dict[str, str]:
    return {"X-Aerostack-Key": emulator.api_key}


def test_missing_key_is_401_auth_invalid_key(http: httpx.Client) -> None:
    response = http.post("/cache/get", json={"key": "k"})
    assert response.status_code == 401
    assert response.json()["code"] == "AUTH_INVALID_KEY"


def test_unknown_key_is_401_auth_invalid_key(http: httpx.Client) -> None:
    response = http.post("/cache/get", json={"key": "k"}, headers={"X-Aerostack-Key": "sk_nope"})
    assert response.status_code == 401
    assert response.json()["code"] == "AUTH_INVALID_KEY"


def test_bearer_authorization_is_accepted(http: httpx.Client, emulator: Emulator) -> None:
    response = http.post(
        "/cache/get", json={"key": "k"}, headers={"Authorization": f"Bearer {emulator.api_key}"}
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/cache/get", {"key": "k"}),
        ("/cache/set", {"key": "k", "value": 1}),
        ("/cache/flush", {}),
        ("/db/query", {"sql": "SELECT 1"}),
        ("/db/batch", {"queries": [{"sql": "SELECT 1"}]}),
    ],
)
def test_public_key_is_403_forbidden_on_secret_routes(
    http: httpx.Client, emulator: Emulator, path: str, body: dict[str, object]
) -> None:
    assert emulator.public_key is not None
    response = http.post(path, json=body, headers={"X-Aerostack-Key": emulator.public_key})
    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/queue/enqueue", {"type": "public-key", "data": {}}, 201),
        ("/services/invoke", {"serviceName": "echo", "data": {}}, 200),
        ("/auth/signin", {"email": "nobody@example.com", "password": "whatever1"}, 401),
    ],
)
def test_public_key_is_accepted_on_auth_queue_and_services(
    http: httpx.Client, emulator: Emulator, path: str, body: dict[str, object], status: int
) -> None:
    assert emulator.public_key is not None
    response = http.post(path, json=body, headers={"X-Aerostack-Key": emulator.public_key})
    assert response.status_code == status


def test_every_response_has_a_request_id(http: httpx.Client, emulator: Emulator) -> None:
    ok = http.post("/cache/get", json={"key": "k"}, headers=secret(emulator))
    failed = http.post("/cache/get", json={}, headers=secret(emulator))
    unauthorized = http.post("/cache/get", json={"key": "k"})
    ids = {r.headers["X-Request-ID"] for r in (ok, failed, unauthorized)}
    assert len(ids) == 3
    assert all(request_id.startswith("req_") for request_id in ids)


def test_error_envelope_has_code_message_and_field_errors(
    http: httpx.Client, emulator: Emulator
) -> None:
    response = http.post("/cache/set", json={"key": 5, "ttl": "x"}, headers=secret(emulator))
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert isinstance(body["message"], str)
    assert set(body["details"]["fieldErrors"]) == {"key", "value", "ttl"}


def test_body_that_is_not_json_is_400_validation_error(
    http: httpx.Client, emulator: Emulator
) -> None:
    response = http.post(
        "/cache/get",
        content=b"{not json",
        headers={**secret(emulator), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


def test_body_that_is_not_an_object_is_400_validation_error(
    http: httpx.Client, emulator: Emulator
) -> None:
    response = http.post("/cache/get", json=["key"], headers=secret(emulator))
    assert response.status_code == 400
    assert response.json()["details"]["fieldErrors"] == {"body": ["Expected object"]}


def test_json_body_over_the_limit_is_413(http: httpx.Client, emulator: Emulator) -> None:
    value = "x" * (11 * 2**20)
    response = http.post(
        "/cache/set", json={"key": "big", "value": value}, headers=secret(emulator)
    )
    assert response.status_code == 413
    assert response.json()["code"] == "VALIDATION_ERROR"
    after = http.post("/cache/get", json={"key": "big"}, headers=secret(emulator))
    assert after.json()["exists"] is False


def test_get_on_a_post_route_is_405(http: httpx.Client, emulator: Emulator) -> None:
    response = http.get("/cache/get", headers=secret(emulator))
    assert response.status_code == 405


def test_idempotent_repeat_replays_identical_bytes(http: httpx.Client, emulator: Emulator) -> None:
    headers = {**secret(emulator), "Idempotency-Key": str(uuid.uuid4())}
    body = {"type": f"idem-{uuid.uuid4()}", "data": {"n": 1}}
    first = http.post("/queue/enqueue", json=body, headers=headers)
    second = http.post("/queue/enqueue", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers


def test_idempotent_repeat_enqueues_the_job_once(http: httpx.Client, emulator: Emulator) -> None:
    headers = {**secret(emulator), "Idempotency-Key": str(uuid.uuid4())}
    job_type = f"idem-{uuid.uuid4()}"
    for _ in range(3):
        http.post("/queue/enqueue", json={"type": job_type, "data": {}}, headers=headers)
    jobs = http.post("/queue/jobs", json={"type": job_type}, headers=secret(emulator)).json()
    assert len(jobs["jobs"]) == 1


def test_idempotency_key_reused_with_a_different_body_is_422(
    http: httpx.Client, emulator: Emulator
) -> None:
    headers = {**secret(emulator), "Idempotency-Key": str(uuid.uuid4())}
    http.post("/queue/enqueue", json={"type": "a", "data": {}}, headers=headers)
    response = http.post("/queue/enqueue", json={"type": "b", "data": {}}, headers=headers)
    assert response.status_code == 422
    assert response.json()["code"] == "VALIDATION_ERROR"


def test_idempotency_key_longer_than_255_is_400(http: httpx.Client, emulator: Emulator) -> None:
    headers = {**secret(emulator), "Idempotency-Key": "k" * 256}
    response = http.post("/queue/enqueue", json={"type": "a", "data": {}}, headers=headers)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["details"]["fieldErrors"]


def test_idempotent_signup_replays_instead_of_409(http: httpx.Client, emulator: Emulator) -> None:
    headers = {**secret(emulator), "Idempotency-Key": str(uuid.uuid4())}
    body = {"email": f"{uuid.uuid4()}@example.com", "password": "password123"}
    first = http.post("/auth/signup", json=body, headers=headers)
    second = http.post("/auth/signup", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json()["user"]["id"] == first.json()["user"]["id"]


def test_rate_limit_is_429_with_retry_after() -> None:
    with (
        run_emulator("--rate-limit", "2") as limited,
        httpx.Client(base_url=limited.base_url, timeout=30) as client,
    ):
        headers = {"X-Aerostack-Key": limited.api_key}
        statuses = [
            client.post("/cache/get", json={"key": "k"}, headers=headers) for _ in range(20)
        ]
    limited_responses = [r for r in statuses if r.status_code == 429]
    assert limited_responses
    response = limited_responses[0]
    assert response.json()["code"] == "RATE_LIMIT_EXCEEDED"
    assert int(response.headers["Retry-After"]) >= 1


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/db/query", {"sql": None}, "sql"),
        ("/queue/enqueue", {"type": None, "data": {}}, "type"),
        ("/auth/signin", {"email": "a@b.co", "password": None}, "password"),
        ("/cache/get", {"key": None}, "key"),
    ],
)
def test_required_field_sent_as_null_is_400(
    http: httpx.Client, emulator: Emulator, path: str, body: dict[str, object], field: str
) -> None:
    response = http.post(path, json=body, headers=secret(emulator))
    assert response.status_code == 400
    assert response.json()["details"]["fieldErrors"] == {field: ["Required"]}


@pytest.mark.parametrize("path", ["/cache/nope", "/v2/cache/get", "/"])
def test_unknown_route_is_404_not_found(http: httpx.Client, emulator: Emulator, path: str) -> None:
    response = http.post(emulator.origin + ("/v1" if path.startswith("/cache") else "") + path)
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
    assert response.headers["X-Request-ID"].startswith("req_")
