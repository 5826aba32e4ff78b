"""Conformance of the emulator's storage routes, spoken as raw HTTP (httpx, not the client)."""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from aerostack_async.server._storage_keys import key_problem
from aerostack_async.testing import Emulator, run_emulator

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=emulator.base_url, headers={"X-Aerostack-Key": emulator.api_key}, timeout=30
    ) as http:
        yield http


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


async def upload(
    client: httpx.AsyncClient,
    key: str,
    data: bytes,
    *,
    filename: str = "blob.bin",
    part_type: str | None = None,
    content_type: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    file: tuple[Any, ...] = (filename, data) if part_type is None else (filename, data, part_type)
    fields = {"key": key}
    if content_type is not None:
        fields["contentType"] = content_type
    return await client.post(
        "/storage/upload", files={"file": file}, data=fields, headers=headers or {}
    )


async def count_objects(client: httpx.AsyncClient) -> int:
    total, cursor = 0, None
    while True:
        page = (await client.post("/storage/list", json={"limit": 1000, "cursor": cursor})).json()
        total += len(page["objects"])
        cursor = page["cursor"]
        if not page["truncated"]:
            return total


# -- upload and get --


async def test_upload_then_get_returns_the_same_bytes(client: httpx.AsyncClient) -> None:
    data = os.urandom(300_000)
    key = unique("round-trip") + "/file.bin"
    response = await upload(client, key, data)
    assert response.status_code == 200
    assert response.json()["url"].startswith("http://")

    got = await client.post("/storage/get", json={"key": key})
    assert got.status_code == 200
    assert hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()


async def test_get_sends_content_length_etag_and_stored_content_type(
    client: httpx.AsyncClient,
) -> None:
    data = b"<p>hello</p>" * 1000
    key = unique("headers") + "/page"
    await upload(client, key, data, content_type="text/html")

    got = await client.post("/storage/get", json={"key": key})
    assert got.headers["content-length"] == str(len(data))
    assert got.headers["etag"] == '"' + hashlib.md5(data).hexdigest() + '"'
    assert got.headers["content-type"] == "text/html"


async def test_metadata_reports_size_type_etag_and_rfc3339_time(
    client: httpx.AsyncClient,
) -> None:
    data = b"x" * 1234
    key = unique("meta") + "/a.txt"
    await upload(client, key, data)

    meta = (await client.post("/storage/getMetadata", json={"key": key})).json()
    assert meta["exists"] is True
    assert meta["size"] == 1234
    assert meta["contentType"] == "text/plain"
    assert meta["etag"] == hashlib.md5(data).hexdigest()
    assert meta["lastModified"].endswith("Z")
    assert meta["lastModified"][10] == "T"


async def test_empty_file_is_stored(client: httpx.AsyncClient) -> None:
    key = unique("empty")
    assert (await upload(client, key, b"")).status_code == 200
    got = await client.post("/storage/get", json={"key": key})
    assert got.content == b""
    assert got.headers["content-length"] == "0"


async def test_upload_replaces_an_existing_object(client: httpx.AsyncClient) -> None:
    key = unique("replace")
    await upload(client, key, b"first version")
    await upload(client, key, b"second")
    assert (await client.post("/storage/get", json={"key": key})).content == b"second"


@pytest.mark.parametrize(
    ("filename_key", "part_type", "field_type", "expected"),
    [
        ("a.png", "image/gif", "image/webp", "image/webp"),
        ("a.png", "image/gif", None, "image/gif"),
        ("a.png", None, None, "image/png"),
        ("no-extension", None, None, "application/octet-stream"),
    ],
    ids=["contentType-part-wins", "file-part-type-next", "guessed-from-key", "octet-stream-last"],
)
async def test_content_type_precedence(
    client: httpx.AsyncClient,
    filename_key: str,
    part_type: str | None,
    field_type: str | None,
    expected: str,
) -> None:
    key = unique("ctype") + "/" + filename_key
    # httpx would guess a part type from the filename; a neutral filename keeps it out.
    await upload(
        client, key, b"bytes", filename="upload", part_type=part_type, content_type=field_type
    )
    meta = (await client.post("/storage/getMetadata", json={"key": key})).json()
    assert meta["contentType"] == expected


async def test_key_part_may_follow_the_file_part(client: httpx.AsyncClient) -> None:
    key = unique("late-key") + "/data.json"
    body = (
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="file"; filename="d.json"\r\n\r\n'
        b'{"late": true}\r\n'
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="key"\r\n\r\n' + key.encode() + b"\r\n"
        b"--XyZ--\r\n"
    )
    response = await client.post(
        "/storage/upload",
        content=body,
        headers={"Content-Type": "multipart/form-data; boundary=XyZ"},
    )
    assert response.status_code == 200
    assert (await client.post("/storage/get", json={"key": key})).content == b'{"late": true}'


async def test_upload_url_is_fetchable_without_an_api_key(
    client: httpx.AsyncClient,
) -> None:
    key = unique("url") + "/hello.txt"
    url = (await upload(client, key, b"public bytes")).json()["url"]
    async with httpx.AsyncClient() as anonymous:
        fetched = await anonymous.get(url)
    assert fetched.status_code == 200
    assert fetched.content == b"public bytes"


async def test_get_url_is_fetchable_without_an_api_key(client: httpx.AsyncClient) -> None:
    key = unique("get-url") + "/report.csv"
    await upload(client, key, b"a,b\n1,2\n")
    url = (await client.post("/storage/getUrl", json={"key": key})).json()["url"]
    async with httpx.AsyncClient() as anonymous:
        fetched = await anonymous.get(url)
    assert fetched.content == b"a,b\n1,2\n"
    assert fetched.headers["content-type"] == "text/csv"


async def test_get_url_stops_working_once_it_expires(client: httpx.AsyncClient) -> None:
    key = unique("expiring-url") + "/note.txt"
    await upload(client, key, b"soon gone")
    answer = (await client.post("/storage/getUrl", json={"key": key, "expiresIn": 1})).json()
    async with httpx.AsyncClient() as anonymous:
        assert (await anonymous.get(answer["url"])).content == b"soon gone"
        # Generous margin over the 1 s lifetime: expiry is checked in whole seconds.
        deadline = time.monotonic() + 10
        status = 200
        while status == 200 and time.monotonic() < deadline:
            await anyio.sleep(0.5)
            status = (await anonymous.get(answer["url"])).status_code
    assert status == 403


async def test_signed_url_of_key_with_spaces_and_unicode_is_fetchable(
    client: httpx.AsyncClient,
) -> None:
    key = unique("odd") + "/ünï cødé & 100%?#.txt"
    url = (await upload(client, key, b"odd")).json()["url"]
    async with httpx.AsyncClient() as anonymous:
        fetched = await anonymous.get(url)
    assert fetched.content == b"odd"


async def test_tampered_signed_url_is_403(client: httpx.AsyncClient) -> None:
    key = unique("tamper")
    await upload(client, key, b"secret")
    url = (await client.post("/storage/getUrl", json={"key": key})).json()["url"]
    async with httpx.AsyncClient() as anonymous:
        fetched = await anonymous.get(url.replace(key, key + "x"))
    assert fetched.status_code == 403
    assert fetched.json()["code"] == "FORBIDDEN"


# -- refusals --


async def test_content_type_that_is_not_a_header_value_is_400(
    client: httpx.AsyncClient,
) -> None:
    response = await upload(client, unique(), b"x", content_type="text/plain\r\nX-Evil: 1")
    assert response.status_code == 400
    assert "contentType" in response.json()["details"]["fieldErrors"]


async def test_upload_that_is_not_multipart_is_415(client: httpx.AsyncClient) -> None:
    response = await client.post("/storage/upload", json={"key": "k", "file": "x"})
    assert response.status_code == 415
    assert response.json()["code"] == "VALIDATION_ERROR"


async def test_upload_without_file_part_is_400_with_field_error(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/storage/upload", data={"key": unique()}, files={"other": ("x", b"x")}
    )
    assert response.status_code == 400
    assert response.json()["details"]["fieldErrors"]["file"] == ["Required"]


async def test_upload_without_key_part_is_400_with_field_error(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/storage/upload", files={"file": ("x", b"x")})
    assert response.status_code == 400
    assert response.json()["details"]["fieldErrors"]["key"] == ["Required"]


HOSTILE_KEYS = [
    "../escape",
    "a/../../b",
    "..",
    "/absolute",
    "a//b",
    "trailing/",
    "./here",
    "nul\x00byte",
    "back\\slash",
    "k" * 1025,
    "é" * 513,
    "",
]


@pytest.mark.parametrize("key", HOSTILE_KEYS, ids=range(len(HOSTILE_KEYS)))
async def test_hostile_upload_key_is_400_and_stores_nothing(
    client: httpx.AsyncClient, key: str
) -> None:
    before = await count_objects(client)
    response = await upload(client, key, b"payload")
    assert response.status_code == 400
    assert "key" in response.json()["details"]["fieldErrors"]
    assert await count_objects(client) == before


@pytest.mark.parametrize(
    "path", ["/storage/get", "/storage/exists", "/storage/delete", "/storage/getMetadata"]
)
async def test_hostile_key_is_400_on_json_routes(client: httpx.AsyncClient, path: str) -> None:
    response = await client.post(path, json={"key": "../../etc/passwd"})
    assert response.status_code == 400
    assert "key" in response.json()["details"]["fieldErrors"]


async def test_public_key_is_forbidden_on_upload(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    assert emulator.public_key is not None
    response = await upload(
        client, unique(), b"x", headers={"X-Aerostack-Key": emulator.public_key}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN"


async def test_public_key_is_forbidden_on_get(
    client: httpx.AsyncClient, emulator: Emulator
) -> None:
    assert emulator.public_key is not None
    response = await client.post(
        "/storage/get", json={"key": "k"}, headers={"X-Aerostack-Key": emulator.public_key}
    )
    assert response.status_code == 403


async def test_get_of_missing_key_is_404_not_found(client: httpx.AsyncClient) -> None:
    response = await client.post("/storage/get", json={"key": unique("missing")})
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


async def test_metadata_of_missing_key_is_exists_false_with_nulls(
    client: httpx.AsyncClient,
) -> None:
    meta = (await client.post("/storage/getMetadata", json={"key": unique("missing")})).json()
    assert meta == {
        "exists": False,
        "size": None,
        "contentType": None,
        "lastModified": None,
        "etag": None,
    }


# -- list, copy, move, delete, exists --


async def test_list_walks_every_page_in_key_order(client: httpx.AsyncClient) -> None:
    prefix = unique("walk") + "/"
    keys = sorted(f"{prefix}{n:02d}" for n in range(7))
    for key in keys:
        await upload(client, key, key.encode())
    seen: list[str] = []
    truncated_flags: list[bool] = []
    cursor = None
    while True:
        page = (
            await client.post(
                "/storage/list", json={"prefix": prefix, "limit": 3, "cursor": cursor}
            )
        ).json()
        seen += [obj["key"] for obj in page["objects"]]
        truncated_flags.append(page["truncated"])
        cursor = page["cursor"]
        if not page["truncated"]:
            assert cursor is None
            break
    assert seen == keys
    assert truncated_flags == [True, True, False]


async def test_list_objects_carry_their_metadata(client: httpx.AsyncClient) -> None:
    prefix = unique("listmeta") + "/"
    await upload(client, prefix + "a.json", b"{}")
    page = (await client.post("/storage/list", json={"prefix": prefix})).json()
    [obj] = page["objects"]
    assert obj["key"] == prefix + "a.json"
    assert obj["size"] == 2
    assert obj["contentType"] == "application/json"
    assert obj["etag"] == hashlib.md5(b"{}").hexdigest()
    assert obj["lastModified"].endswith("Z")


async def test_list_limit_over_1000_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/storage/list", json={"limit": 1001})
    assert response.status_code == 400
    assert "limit" in response.json()["details"]["fieldErrors"]


async def test_list_with_foreign_cursor_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/storage/list", json={"cursor": "%%%not-ours"})
    assert response.status_code == 400
    assert "cursor" in response.json()["details"]["fieldErrors"]


async def test_copy_duplicates_and_keeps_the_source(client: httpx.AsyncClient) -> None:
    source, dest = unique("copy-src"), unique("copy-dst")
    await upload(client, source, b"copied bytes")
    response = (
        await client.post("/storage/copy", json={"sourceKey": source, "destKey": dest})
    ).json()
    assert response["success"] is True
    assert response["url"].startswith("http://")
    assert (await client.post("/storage/get", json={"key": dest})).content == b"copied bytes"
    assert (await client.post("/storage/exists", json={"key": source})).json() == {"exists": True}


async def test_move_renames_and_removes_the_source(client: httpx.AsyncClient) -> None:
    source, dest = unique("move-src"), unique("move-dst")
    await upload(client, source, b"moved bytes")
    response = (
        await client.post("/storage/move", json={"sourceKey": source, "destKey": dest})
    ).json()
    assert response["success"] is True
    assert (await client.post("/storage/get", json={"key": dest})).content == b"moved bytes"
    assert (await client.post("/storage/exists", json={"key": source})).json() == {"exists": False}


@pytest.mark.parametrize("path", ["/storage/copy", "/storage/move"])
async def test_copy_or_move_of_missing_source_is_404(client: httpx.AsyncClient, path: str) -> None:
    response = await client.post(path, json={"sourceKey": unique("nope"), "destKey": unique()})
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


async def test_delete_removes_the_object(client: httpx.AsyncClient) -> None:
    key = unique("delete")
    await upload(client, key, b"bye")
    assert (await client.post("/storage/delete", json={"key": key})).json()["success"] is True
    assert (await client.post("/storage/exists", json={"key": key})).json() == {"exists": False}
    assert (await client.post("/storage/get", json={"key": key})).status_code == 404


# -- idempotency --


async def test_upload_with_same_idempotency_key_is_replayed(client: httpx.AsyncClient) -> None:
    key, idem = unique("idem"), {"Idempotency-Key": unique("idem-key")}
    first = await upload(client, key, b"once", headers=idem)
    # httpx picks a new multipart boundary: the replay must not depend on it.
    second = await upload(client, key, b"once", headers=idem)
    assert second.status_code == 200
    assert second.headers["idempotent-replayed"] == "true"
    assert second.content == first.content


async def test_upload_reusing_idempotency_key_with_other_bytes_is_422(
    client: httpx.AsyncClient,
) -> None:
    key, idem = unique("idem"), {"Idempotency-Key": unique("idem-key")}
    await upload(client, key, b"original", headers=idem)
    response = await upload(client, key, b"different", headers=idem)
    assert response.status_code == 422
    assert (await client.post("/storage/get", json={"key": key})).content == b"original"


# -- limits and interrupted uploads (their own emulators) --


@pytest.fixture(scope="module")
def small_limit_emulator() -> Iterator[Emulator]:
    with run_emulator("--max-upload-bytes", "1000") as running:
        yield running


def _sync_client(emulator: Emulator) -> httpx.Client:
    return httpx.Client(
        base_url=emulator.base_url, headers={"X-Aerostack-Key": emulator.api_key}, timeout=30
    )


def test_upload_past_max_upload_bytes_is_413(small_limit_emulator: Emulator) -> None:
    with _sync_client(small_limit_emulator) as http:
        response = http.post(
            "/storage/upload", files={"file": ("f", b"x" * 1001)}, data={"key": "too-big"}
        )
        assert response.status_code == 413
        assert response.json()["code"] == "VALIDATION_ERROR"
        assert http.post("/storage/exists", json={"key": "too-big"}).json() == {"exists": False}


def test_upload_of_exactly_max_upload_bytes_is_accepted(small_limit_emulator: Emulator) -> None:
    with _sync_client(small_limit_emulator) as http:
        response = http.post(
            "/storage/upload", files={"file": ("f", b"x" * 1000)}, data={"key": "just-fits"}
        )
        assert response.status_code == 200


def test_chunked_upload_is_counted_as_it_streams(small_limit_emulator: Emulator) -> None:
    def body() -> Iterator[bytes]:
        yield b'--B\r\nContent-Disposition: form-data; name="key"\r\n\r\nchunked\r\n'
        yield b'--B\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'
        for _ in range(5):
            yield b"z" * 300
        yield b"\r\n--B--\r\n"

    with _sync_client(small_limit_emulator) as http:
        response = http.post(
            "/storage/upload",
            content=body(),
            headers={"Content-Type": "multipart/form-data; boundary=B"},
        )
        assert response.status_code == 413
        assert http.post("/storage/exists", json={"key": "chunked"}).json() == {"exists": False}


def _wait_until_empty(folder: Path, timeout: float = 20.0) -> list[Path]:
    deadline = time.monotonic() + timeout
    while True:
        left = list(folder.iterdir())
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def test_upload_cut_mid_body_leaves_no_object_and_no_temp_file(tmp_path: Path) -> None:
    with run_emulator(data_dir=tmp_path) as emulator:
        host, port = emulator.origin.removeprefix("http://").rsplit(":", 1)
        head = (
            b'--B\r\nContent-Disposition: form-data; name="key"\r\n\r\ncut\r\n'
            b'--B\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'
        )
        request = (
            b"POST /v1/storage/upload HTTP/1.1\r\nHost: test\r\n"
            b"X-Aerostack-Key: " + emulator.api_key.encode() + b"\r\n"
            b"Content-Type: multipart/form-data; boundary=B\r\n"
            b"Content-Length: 9000000\r\n\r\n" + head + b"w" * 3_000_000
        )
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(request)
            # The server holds a temp file once the file part has begun.
            deadline = time.monotonic() + 20
            while not any((tmp_path / "storage" / "tmp").iterdir()):
                assert time.monotonic() < deadline, "the upload never reached the disk"
                time.sleep(0.05)
        assert _wait_until_empty(tmp_path / "storage" / "tmp") == []
        with _sync_client(emulator) as http:
            assert http.post("/storage/exists", json={"key": "cut"}).json() == {"exists": False}
        assert not any(path.is_file() for path in (tmp_path / "storage" / "objects").rglob("*"))


def test_objects_and_their_urls_survive_a_restart(tmp_path: Path) -> None:
    with run_emulator(data_dir=tmp_path) as emulator, _sync_client(emulator) as http:
        url = http.post(
            "/storage/upload", files={"file": ("f", b"durable")}, data={"key": "keep/me"}
        ).json()["url"]
    with run_emulator(data_dir=tmp_path) as emulator, _sync_client(emulator) as http:
        assert http.post("/storage/get", json={"key": "keep/me"}).content == b"durable"
        # The port changed, but the signature did not: the same path still serves the object.
        path = url.split("/v1", 1)[1]
        assert httpx.get(emulator.base_url + path).content == b"durable"


# -- key rules (pure) --


@pytest.mark.parametrize("key", HOSTILE_KEYS, ids=range(len(HOSTILE_KEYS)))
def test_key_rules_refuse_hostile_keys(key: str) -> None:
    assert key_problem(key) is not None


@pytest.mark.parametrize(
    "key", ["a", "a/b/c.txt", "..hidden", "a..b/c", "é" * 512, "k" * 1024, "sp ace/100%"]
)
def test_key_rules_accept_ordinary_keys(key: str) -> None:
    assert key_problem(key) is None
