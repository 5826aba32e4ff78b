"""Conformance (raw HTTP): the /queue/* routes and delivery to a --queue-consumer."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from aerostack_async.testing import Emulator, run_emulator

from .._loopback import Receiver, run_receiver

RECORD_FIELDS = {"id", "type", "data", "status", "projectId", "createdAt"}


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=emulator.base_url, headers={"X-Aerostack-Key": emulator.api_key}, timeout=30
    ) as client:
        yield client


@pytest.fixture
def job_type() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


def consumer_reply(path: str, body: Any) -> tuple[int, Any]:
    # Jobs whose type starts with "fail" are refused by the consumer.
    return (500, {"error": "no"}) if body["type"].startswith("fail") else (200, {"ok": True})


@pytest.fixture(scope="module")
def consumer() -> Iterator[tuple[httpx.Client, Receiver]]:
    """An emulator that delivers jobs to a receiver on loopback."""
    with (
        run_receiver(consumer_reply) as receiver,
        run_emulator("--queue-consumer", receiver.url + "/jobs") as running,
        httpx.Client(
            base_url=running.base_url, headers={"X-Aerostack-Key": running.api_key}, timeout=30
        ) as client,
    ):
        yield client, receiver


def enqueue(http: httpx.Client, job_type: str, **body: Any) -> str:
    body.setdefault("data", {})
    response = http.post("/queue/enqueue", json={"type": job_type, **body})
    assert response.status_code == 201, response.text
    job_id: str = response.json()["jobId"]
    return job_id


def get_job(http: httpx.Client, job_id: str) -> Any:
    return http.post("/queue/job", json={"jobId": job_id}).json()["job"]


def wait_for_status(http: httpx.Client, job_id: str, status: str) -> Any:
    deadline = time.monotonic() + 20
    while (job := get_job(http, job_id))["status"] != status:
        assert time.monotonic() < deadline, f"job stayed {job['status']}"
        time.sleep(0.05)
    return job


def timestamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_enqueue_is_201_with_job_id_and_success(http: httpx.Client, job_type: str) -> None:
    response = http.post("/queue/enqueue", json={"type": job_type, "data": {"to": "a@b.c"}})
    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True
    assert isinstance(body["jobId"], str)


def test_job_returns_the_record(http: httpx.Client, job_type: str) -> None:
    job_id = enqueue(http, job_type, data={"n": [1, 2]})
    response = http.post("/queue/job", json={"jobId": job_id})
    assert response.status_code == 200
    body = response.json()
    assert body["exists"] is True
    job = body["job"]
    assert set(job) >= RECORD_FIELDS
    assert job["id"] == job_id
    assert job["type"] == job_type
    assert job["data"] == {"n": [1, 2]}
    assert job["status"] == "queued"
    assert isinstance(job["projectId"], str)
    assert timestamp(job["createdAt"]) > 0


def test_job_of_an_unknown_id_is_null_and_exists_false(http: httpx.Client) -> None:
    assert http.post("/queue/job", json={"jobId": "nope"}).json() == {"job": None, "exists": False}


def test_jobs_stay_queued_without_a_consumer(http: httpx.Client, job_type: str) -> None:
    job_id = enqueue(http, job_type)
    assert get_job(http, job_id)["status"] == "queued"


def test_delay_sets_run_at_delay_seconds_after_creation(http: httpx.Client, job_type: str) -> None:
    job = get_job(http, enqueue(http, job_type, delay=30))
    assert timestamp(job["runAt"]) - timestamp(job["createdAt"]) == pytest.approx(30, abs=0.01)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["type", "data"]),
        ({"type": "t", "data": [1]}, ["data"]),
        ({"type": 1, "data": {}}, ["type"]),
        ({"type": "t", "data": {}, "delay": -1}, ["delay"]),
        ({"type": "t", "data": {}, "delay": 1.5}, ["delay"]),
    ],
)
def test_bad_enqueue_is_400(http: httpx.Client, body: Any, fields: list[str]) -> None:
    response = http.post("/queue/enqueue", json=body)
    assert response.status_code == 400
    assert sorted(response.json()["details"]["fieldErrors"]) == sorted(fields)


def test_jobs_walks_every_page_in_enqueue_order(http: httpx.Client, job_type: str) -> None:
    ids = [enqueue(http, job_type, data={"i": i}) for i in range(12)]
    enqueue(http, job_type + "-other")
    seen: list[str] = []
    cursor = None
    while True:
        page = http.post("/queue/jobs", json={"type": job_type, "limit": 5, "cursor": cursor})
        assert page.status_code == 200
        body = page.json()
        seen += [job["id"] for job in body["jobs"]]
        if body["list_complete"]:
            assert body["cursor"] is None
            break
        cursor = body["cursor"]
    assert seen == ids


def test_jobs_filters_by_status(http: httpx.Client, job_type: str) -> None:
    kept = enqueue(http, job_type)
    cancelled = enqueue(http, job_type)
    http.post("/queue/cancel", json={"jobId": cancelled})
    body = http.post("/queue/jobs", json={"type": job_type, "status": "cancelled"}).json()
    assert [job["id"] for job in body["jobs"]] == [cancelled]
    body = http.post("/queue/jobs", json={"type": job_type, "status": "queued"}).json()
    assert [job["id"] for job in body["jobs"]] == [kept]


@pytest.mark.parametrize(
    "body", [{"status": "done"}, {"limit": 201}, {"limit": 0}, {"cursor": "%%%"}]
)
def test_bad_jobs_query_is_400(http: httpx.Client, body: Any) -> None:
    response = http.post("/queue/jobs", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


def test_cancel_of_a_queued_job_cancels_it(http: httpx.Client, job_type: str) -> None:
    job_id = enqueue(http, job_type)
    assert http.post("/queue/cancel", json={"jobId": job_id}).json()["success"] is True
    assert get_job(http, job_id)["status"] == "cancelled"


def test_cancel_of_a_terminal_job_is_success_false_with_a_note(
    http: httpx.Client, job_type: str
) -> None:
    job_id = enqueue(http, job_type)
    http.post("/queue/cancel", json={"jobId": job_id})
    body = http.post("/queue/cancel", json={"jobId": job_id}).json()
    assert body["success"] is False
    assert "cancelled" in body["note"]


def test_cancel_of_an_unknown_job_is_success_false(http: httpx.Client) -> None:
    body = http.post("/queue/cancel", json={"jobId": "nope"}).json()
    assert body["success"] is False
    assert isinstance(body["note"], str)


def test_consumer_receives_the_job_record_and_it_completes(
    consumer: tuple[httpx.Client, Receiver], job_type: str
) -> None:
    http, receiver = consumer
    job_id = enqueue(http, job_type, data={"hello": "world"})
    received = receiver.wait_for(lambda item: item.body["id"] == job_id)
    assert received.path == "/jobs"
    assert received.headers["Content-Type"] == "application/json"
    assert set(received.body) >= RECORD_FIELDS
    assert received.body["data"] == {"hello": "world"}
    job = wait_for_status(http, job_id, "completed")
    assert job["attempts"] == 1


def test_delayed_job_is_not_delivered_before_its_run_at(
    consumer: tuple[httpx.Client, Receiver], job_type: str
) -> None:
    http, receiver = consumer
    job_id = enqueue(http, job_type, delay=1)
    received = receiver.wait_for(lambda item: item.body["id"] == job_id)
    assert received.at >= timestamp(received.body["runAt"])
    delay = timestamp(received.body["runAt"]) - timestamp(received.body["createdAt"])
    assert delay == pytest.approx(1, abs=0.002)
    wait_for_status(http, job_id, "completed")


def test_job_refused_by_the_consumer_is_failed_with_an_error(
    consumer: tuple[httpx.Client, Receiver],
) -> None:
    http, _ = consumer
    job_id = enqueue(http, f"fail-{uuid.uuid4().hex[:8]}")
    job = wait_for_status(http, job_id, "failed")
    assert "500" in job["error"]


def test_cancelled_delayed_job_is_never_delivered(
    consumer: tuple[httpx.Client, Receiver], job_type: str
) -> None:
    http, receiver = consumer
    cancelled = enqueue(http, job_type, delay=2)
    http.post("/queue/cancel", json={"jobId": cancelled})
    later = enqueue(http, job_type, delay=3)
    receiver.wait_for(lambda item: item.body["id"] == later)
    assert all(item.body["id"] != cancelled for item in receiver.received)
    assert get_job(http, cancelled)["status"] == "cancelled"
