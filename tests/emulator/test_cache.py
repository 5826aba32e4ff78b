"""Conformance (raw HTTP): the /cache/* routes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aerostack_async.server.routes.cache import _prefix_bounds
from aerostack_async.testing import Emulator, run_emulator


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=emulator.base_url, headers={"X-Aerostack-Key": emulator.api_key}, timeout=30
    ) as client:
        yield client


@pytest.fixture(scope="module")
def private() -> Iterator[httpx.Client]:
    """A separate emulator for tests that touch every key (flush all, the keys cap)."""
    with (
        run_emulator() as running,
        httpx.Client(
            base_url=running.base_url, headers={"X-Aerostack-Key": running.api_key}, timeout=30
        ) as client,
    ):
        yield client


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex[:10]}:"


def call(http: httpx.Client, path: str, **body: Any) -> Any:
    response = http.post(f"/cache/{path}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def errors_of(response: httpx.Response) -> list[str]:
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "VALIDATION_ERROR"
    return list(response.json()["details"]["fieldErrors"])


@pytest.mark.parametrize(
    "value", [{"a": [1, 2.5, None]}, [1, "two"], "text", 0, -7.25, True, None, "ünï 🚀"]
)
def test_set_then_get_round_trips_any_json(http: httpx.Client, prefix: str, value: Any) -> None:
    assert call(http, "set", key=prefix + "k", value=value) == {"success": True}
    assert call(http, "get", key=prefix + "k") == {"exists": True, "value": value}


def test_get_of_a_missing_key_is_exists_false(http: httpx.Client, prefix: str) -> None:
    assert call(http, "get", key=prefix + "missing") == {"exists": False, "value": None}


def test_set_overwrites_and_clears_the_old_ttl(http: httpx.Client, prefix: str) -> None:
    call(http, "set", key=prefix + "k", value=1, ttl=60)
    call(http, "set", key=prefix + "k", value=2)
    listed = call(http, "list", prefix=prefix)["keys"]
    assert listed == [{"key": prefix + "k", "expiration": None}]


def test_ttl_entry_is_readable_before_it_expires(http: httpx.Client, prefix: str) -> None:
    call(http, "set", key=prefix + "k", value="v", ttl=60)
    assert call(http, "get", key=prefix + "k")["exists"] is True


def test_ttl_becomes_a_unix_expiration(http: httpx.Client, prefix: str) -> None:
    before = time.time()
    call(http, "set", key=prefix + "k", value="v", ttl=100)
    after = time.time()
    (entry,) = call(http, "list", prefix=prefix)["keys"]
    assert int(before) + 100 <= entry["expiration"] <= int(after) + 101


def test_entry_with_ttl_1_expires(http: httpx.Client, prefix: str) -> None:
    call(http, "set", key=prefix + "k", value="v", ttl=1)
    deadline = time.monotonic() + 15
    while call(http, "get", key=prefix + "k")["exists"]:
        assert time.monotonic() < deadline, "the entry did not expire"
        time.sleep(0.25)
    assert call(http, "keys", prefix=prefix) == {"keys": [], "truncated": False}


def test_negative_ttl_is_400(http: httpx.Client, prefix: str) -> None:
    assert errors_of(http.post("/cache/set", json={"key": prefix, "value": 1, "ttl": -1})) == [
        "ttl"
    ]


@pytest.mark.parametrize("key", ["", "k" * 513, "é" * 257, 5, None])
def test_bad_keys_are_400_and_store_nothing(http: httpx.Client, key: Any) -> None:
    assert errors_of(http.post("/cache/set", json={"key": key, "value": 1})) == ["key"]


def test_key_of_512_bytes_is_accepted(http: httpx.Client) -> None:
    key = uuid.uuid4().hex + "k" * 480
    call(http, "set", key=key, value=1)
    assert call(http, "get", key=key)["exists"] is True


def test_set_without_value_is_400(http: httpx.Client, prefix: str) -> None:
    assert errors_of(http.post("/cache/set", json={"key": prefix})) == ["value"]


def test_delete_removes_the_key(http: httpx.Client, prefix: str) -> None:
    call(http, "set", key=prefix + "k", value=1)
    assert call(http, "delete", key=prefix + "k")["success"] is True
    assert call(http, "get", key=prefix + "k")["exists"] is False


def test_get_many_answers_in_request_order(http: httpx.Client, prefix: str) -> None:
    call(http, "set", key=prefix + "a", value=1)
    call(http, "set", key=prefix + "c", value={"x": 3})
    keys = [prefix + "c", prefix + "b", prefix + "a", prefix + "c"]
    assert call(http, "getMany", keys=keys)["results"] == [
        {"key": prefix + "c", "value": {"x": 3}, "exists": True},
        {"key": prefix + "b", "value": None, "exists": False},
        {"key": prefix + "a", "value": 1, "exists": True},
        {"key": prefix + "c", "value": {"x": 3}, "exists": True},
    ]


def test_get_many_of_more_than_100_keys_is_400(http: httpx.Client) -> None:
    assert errors_of(http.post("/cache/getMany", json={"keys": ["k"] * 101})) == ["keys"]


def test_set_many_stores_every_entry(http: httpx.Client, prefix: str) -> None:
    entries = [{"key": f"{prefix}{i}", "value": i} for i in range(100)]
    entries[0]["ttl"] = 60
    assert call(http, "setMany", entries=entries) == {"success": True, "count": 100}
    results = call(http, "getMany", keys=[e["key"] for e in entries])["results"]
    assert [r["value"] for r in results] == list(range(100))


def test_set_many_with_one_bad_entry_stores_nothing(http: httpx.Client, prefix: str) -> None:
    entries = [{"key": prefix + "good", "value": 1}, {"key": "", "value": 2}, {"key": prefix}]
    assert errors_of(http.post("/cache/setMany", json={"entries": entries})) == [
        "entries[1].key",
        "entries[2].value",
    ]
    assert call(http, "get", key=prefix + "good")["exists"] is False


def test_delete_many_reports_asked_and_deleted(http: httpx.Client, prefix: str) -> None:
    call(http, "set", key=prefix + "a", value=1)
    call(http, "set", key=prefix + "b", value=2)
    result = call(http, "deleteMany", keys=[prefix + "a", prefix + "b", prefix + "zzz"])
    assert result == {"success": True, "count": 3, "deleted": 2}
    assert call(http, "keys", prefix=prefix)["keys"] == []


def test_delete_many_of_more_than_500_keys_is_400(http: httpx.Client) -> None:
    assert errors_of(http.post("/cache/deleteMany", json={"keys": ["k"] * 501})) == ["keys"]


def test_increment_of_a_new_key_starts_from_initial_value(http: httpx.Client, prefix: str) -> None:
    assert call(http, "increment", key=prefix + "n", initialValue=10, amount=5) == {"value": 15}
    assert call(http, "increment", key=prefix + "n") == {"value": 16}
    assert call(http, "get", key=prefix + "n")["value"] == 16


def test_increment_by_a_negative_amount_decrements(http: httpx.Client, prefix: str) -> None:
    call(http, "set", key=prefix + "n", value=3)
    assert call(http, "increment", key=prefix + "n", amount=-5) == {"value": -2}


def test_increment_gives_a_new_key_its_ttl(http: httpx.Client, prefix: str) -> None:
    call(http, "increment", key=prefix + "n", ttl=100)
    (entry,) = call(http, "list", prefix=prefix)["keys"]
    assert entry["expiration"] is not None


def test_increment_of_a_non_integer_value_is_400_and_keeps_it(
    http: httpx.Client, prefix: str
) -> None:
    call(http, "set", key=prefix + "s", value="seven")
    response = http.post("/cache/increment", json={"key": prefix + "s"})
    assert response.status_code == 400
    assert response.json()["code"] == "CACHE_VALUE_NOT_INTEGER"
    assert call(http, "get", key=prefix + "s")["value"] == "seven"


def test_increment_past_64_bits_is_400(http: httpx.Client, prefix: str) -> None:
    call(http, "set", key=prefix + "n", value=2**63 - 1)
    assert errors_of(http.post("/cache/increment", json={"key": prefix + "n"})) == ["amount"]


def test_increment_with_a_fractional_amount_is_400(http: httpx.Client, prefix: str) -> None:
    assert errors_of(http.post("/cache/increment", json={"key": prefix, "amount": 1.5})) == [
        "amount"
    ]


@pytest.mark.anyio
async def test_200_concurrent_increments_add_200(emulator: Emulator, prefix: str) -> None:
    key = prefix + "counter"
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(
        base_url=emulator.base_url,
        headers={"X-Aerostack-Key": emulator.api_key},
        limits=limits,
        timeout=60,
    ) as client:

        async def bump() -> None:
            response = await client.post("/cache/increment", json={"key": key})
            assert response.status_code == 200

        async with anyio.create_task_group() as tg:
            for _ in range(200):
                tg.start_soon(bump)
        final = (await client.post("/cache/get", json={"key": key})).json()
    assert final == {"exists": True, "value": 200}


def test_expire_sets_a_new_ttl_on_a_live_key(http: httpx.Client, prefix: str) -> None:
    call(http, "set", key=prefix + "k", value=1)
    assert call(http, "expire", key=prefix + "k", ttl=100) == {"success": True}
    (entry,) = call(http, "list", prefix=prefix)["keys"]
    assert entry["expiration"] is not None


def test_expire_of_a_missing_key_is_success_false(http: httpx.Client, prefix: str) -> None:
    assert call(http, "expire", key=prefix + "none", ttl=10) == {"success": False}


def test_expire_without_ttl_is_400(http: httpx.Client, prefix: str) -> None:
    assert errors_of(http.post("/cache/expire", json={"key": prefix})) == ["ttl"]


def test_list_walks_every_page_with_the_cursor(http: httpx.Client, prefix: str) -> None:
    keys = [f"{prefix}{i:02d}" for i in range(25)]
    call(http, "setMany", entries=[{"key": key, "value": 0} for key in keys])
    call(http, "set", key=prefix[:-1] + "~outside", value=0)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = call(http, "list", prefix=prefix, limit=7, cursor=cursor)
        pages += 1
        seen += [entry["key"] for entry in page["keys"]]
        if page["list_complete"]:
            assert page["cursor"] is None
            break
        cursor = page["cursor"]
        assert isinstance(cursor, str)
    assert seen == keys
    assert pages == 4


def test_list_default_limit_is_100(http: httpx.Client, prefix: str) -> None:
    for start in (0, 100):
        entries = [{"key": f"{prefix}{i:03d}", "value": 0} for i in range(start, start + 100)]
        call(http, "setMany", entries=entries)
    page = call(http, "list", prefix=prefix)
    assert len(page["keys"]) == 100
    assert page["list_complete"] is False


@pytest.mark.parametrize(("limit", "field"), [(0, "limit"), (1001, "limit"), ("5", "limit")])
def test_list_with_a_bad_limit_is_400(http: httpx.Client, limit: Any, field: str) -> None:
    assert errors_of(http.post("/cache/list", json={"limit": limit})) == [field]


def test_list_with_a_forged_cursor_is_400(http: httpx.Client) -> None:
    assert errors_of(http.post("/cache/list", json={"cursor": "!!not base64!!"})) == ["cursor"]


def test_keys_lists_live_keys_with_prefix(http: httpx.Client, prefix: str) -> None:
    call(http, "set", key=prefix + "b", value=1)
    call(http, "set", key=prefix + "a", value=1)
    assert call(http, "keys", prefix=prefix) == {
        "keys": [prefix + "a", prefix + "b"],
        "truncated": False,
    }


def test_flush_with_prefix_deletes_only_those_keys(http: httpx.Client, prefix: str) -> None:
    call(http, "set", key=prefix + "a", value=1)
    call(http, "set", key=prefix + "b", value=1)
    other = prefix[:-1] + "-other"
    call(http, "set", key=other, value=1)
    assert call(http, "flush", prefix=prefix) == {"success": True, "deleted": 2}
    assert call(http, "get", key=other)["exists"] is True


def test_flush_without_prefix_deletes_everything(private: httpx.Client) -> None:
    call(private, "setMany", entries=[{"key": f"f{i}", "value": i} for i in range(5)])
    result = call(private, "flush")
    assert result["success"] is True
    assert result["deleted"] >= 5
    assert call(private, "keys") == {"keys": [], "truncated": False}


def test_keys_is_capped_at_10000_and_says_truncated(private: httpx.Client) -> None:
    for start in range(0, 10_001, 100):
        entries = [{"key": f"cap:{i:05d}", "value": 0} for i in range(start, start + 100)]
        call(private, "setMany", entries=entries)
    result = call(private, "keys", prefix="cap:")
    assert len(result["keys"]) == 10_000
    assert result["truncated"] is True
    call(private, "flush", prefix="cap:")


# Text without surrogates: what UTF-8 (and so SQLite) can hold. Code-point order is UTF-8 order.
_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=6)


@given(prefix=_text, key=_text)
def test_prefix_range_holds_exactly_the_keys_with_that_prefix(prefix: str, key: str) -> None:
    low, high = _prefix_bounds(prefix)
    in_range = low <= key and (high is None or key < high)
    assert in_range == key.startswith(prefix)


@given(prefix=st.sampled_from(["a\U0010ffff", "\U0010ffff", "\ud7ff", "z"]), tail=_text)
def test_prefix_range_handles_the_edges_of_unicode(prefix: str, tail: str) -> None:
    low, high = _prefix_bounds(prefix)
    key = prefix + tail
    assert low <= key
    assert high is None or key < high
