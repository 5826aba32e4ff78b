"""Data written to a --data-dir survives a restart of the emulator."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx

from aerostack_async.testing import run_emulator

from .._loopback import run_receiver


def test_users_cache_rows_and_jobs_survive_a_restart(tmp_path: Path) -> None:
    with (
        run_emulator(data_dir=tmp_path) as first,
        httpx.Client(
            base_url=first.base_url, headers={"X-Aerostack-Key": first.api_key}, timeout=30
        ) as http,
    ):
        user = http.post(
            "/auth/signup", json={"email": "keep@example.com", "password": "persisted!"}
        ).json()["user"]
        http.post("/cache/set", json={"key": "kept", "value": {"n": 1}})
        http.post("/cache/set", json={"key": "expiring", "value": 1, "ttl": 3600})
        http.post("/db/query", json={"sql": "CREATE TABLE notes (body TEXT)"})
        http.post("/db/query", json={"sql": "INSERT INTO notes VALUES (?)", "params": ["hi"]})
        job_id = http.post("/queue/enqueue", json={"type": "kept", "data": {"x": 1}}).json()[
            "jobId"
        ]

    with (
        run_emulator(data_dir=tmp_path) as second,
        httpx.Client(
            base_url=second.base_url, headers={"X-Aerostack-Key": second.api_key}, timeout=30
        ) as http,
    ):
        signin = http.post(
            "/auth/signin", json={"email": "keep@example.com", "password": "persisted!"}
        )
        assert signin.status_code == 200
        assert signin.json()["user"] == user
        assert http.post("/cache/get", json={"key": "kept"}).json() == {
            "exists": True,
            "value": {"n": 1},
        }
        listed = http.post("/cache/list", json={"prefix": "expiring"}).json()["keys"]
        assert listed[0]["expiration"] is not None
        rows = http.post("/db/query", json={"sql": "SELECT body FROM notes"}).json()["results"]
        assert rows == [{"body": "hi"}]
        job = http.post("/queue/job", json={"jobId": job_id}).json()["job"]
        assert job["data"] == {"x": 1}
        assert job["status"] == "queued"


def test_job_cut_off_mid_delivery_is_queued_again_after_a_restart(tmp_path: Path) -> None:
    release = threading.Event()

    def hang(path: str, body: Any) -> tuple[int, Any]:
        release.wait(30)
        return 200, {}

    with run_receiver(hang) as receiver:
        try:
            with (
                run_emulator("--queue-consumer", receiver.url, data_dir=tmp_path) as first,
                httpx.Client(
                    base_url=first.base_url, headers={"X-Aerostack-Key": first.api_key}, timeout=30
                ) as http,
            ):
                job_id = http.post("/queue/enqueue", json={"type": "slow", "data": {}}).json()[
                    "jobId"
                ]
                receiver.wait_for(lambda item: item.body["id"] == job_id)
                job = http.post("/queue/job", json={"jobId": job_id}).json()["job"]
                assert job["status"] == "processing"
        finally:
            release.set()

    with (
        run_emulator(data_dir=tmp_path) as second,
        httpx.Client(
            base_url=second.base_url, headers={"X-Aerostack-Key": second.api_key}, timeout=30
        ) as http,
    ):
        deadline = time.monotonic() + 20
        while (job := http.post("/queue/job", json={"jobId": job_id}).json()["job"])[
            "status"
        ] == "processing":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert job["status"] == "queued"
        assert job["attempts"] == 1


def test_idempotent_replay_survives_a_restart(tmp_path: Path) -> None:
    headers = {"Idempotency-Key": "enqueue-once"}
    body = {"type": "once", "data": {"n": 1}}
    with (
        run_emulator(data_dir=tmp_path) as first,
        httpx.Client(
            base_url=first.base_url, headers={"X-Aerostack-Key": first.api_key}, timeout=30
        ) as http,
    ):
        original = http.post("/queue/enqueue", json=body, headers=headers)
        assert original.status_code == 201

    with (
        run_emulator(data_dir=tmp_path) as second,
        httpx.Client(
            base_url=second.base_url, headers={"X-Aerostack-Key": second.api_key}, timeout=30
        ) as http,
    ):
        again = http.post("/queue/enqueue", json=body, headers=headers)
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.content == original.content
        jobs = http.post("/queue/jobs", json={"type": "once"}).json()["jobs"]
        assert len(jobs) == 1
