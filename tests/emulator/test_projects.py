"""Projects (raw HTTP): each sk_local_<name>/pk_local_<name> key pair scopes all of its data."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from aerostack_async.testing import Emulator, Project, run_emulator

from .._loopback import run_receiver


def fresh(emulator: Emulator) -> Project:
    return Project.fresh(emulator.base_url)


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.base_url, timeout=30) as client:
        yield client


def as_key(key: str) -> dict[str, str]:
    return {"X-Aerostack-Key": key}


def fill(http: httpx.Client, key: str, tag: str) -> None:
    """Write one of everything into the project of ``key``."""
    headers = as_key(key)
    assert http.post("/cache/set", json={"key": "shared", "value": tag}, headers=headers).is_success
    assert http.post(
        "/db/query", json={"sql": "CREATE TABLE IF NOT EXISTS notes (body TEXT)"}, headers=headers
    ).is_success
    http.post(
        "/db/query", json={"sql": "INSERT INTO notes VALUES (?)", "params": [tag]}, headers=headers
    )
    assert http.post(
        "/queue/enqueue", json={"type": "shared", "data": {"tag": tag}}, headers=headers
    ).is_success
    signup = http.post(
        "/auth/signup",
        json={"email": "same@example.com", "password": "password-1"},
        headers=headers,
    )
    assert signup.status_code == 201, signup.text
    upload = http.post(
        "/storage/upload",
        files={"file": ("a.txt", tag.encode(), "text/plain")},
        data={"key": "shared.txt"},
        headers=headers,
    )
    assert upload.is_success, upload.text
    assert http.post(
        "/ai/search/ingest", json={"id": "doc", "type": "note", "content": tag}, headers=headers
    ).is_success


def snapshot(http: httpx.Client, key: str) -> dict[str, object]:
    """What the project of ``key`` holds, as seen through every area of the API."""
    headers = as_key(key)
    tables = http.post(
        "/db/query",
        json={"sql": "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'notes'"},
        headers=headers,
    ).json()["results"]
    return {
        "cache": http.post("/cache/get", json={"key": "shared"}, headers=headers).json(),
        "db": http.post(
            "/db/query", json={"sql": "SELECT body FROM notes"}, headers=headers
        ).json()["results"]
        if tables
        else None,
        "jobs": [
            job["data"]
            for job in http.post("/queue/jobs", json={"type": "shared"}, headers=headers).json()[
                "jobs"
            ]
        ],
        "storage": http.post("/storage/get", json={"key": "shared.txt"}, headers=headers).content
        if http.post("/storage/exists", json={"key": "shared.txt"}, headers=headers).json()[
            "exists"
        ]
        else None,
        "search": http.post("/ai/search/get", json={"id": "doc"}, headers=headers).json()["exists"],
        "count": http.post("/ai/search/count", json={}, headers=headers).json()["count"],
    }


def test_two_projects_and_the_default_one_share_nothing(
    http: httpx.Client, emulator: Emulator
) -> None:
    first, second = fresh(emulator), fresh(emulator)
    default_before = snapshot(http, emulator.api_key)
    fill(http, first.api_key, "first")
    assert snapshot(http, second.api_key) == {
        "cache": {"exists": False, "value": None},
        "db": None,
        "jobs": [],
        "storage": None,
        "search": False,
        "count": 0,
    }
    fill(http, second.api_key, "second")
    assert snapshot(http, first.api_key) == {
        "cache": {"exists": True, "value": "first"},
        "db": [{"body": "first"}],
        "jobs": [{"tag": "first"}],
        "storage": b"first",
        "search": True,
        "count": 1,
    }
    assert snapshot(http, second.api_key)["cache"] == {"exists": True, "value": "second"}
    # The same e-mail signed up in both: users are per project too.
    signin = http.post(
        "/auth/signin",
        json={"email": "same@example.com", "password": "password-1"},
        headers=as_key(first.api_key),
    )
    assert signin.status_code == 200
    assert snapshot(http, emulator.api_key) == default_before


def test_a_project_s_public_key_reaches_it_as_a_public_key(
    http: httpx.Client, emulator: Emulator
) -> None:
    project = fresh(emulator)
    enqueued = http.post(
        "/queue/enqueue", json={"type": "by-pk", "data": {}}, headers=as_key(project.public_key)
    )
    assert enqueued.status_code == 201
    job_id = enqueued.json()["jobId"]
    found = http.post("/queue/job", json={"jobId": job_id}, headers=as_key(project.api_key))
    assert found.json()["exists"] is True
    assert found.json()["job"]["projectId"] == f"proj_local_{project.name}"
    forbidden = http.post("/cache/get", json={"key": "k"}, headers=as_key(project.public_key))
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "FORBIDDEN"


def test_tokens_name_their_project(http: httpx.Client, emulator: Emulator) -> None:
    project = fresh(emulator)
    answer = http.post(
        "/auth/signup",
        json={"email": "who@example.com", "password": "password-1"},
        headers=as_key(project.api_key),
    ).json()
    claims = jwt.decode(answer["token"], options={"verify_signature": False})
    assert claims["projectId"] == f"proj_local_{project.name}"


@pytest.mark.parametrize(
    "key",
    [
        "sk_local_",
        "sk_local_Upper",
        "sk_local_-leading-dash",
        "sk_local_dot.ted",
        "sk_local_" + "a" * 64,
        "pk_local_sp ace",
        "sk_locale",
    ],
)
def test_keys_that_name_no_valid_project_are_401(http: httpx.Client, key: str) -> None:
    response = http.post("/cache/get", json={"key": "k"}, headers=as_key(key))
    assert response.status_code == 401
    assert response.json()["code"] == "AUTH_INVALID_KEY"


def test_signed_urls_are_served_by_their_own_project(
    http: httpx.Client, emulator: Emulator
) -> None:
    project, other = fresh(emulator), fresh(emulator)
    for owner in (project, other):
        http.post(
            "/storage/upload",
            files={"file": ("a.txt", owner.name.encode(), "text/plain")},
            data={"key": "same-key.txt"},
            headers=as_key(owner.api_key),
        ).raise_for_status()
    url = http.post(
        "/storage/getUrl", json={"key": "same-key.txt"}, headers=as_key(project.api_key)
    ).json()["url"]
    assert f"project={project.name}" in url
    served = http.get(url)
    assert served.status_code == 200
    assert served.content == project.name.encode()
    # The signature was made with the project's own secret: another project refuses it.
    swapped = http.get(url.replace(f"project={project.name}", f"project={other.name}"))
    assert swapped.status_code == 403
    unknown = http.get(url.replace(f"project={project.name}", "project=nobody-here"))
    assert unknown.status_code == 403
    assert project.drop() is True
    assert http.get(url).status_code == 403


def test_dropping_a_project_deletes_its_data_and_the_key_mints_it_again(
    http: httpx.Client, emulator: Emulator
) -> None:
    project = fresh(emulator)
    fill(http, project.api_key, "gone")
    assert project.drop() is True
    assert snapshot(http, project.api_key)["cache"] == {"exists": False, "value": None}
    assert snapshot(http, project.api_key)["count"] == 0
    assert project.drop() is True  # the snapshot minted it again
    assert project.drop() is False


def test_the_default_project_cannot_be_dropped_and_bad_keys_are_401(
    http: httpx.Client, emulator: Emulator
) -> None:
    origin = emulator.origin
    default = http.delete(f"{origin}/_emulator/project", headers=as_key(emulator.api_key))
    assert default.status_code == 403
    assert default.json()["code"] == "FORBIDDEN"
    assert "X-Request-ID" in default.headers
    for headers in ({}, as_key("sk_nope")):
        refused = http.delete(f"{origin}/_emulator/project", headers=headers)
        assert refused.status_code == 401
        assert refused.json()["code"] == "AUTH_INVALID_KEY"


def test_single_project_accepts_only_the_configured_keys() -> None:
    with (
        run_emulator("--single-project") as single,
        httpx.Client(base_url=single.base_url, timeout=30) as http,
    ):
        minted = http.post("/cache/get", json={"key": "k"}, headers=as_key("sk_local_other"))
        assert minted.status_code == 401
        configured = http.post("/cache/get", json={"key": "k"}, headers=as_key(single.api_key))
        assert configured.status_code == 200


def test_rate_limits_are_per_key_so_one_project_cannot_starve_another() -> None:
    with (
        run_emulator("--rate-limit", "2") as limited,
        httpx.Client(base_url=limited.base_url, timeout=30) as http,
    ):
        busy, calm = (f"sk_local_rate{secrets.token_hex(4)}" for _ in range(2))
        statuses = [
            http.post("/cache/get", json={"key": "k"}, headers=as_key(busy)).status_code
            for _ in range(6)
        ]
        assert 429 in statuses
        assert http.post("/cache/get", json={"key": "k"}, headers=as_key(calm)).status_code == 200


def test_a_project_s_data_and_signed_urls_survive_a_restart(tmp_path: Path) -> None:
    key = "sk_local_kept"
    with (
        run_emulator(data_dir=tmp_path) as first,
        httpx.Client(base_url=first.base_url, timeout=30) as http,
    ):
        http.post(
            "/cache/set", json={"key": "kept", "value": 1}, headers=as_key(key)
        ).raise_for_status()
        http.post(
            "/storage/upload",
            files={"file": ("a.txt", b"kept", "text/plain")},
            data={"key": "kept.txt"},
            headers=as_key(key),
        ).raise_for_status()
        url_path = (
            http.post("/storage/getUrl", json={"key": "kept.txt"}, headers=as_key(key))
            .json()["url"]
            .split("/v1", 1)[1]
        )
    assert (tmp_path / "projects" / "kept" / "platform.sqlite3").is_file()
    with (
        run_emulator(data_dir=tmp_path) as second,
        httpx.Client(base_url=second.base_url, timeout=30) as http,
    ):
        # The URL first: the project is opened from disk for it, not minted empty.
        assert http.get(url_path).content == b"kept"
        kept = http.post("/cache/get", json={"key": "kept"}, headers=as_key(key)).json()
        assert kept == {"exists": True, "value": 1}
        default = http.post("/cache/get", json={"key": "kept"}, headers=as_key(second.api_key))
        assert default.json()["exists"] is False


def test_every_project_delivers_its_own_jobs_to_the_queue_consumer() -> None:
    with (
        run_receiver(lambda path, body: (200, {})) as receiver,
        run_emulator("--queue-consumer", receiver.url + "/jobs") as running,
        httpx.Client(base_url=running.base_url, timeout=30) as http,
    ):
        first, second = Project.fresh(running.base_url), Project.fresh(running.base_url)
        ids = {}
        for project in (first, second):
            answer = http.post(
                "/queue/enqueue",
                json={"type": "delivered", "data": {"from": project.name}},
                headers=as_key(project.api_key),
            )
            ids[project.name] = answer.json()["jobId"]
        for project in (first, second):
            got = receiver.wait_for(lambda received, p=project: received.body["id"] == ids[p.name])
            assert got.body["projectId"] == f"proj_local_{project.name}"
            assert got.body["data"] == {"from": project.name}
            done = http.post(
                "/queue/job", json={"jobId": ids[project.name]}, headers=as_key(project.api_key)
            ).json()["job"]
            for _ in range(100):
                if done["status"] == "completed":
                    break
                time.sleep(0.05)
                done = http.post(
                    "/queue/job", json={"jobId": ids[project.name]}, headers=as_key(project.api_key)
                ).json()["job"]
            assert done["status"] == "completed"
        # A dropped project's delivery loop stops with it; the other project's goes on.
        assert first.drop() is True
        later = http.post(
            "/queue/enqueue", json={"type": "later", "data": {}}, headers=as_key(second.api_key)
        ).json()["jobId"]
        receiver.wait_for(lambda received: received.body["id"] == later)
