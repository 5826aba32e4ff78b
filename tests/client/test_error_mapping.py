"""Every error status maps to its class, with code, message and request id."""

from __future__ import annotations

import pytest

from aerostack_async import AsyncAerostack
from aerostack_async.errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ErrorResponse,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ResponseValidationError,
    SDKBaseError,
    UnprocessableEntityError,
)
from aerostack_async.testing import Emulator, run_emulator

from .._loopback import Reply, scripted_server
from .conftest import ClientFactory

pytestmark = pytest.mark.anyio


async def test_an_unknown_key_is_an_authentication_error(make_client: ClientFactory) -> None:
    client = make_client(api_key="sk_not_a_real_key")
    with pytest.raises(AuthenticationError) as caught:
        await client.cache.get("k")
    error = caught.value
    assert (error.status_code, error.code) == (401, "AUTH_INVALID_KEY")
    assert error.request_id
    assert error.request_id.startswith("req_")
    assert str(error).startswith("401 AUTH_INVALID_KEY: ")
    assert error.request_id in str(error)


async def test_a_public_key_on_a_secret_route_is_permission_denied(
    emulator: Emulator, make_client: ClientFactory
) -> None:
    assert emulator.public_key is not None
    client = make_client(api_key=emulator.public_key)
    with pytest.raises(PermissionDeniedError) as caught:
        await client.cache.get("k")
    assert (caught.value.status_code, caught.value.code) == (403, "FORBIDDEN")


async def test_a_body_the_server_rejects_is_a_bad_request_with_field_errors(
    client: AsyncAerostack,
) -> None:
    # The emulator caps document ids at 256 bytes; the API does not document a cap, so the
    # client leaves it to the server.
    with pytest.raises(BadRequestError) as caught:
        await client.search.get("x" * 300)
    error = caught.value
    assert (error.status_code, error.code) == (400, "VALIDATION_ERROR")
    assert error.details is not None
    assert "id" in error.details["fieldErrors"]


async def test_a_missing_object_is_not_found(client: AsyncAerostack, unique: str) -> None:
    with pytest.raises(NotFoundError) as caught:
        await client.storage.get(f"{unique}/missing")
    assert (caught.value.status_code, caught.value.code) == (404, "NOT_FOUND")


async def test_an_idempotency_key_reused_with_another_body_is_unprocessable(
    client: AsyncAerostack, unique: str
) -> None:
    await client.queue.enqueue(unique, {"n": 1}, idempotency_key=f"{unique}-key")
    with pytest.raises(UnprocessableEntityError) as caught:
        await client.queue.enqueue(unique, {"n": 2}, idempotency_key=f"{unique}-key")
    assert (caught.value.status_code, caught.value.code) == (422, "VALIDATION_ERROR")


async def test_an_idempotency_key_reused_with_the_same_body_replays_the_result(
    client: AsyncAerostack, unique: str
) -> None:
    first = await client.queue.enqueue(unique, {"n": 1}, idempotency_key=f"{unique}-key")
    again = await client.queue.enqueue(unique, {"n": 1}, idempotency_key=f"{unique}-key")
    assert again.job_id == first.job_id


async def _until_limited(client: AsyncAerostack) -> None:
    for _ in range(20):
        await client.cache.get("k")


async def test_rate_limiting_is_a_rate_limit_error_with_retry_after(
    make_client: ClientFactory,
) -> None:
    with run_emulator("--rate-limit", "1") as limited:
        client = make_client(api_key=limited.api_key, base_url=limited.base_url, retry=None)
        with pytest.raises(RateLimitError) as caught:
            await _until_limited(client)
    error = caught.value
    assert (error.status_code, error.code) == (429, "RATE_LIMIT_EXCEEDED")
    assert error.retry_after is not None
    assert error.retry_after > 0


async def test_seed_names_catch_the_new_errors(make_client: ClientFactory) -> None:
    client = make_client(api_key="sk_not_a_real_key")
    with pytest.raises(ErrorResponse) as caught:
        await client.cache.get("k")
    assert isinstance(caught.value, SDKBaseError)
    assert caught.value.data.code == "AUTH_INVALID_KEY"
    assert caught.value.data.message == caught.value.message


async def test_an_unknown_error_code_is_kept_as_a_string(make_client: ClientFactory) -> None:
    body = b'{"code": "BRAND_NEW_CODE", "message": "something new", "details": {"a": 1}}'
    async with scripted_server(Reply(418, body, [("x-request-id", "req_abc")])) as server:
        client = make_client(base_url=server.base_url)
        with pytest.raises(APIStatusError) as caught:
            await client.cache.get("k")
    error = caught.value
    assert type(error) is APIStatusError
    assert (error.code, error.details, error.request_id) == ("BRAND_NEW_CODE", {"a": 1}, "req_abc")
    assert str(error) == "418 BRAND_NEW_CODE: something new (request req_abc)"


async def test_a_non_json_error_body_becomes_the_message(make_client: ClientFactory) -> None:
    async with scripted_server(Reply(404, b"<html>gone</html>")) as server:
        client = make_client(base_url=server.base_url)
        with pytest.raises(NotFoundError) as caught:
            await client.cache.get("k")
    assert caught.value.code == ""
    assert "gone" in caught.value.message


async def test_a_2xx_body_of_the_wrong_type_names_the_json_path(
    make_client: ClientFactory,
) -> None:
    async with scripted_server(Reply(200, b'{"exists": "yes", "value": 1}')) as server:
        client = make_client(base_url=server.base_url)
        with pytest.raises(ResponseValidationError) as caught:
            await client.cache.get("k")
    error = caught.value
    assert error.path == "$.exists"
    assert error.status_code == 200
    assert error.cause is not None


async def test_a_2xx_body_that_is_not_json_is_a_validation_error(
    make_client: ClientFactory,
) -> None:
    async with scripted_server(Reply(200, b"not json")) as server:
        client = make_client(base_url=server.base_url)
        with pytest.raises(ResponseValidationError):
            await client.cache.get("k")


async def test_unknown_response_fields_are_ignored(make_client: ClientFactory) -> None:
    body = b'{"exists": true, "value": 3, "servedBy": "edge-7", "ttl": {"nested": 1}}'
    async with scripted_server(Reply(200, body)) as server:
        client = make_client(base_url=server.base_url)
        assert (await client.cache.get("k")).value == 3


async def test_a_redirect_is_not_followed_and_the_key_stays_home(
    make_client: ClientFactory,
) -> None:
    async with scripted_server(Reply(200, b"{}")) as elsewhere:
        location = f"{elsewhere.base_url}/cache/get"
        async with scripted_server(Reply(307, b"", [("location", location)])) as server:
            client = make_client(base_url=server.base_url)
            with pytest.raises(APIStatusError) as caught:
                await client.cache.get("k")
    assert caught.value.status_code == 307
    assert "redirect" in caught.value.message
    assert elsewhere.received == []


async def test_a_body_over_the_server_limit_is_payload_too_large(
    client: AsyncAerostack, unique: str
) -> None:
    with pytest.raises(PayloadTooLargeError) as caught:
        await client.cache.set(f"{unique}:big", "x" * (11 * 2**20), retry=None)
    assert caught.value.status_code == 413
    assert not (await client.cache.get(f"{unique}:big")).exists
