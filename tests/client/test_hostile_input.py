"""Input JSON or HTTP cannot carry is refused before sending; a key quoted back is masked.

Each case runs against a scripted server on 127.0.0.1 that records what it received, so "before
sending" is checked, not assumed; the emulator shows the values at the limits still go through.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from aerostack_async import AsyncAerostack
from aerostack_async.errors import (
    APIConnectionError,
    APIStatusError,
    ConfigurationError,
    InvalidRequestError,
)

from .._loopback import Reply, scripted_server
from .conftest import ClientFactory

pytestmark = pytest.mark.anyio

MAX_JSON_DEPTH = 512  # aerostack_async.resources._base.MAX_JSON_DEPTH, as docs/client.md says
NAN = float("nan")
INF = float("inf")
OK_SET = b'{"success": true}'


def nested(depth: int, leaf: Any = 1) -> Any:
    """A value whose JSON is ``depth`` arrays deep (``depth`` 0 is the leaf itself)."""
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


class Point(msgspec.Struct):
    x: float
    y: float


# -- NaN and infinities --------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(NAN, id="nan"),
        pytest.param(INF, id="inf"),
        pytest.param(-INF, id="-inf"),
        pytest.param({"scores": [1.0, None, NAN]}, id="nested-nan"),
        pytest.param([{"a": {"b": (1, -INF)}}], id="nested-tuple-inf"),
        pytest.param(Point(1.0, NAN), id="struct-field"),
        pytest.param({"text": "null", "x": INF}, id="beside-null-text"),
    ],
)
async def test_non_finite_numbers_in_a_value_are_refused_before_sending(
    make_client: ClientFactory, value: Any
) -> None:
    async with scripted_server(Reply(200, OK_SET)) as server:
        client = make_client(base_url=server.base_url, retry=None)
        with pytest.raises(InvalidRequestError, match="NaN or infinity"):
            await client.cache.set("score", value)
    assert server.received == []


async def test_non_finite_numbers_anywhere_in_a_request_are_refused(
    make_client: ClientFactory,
) -> None:
    async with scripted_server(Reply(200, OK_SET)) as server:
        client = make_client(base_url=server.base_url, retry=None)
        calls = [
            client.queue.enqueue("jobs", {"weight": NAN}),
            client.database.query("SELECT ?", [INF]),
            client.database.batch([{"sql": "SELECT ?", "params": [-INF]}]),
            client.cache.set_many({"a": 1, "b": [NAN]}),
            client.services.invoke("svc", {"x": INF}),
            client.search.ingest("doc", "text", metadata={"rank": NAN}),
        ]
        for call in calls:
            with pytest.raises(InvalidRequestError):
                await call
    assert server.received == []


async def test_null_and_finite_numbers_still_round_trip(
    client: AsyncAerostack, unique: str
) -> None:
    value = {"none": None, "text": "null NaN Infinity", "big": 1e308, "small": -5e-324}
    await client.cache.set(f"{unique}:v", value)
    assert (await client.cache.get(f"{unique}:v")).value == value


# -- depth ---------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH, MAX_JSON_DEPTH + 50, 5000])
async def test_a_value_nested_deeper_than_the_limit_is_refused_before_sending(
    make_client: ClientFactory, depth: int
) -> None:
    # The request body wraps the value in one more object: depth + 1 levels in all.
    async with scripted_server(Reply(200, OK_SET)) as server:
        client = make_client(base_url=server.base_url, retry=None)
        with pytest.raises(InvalidRequestError, match="nested deeper than"):
            await client.cache.set("deep", nested(depth))
    assert server.received == []


def test_the_documented_depth_limit_is_the_one_applied() -> None:
    from aerostack_async.resources import _base

    assert _base.MAX_JSON_DEPTH == MAX_JSON_DEPTH


async def test_a_value_at_the_depth_limit_is_stored(client: AsyncAerostack, unique: str) -> None:
    value = nested(MAX_JSON_DEPTH - 1, "leaf")  # the body's object makes MAX_JSON_DEPTH
    await client.cache.set(f"{unique}:deep", value)
    assert (await client.cache.get(f"{unique}:deep")).value == value


async def test_many_brackets_in_strings_are_not_depth(client: AsyncAerostack, unique: str) -> None:
    value = {"text": "[{" * 2000, "list": [[1]] * 600}
    await client.cache.set(f"{unique}:brackets", value)
    assert (await client.cache.get(f"{unique}:brackets")).value == value


# -- database params -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("param", "why"),
    [
        pytest.param({"a": 1}, "object", id="dict"),
        pytest.param([1, 2], "array", id="list"),
        pytest.param((1, 2), "array", id="tuple"),
        pytest.param(Point(1, 2), "object", id="struct"),
        pytest.param(2**63, "64-bit", id="int64-max-plus-one"),
        pytest.param(-(2**63) - 1, "64-bit", id="int64-min-minus-one"),
        pytest.param(10**30, "64-bit", id="huge"),
    ],
)
async def test_params_the_database_cannot_hold_are_refused_before_sending(
    make_client: ClientFactory, param: object, why: str
) -> None:
    async with scripted_server(Reply(200, b'{"results": [], "count": 0}')) as server:
        client = make_client(base_url=server.base_url, retry=None)
        with pytest.raises(InvalidRequestError, match=rf"params\[1\].*{why}"):
            await client.database.query("SELECT ?, ?", ["ok", param])
        with pytest.raises(InvalidRequestError, match=why):
            await client.database.batch([{"sql": "SELECT ?, ?", "params": [1, param]}])
    assert server.received == []


async def test_params_at_the_int64_limits_and_other_scalars_are_sent(
    client: AsyncAerostack,
) -> None:
    params = [2**63 - 1, -(2**63), 1.5, "text", True, None]
    result = await client.database.query(
        "SELECT ? AS a, ? AS b, ? AS c, ? AS d, ? AS e, ? AS f", params
    )
    assert list(result.results[0].values()) == [2**63 - 1, -(2**63), 1.5, "text", 1, None]


# -- header values -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-Trace": "a\r\nX-Injected: 1"}, id="crlf-in-value"),
        pytest.param({"X-Trace": "a\nb"}, id="lf-in-value"),
        pytest.param({"X-Trace": "a\rb"}, id="cr-in-value"),
        pytest.param({"X-Trace": "a\x00b"}, id="nul-in-value"),
        pytest.param({"X-Trace": " padded"}, id="leading-space"),
        pytest.param({"X-Bad Name": "v"}, id="space-in-name"),
        pytest.param({"X-Bad:Name": "v"}, id="colon-in-name"),
        pytest.param({"X-Bad\r\nName": "v"}, id="crlf-in-name"),
        pytest.param({"": "v"}, id="empty-name"),
        pytest.param({"X-Trace": 7}, id="not-a-string"),
    ],
)
async def test_extra_headers_that_cannot_be_sent_are_refused_before_sending(
    make_client: ClientFactory, headers: dict[str, Any]
) -> None:
    async with scripted_server(Reply(200, OK_SET)) as server:
        client = make_client(base_url=server.base_url, retry=None)
        with pytest.raises(InvalidRequestError) as caught:
            await client.cache.set("k", 1, extra_headers=headers)
    assert not isinstance(caught.value, APIConnectionError)
    assert "X-Injected: 1" not in str(caught.value)  # the value is not quoted back
    assert server.received == []


@pytest.mark.parametrize("key", ["order\r\n42", "order\n42", "order\x0042", "order\r42", " order"])
async def test_an_idempotency_key_that_cannot_be_a_header_is_refused(
    make_client: ClientFactory, key: str
) -> None:
    async with scripted_server(Reply(200, OK_SET)) as server:
        client = make_client(base_url=server.base_url, retry=None)
        with pytest.raises(InvalidRequestError, match="idempotency_key"):
            await client.cache.set("k", 1, idempotency_key=key)
    assert server.received == []


@pytest.mark.parametrize(
    "headers",
    [{"X-Trace": "a\r\nX-Injected: 1"}, {"X-Bad Name": "v"}, {"X-Trace": "a\nb"}, {"X": 1}],
)
def test_default_headers_that_cannot_be_sent_fail_at_construction(headers: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        AsyncAerostack(api_key="sk_test", base_url="http://127.0.0.1:9/v1", default_headers=headers)


async def test_a_header_value_with_inner_spaces_and_tabs_is_sent(
    make_client: ClientFactory,
) -> None:
    async with scripted_server(Reply(200, OK_SET)) as server:
        client = make_client(base_url=server.base_url, retry=None)
        await client.cache.set("k", 1, extra_headers={"X-Trace": "a b\tc"}, idempotency_key="a b")
    assert server.received[0].headers["x-trace"] == "a b\tc"
    assert server.received[0].headers["idempotency-key"] == "a b"


# -- the key quoted back by the server -----------------------------------------------------

SECRET = "sk_live_Quoted0123456789abcdef"
ODD_SECRET = "my-private-token-0123456789"


@pytest.mark.parametrize("secret", [SECRET, ODD_SECRET])
@pytest.mark.parametrize("status", [401, 400, 500])
async def test_a_key_quoted_in_an_error_is_masked_everywhere(
    make_client: ClientFactory, secret: str, status: int
) -> None:
    body = msgspec.json.encode(
        {
            "code": "AUTH_INVALID_KEY",
            "message": f"Unknown API key {secret}",
            "details": {"key": secret, "seen": [f"key={secret}"]},
        }
    )
    async with scripted_server(Reply(status, body)) as server:
        client = make_client(base_url=server.base_url, api_key=secret, retry=None)
        with pytest.raises(APIStatusError) as caught:
            await client.cache.get("k")
    error = caught.value
    assert server.received[0].headers["x-aerostack-key"] == secret  # it was sent, then masked
    exposed = [
        str(error),
        repr(error),
        error.message,
        error.body,
        repr(error.details),
        repr(error.args),
        repr(error.data),
        error.raw_response.text if error.raw_response is not None else "",
        repr(dict(error.raw_response.request.headers)) if error.raw_response is not None else "",
    ]
    for text in exposed:
        assert secret not in text
    assert "Unknown API key" in error.message
    assert error.details is not None
    assert error.details["key"] != secret


async def test_a_key_quoted_in_a_non_json_error_is_masked(make_client: ClientFactory) -> None:
    body = f"<html>bad key {SECRET}</html>".encode()
    async with scripted_server(Reply(502, body)) as server:
        client = make_client(base_url=server.base_url, api_key=SECRET, retry=None)
        with pytest.raises(APIStatusError) as caught:
            await client.cache.get("k")
    assert SECRET not in str(caught.value)
    assert SECRET not in caught.value.body
    assert "bad key" in caught.value.message


async def test_extra_headers_that_are_not_a_mapping_are_refused(make_client: ClientFactory) -> None:
    async with scripted_server(Reply(200, OK_SET)) as server:
        client = make_client(base_url=server.base_url, retry=None)
        with pytest.raises(InvalidRequestError, match="mapping"):
            await client.cache.set("k", 1, extra_headers=[("X-Trace", "1")])  # type: ignore[arg-type]
    assert server.received == []
