"""client.cache against the emulator."""

from __future__ import annotations

import pytest

from aerostack_async import AsyncAerostack
from aerostack_async.errors import InvalidArgumentTypeError, InvalidRequestError

from .._loopback import scripted_server
from .conftest import ClientFactory

pytestmark = pytest.mark.anyio


async def test_set_then_get_returns_the_json_value(client: AsyncAerostack, unique: str) -> None:
    value = {"name": "Ada", "tags": ["a", "b"], "n": 1.5, "ok": True, "none": None}
    assert (await client.cache.set(f"{unique}:k", value)).success
    got = await client.cache.get(f"{unique}:k")
    assert got.exists
    assert got.value == value


async def test_get_of_a_missing_key_says_it_does_not_exist(
    client: AsyncAerostack, unique: str
) -> None:
    got = await client.cache.get(f"{unique}:missing")
    assert not got.exists
    assert got.value is None


async def test_set_null_value_is_stored(client: AsyncAerostack, unique: str) -> None:
    await client.cache.set(f"{unique}:null", None)
    got = await client.cache.get(f"{unique}:null")
    assert got.exists
    assert got.value is None


async def test_delete_removes_the_key(client: AsyncAerostack, unique: str) -> None:
    await client.cache.set(f"{unique}:k", 1)
    assert (await client.cache.delete(f"{unique}:k")).success
    assert not (await client.cache.get(f"{unique}:k")).exists


async def test_increment_starts_at_initial_value_and_adds(
    client: AsyncAerostack, unique: str
) -> None:
    first = await client.cache.increment(f"{unique}:n", 5, initial_value=10)
    second = await client.cache.increment(f"{unique}:n", -3)
    assert (first.value, second.value) == (15, 12)


async def test_expire_sets_an_expiry_on_a_live_key(client: AsyncAerostack, unique: str) -> None:
    await client.cache.set(f"{unique}:k", 1)
    assert (await client.cache.expire(f"{unique}:k", 3600)).success
    [info] = [i async for i in client.cache.list(f"{unique}:")]
    assert info.expiration is not None


async def test_expire_of_a_missing_key_reports_failure(client: AsyncAerostack, unique: str) -> None:
    assert not (await client.cache.expire(f"{unique}:gone", 10)).success


async def test_keys_lists_names_with_the_prefix(client: AsyncAerostack, unique: str) -> None:
    for name in ("a", "b", "c"):
        await client.cache.set(f"{unique}:{name}", name)
    result = await client.cache.keys(f"{unique}:")
    assert sorted(result.keys) == [f"{unique}:a", f"{unique}:b", f"{unique}:c"]
    assert not result.truncated


async def test_list_iterates_across_pages(client: AsyncAerostack, unique: str) -> None:
    names = [f"{unique}:{i:02d}" for i in range(7)]
    for i, name in enumerate(names):
        await client.cache.set(name, i)
    listed = [info.key async for info in client.cache.list(f"{unique}:", limit=2)]
    assert listed == names


async def test_list_can_stop_early(client: AsyncAerostack, unique: str) -> None:
    for i in range(5):
        await client.cache.set(f"{unique}:{i}", i)
    seen = []
    async for info in client.cache.list(f"{unique}:", limit=2):
        seen.append(info.key)
        if len(seen) == 3:
            break
    assert len(seen) == 3


async def test_flush_deletes_only_the_prefix(client: AsyncAerostack, unique: str) -> None:
    await client.cache.set(f"{unique}:a:1", 1)
    await client.cache.set(f"{unique}:a:2", 2)
    await client.cache.set(f"{unique}:b:1", 3)
    flushed = await client.cache.flush(f"{unique}:a:")
    assert flushed.deleted == 2
    assert (await client.cache.keys(f"{unique}:")).keys == [f"{unique}:b:1"]


async def test_a_key_over_512_bytes_is_refused_before_sending(make_client: ClientFactory) -> None:
    async with scripted_server() as server:
        client = make_client(base_url=server.base_url, retry=None)
        with pytest.raises(InvalidRequestError, match="512 bytes"):
            await client.cache.get("é" * 257)
    assert server.received == []


async def test_an_empty_key_is_refused(client: AsyncAerostack) -> None:
    with pytest.raises(InvalidRequestError, match="empty"):
        await client.cache.set("", 1)


async def test_a_non_string_key_is_a_type_error(client: AsyncAerostack) -> None:
    with pytest.raises(InvalidArgumentTypeError):
        await client.cache.get(42)  # type: ignore[arg-type]


async def test_a_value_json_cannot_hold_is_refused(client: AsyncAerostack, unique: str) -> None:
    with pytest.raises(InvalidArgumentTypeError):
        await client.cache.set(f"{unique}:k", object())
    assert not (await client.cache.get(f"{unique}:k")).exists


async def test_a_negative_ttl_is_refused(client: AsyncAerostack) -> None:
    with pytest.raises(InvalidRequestError):
        await client.cache.set("k", 1, ttl=-1)


async def test_list_limit_over_1000_is_refused(client: AsyncAerostack) -> None:
    with pytest.raises(InvalidRequestError):
        client.cache.list(limit=1001)


async def test_collect_gathers_every_page(client: AsyncAerostack, unique: str) -> None:
    for i in range(3):
        await client.cache.set(f"{unique}:{i}", i)
    infos = await client.cache.list(f"{unique}:", limit=1).collect()
    assert [info.key for info in infos] == [f"{unique}:0", f"{unique}:1", f"{unique}:2"]


async def test_take_buffered_hands_over_the_rest_of_the_page(
    client: AsyncAerostack, unique: str
) -> None:
    for i in range(5):
        await client.cache.set(f"{unique}:{i}", i)
    pages = client.cache.list(f"{unique}:", limit=3)
    first = await pages.__anext__()
    rest_of_page = pages.take_buffered()
    after = [info.key async for info in pages]
    assert [first.key, *(i.key for i in rest_of_page)] == [f"{unique}:{i}" for i in range(3)]
    assert after == [f"{unique}:3", f"{unique}:4"]
