"""client.storage (the request/response operations) against the emulator."""

from __future__ import annotations

import httpx
import pytest

from aerostack_async import AsyncAerostack
from aerostack_async.errors import InvalidRequestError, NotFoundError

from .._loopback import scripted_server
from .conftest import ClientFactory

pytestmark = pytest.mark.anyio


async def _put(client: AsyncAerostack, key: str, data: bytes = b"hello") -> None:
    await client.storage.upload(key, data, content_type="text/plain")


async def test_exists_and_get_metadata_describe_a_stored_object(
    client: AsyncAerostack, unique: str
) -> None:
    await _put(client, f"{unique}/a.txt")
    assert (await client.storage.exists(f"{unique}/a.txt")).exists
    meta = await client.storage.get_metadata(f"{unique}/a.txt")
    assert meta.exists
    assert meta.size == 5
    assert meta.content_type == "text/plain"
    assert meta.last_modified is not None
    assert meta.etag


async def test_metadata_of_a_missing_object_says_it_does_not_exist(
    client: AsyncAerostack, unique: str
) -> None:
    meta = await client.storage.get_metadata(f"{unique}/missing")
    assert not meta.exists
    assert meta.size is None


async def test_get_url_returns_a_url_that_serves_the_object(
    client: AsyncAerostack, unique: str
) -> None:
    await _put(client, f"{unique}/a.txt")
    signed = await client.storage.get_url(f"{unique}/a.txt", expires_in=60)
    assert signed.expires_at is not None
    async with httpx.AsyncClient() as http:
        assert (await http.get(signed.url)).content == b"hello"


async def test_list_iterates_across_pages(client: AsyncAerostack, unique: str) -> None:
    keys = [f"{unique}/{i:02d}" for i in range(5)]
    for key in keys:
        await _put(client, key)
    listed = [obj.key async for obj in client.storage.list(f"{unique}/", limit=2)]
    assert listed == keys


async def test_copy_keeps_the_source(client: AsyncAerostack, unique: str) -> None:
    await _put(client, f"{unique}/src")
    copied = await client.storage.copy(f"{unique}/src", f"{unique}/dst")
    assert copied.success
    assert copied.url
    assert (await client.storage.exists(f"{unique}/src")).exists
    assert (await client.storage.get_metadata(f"{unique}/dst")).size == 5


async def test_move_removes_the_source(client: AsyncAerostack, unique: str) -> None:
    await _put(client, f"{unique}/src")
    await client.storage.move(f"{unique}/src", f"{unique}/dst")
    assert not (await client.storage.exists(f"{unique}/src")).exists
    assert (await client.storage.exists(f"{unique}/dst")).exists


async def test_copy_of_a_missing_object_is_not_found(client: AsyncAerostack, unique: str) -> None:
    with pytest.raises(NotFoundError) as caught:
        await client.storage.copy(f"{unique}/missing", f"{unique}/dst")
    assert caught.value.code == "NOT_FOUND"


async def test_delete_removes_the_object(client: AsyncAerostack, unique: str) -> None:
    await _put(client, f"{unique}/a")
    assert (await client.storage.delete(f"{unique}/a")).success
    assert not (await client.storage.exists(f"{unique}/a")).exists


@pytest.mark.parametrize(
    "key", ["", "/abs", "a//b", "a/", "a/../b", "./a", "a\\b", "nul\0", "x" * 1025]
)
async def test_invalid_storage_keys_are_refused_before_sending(
    make_client: ClientFactory, key: str
) -> None:
    async with scripted_server() as server:
        client = make_client(base_url=server.base_url, retry=None)
        with pytest.raises(InvalidRequestError):
            await client.storage.exists(key)
    assert server.received == []
