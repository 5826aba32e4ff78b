"""The seed-compatible ``SDK``: request dicts, per-call options, results and errors."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from aerostack_async import errors
from aerostack_async.compat import SDK
from aerostack_async.testing import Emulator
from aerostack_async.utils import BackoffStrategy, RetryConfig

from .conftest import RecordingServer


@pytest.fixture
def sdk(emulator: Emulator) -> Iterator[SDK]:
    with SDK(api_key_auth=emulator.api_key, server_url=emulator.base_url) as client:
        yield client


@pytest.fixture
async def async_sdk(emulator: Emulator) -> AsyncIterator[SDK]:
    async with SDK(api_key_auth=emulator.api_key, server_url=emulator.base_url) as client:
        yield client


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def test_every_sync_operation_returns_the_seed_attribute_names(sdk: SDK) -> None:
    email = f"{unique('u')}@example.com"
    signed_up = sdk.authentication.auth_signup(
        request={"email": email, "password": "long enough", "name": "Ada"}
    )
    assert signed_up.user.email == email
    signed_in = sdk.authentication.auth_signin(request={"email": email, "password": "long enough"})
    assert signed_in.token
    assert signed_in.expires_at is not None
    key = unique("k")
    assert sdk.cache.cache_set(request={"key": key, "value": [1, 2], "ttl": 60}).success
    got = sdk.cache.cache_get(request={"key": key})
    assert (got.exists, got.value) == (True, [1, 2])
    rows = sdk.database.db_query(request={"sql": "SELECT ? AS n", "params": [7]})
    assert (rows.results, rows.count) == ([{"n": 7}], 1)
    assert sdk.queue.queue_enqueue(request={"type": "t", "data": {}, "delay": 1}).job_id
    assert sdk.services.services_invoke(request={"service_name": "echo", "data": {}}).success
    assert sdk.ai.ai_chat(request={"messages": [{}]}).response


@pytest.mark.anyio
async def test_every_async_operation_works_on_both_backends(async_sdk: SDK) -> None:
    key = unique("k")
    assert (await async_sdk.cache.cache_set_async(request={"key": key, "value": 1})).success
    assert (await async_sdk.cache.cache_get_async(request={"key": key})).value == 1
    rows = await async_sdk.database.db_query_async(request={"sql": "SELECT 1 AS one"})
    assert rows.results == [{"one": 1}]
    assert (await async_sdk.queue.queue_enqueue_async(request={"type": "t", "data": {}})).job_id
    invoked = await async_sdk.services.services_invoke_async(
        request={"serviceName": "echo", "data": {"a": 1}}
    )
    assert invoked.success
    chat = await async_sdk.ai.ai_chat_async(request={"messages": [{"content": "hi"}]})
    assert chat.response
    upload = await async_sdk.storage.storage_upload_async(
        request={"key": f"{unique('a')}.txt", "file": {"content": b"x", "fileName": "x.txt"}}
    )
    assert upload.url
    email = f"{unique('u')}@example.com"
    await async_sdk.authentication.auth_signup_async(
        request={"email": email, "password": "long enough"}
    )
    signed_in = await async_sdk.authentication.auth_signin_async(
        request={"email": email, "password": "long enough"}
    )
    assert signed_in.user.email == email


def test_wire_names_are_accepted_as_well_as_seed_names(sdk: SDK) -> None:
    key = f"{unique('wire')}.bin"
    res = sdk.storage.storage_upload(
        request={
            "key": key,
            "contentType": "application/octet-stream",
            "file": {"content": b"abc", "fileName": "a.bin", "Content-Type": "text/plain"},
        }
    )
    assert res.url


def test_unknown_request_field_is_rejected_before_sending(sdk: SDK) -> None:
    with pytest.raises(errors.InvalidRequestError, match="unknown request field 'kee'"):
        sdk.cache.cache_get(request={"kee": "x"})


def test_missing_request_field_is_rejected_before_sending(sdk: SDK) -> None:
    with pytest.raises(errors.InvalidRequestError, match="'value' is required"):
        sdk.cache.cache_set(request={"key": "x"})


def test_request_must_be_a_dict(sdk: SDK) -> None:
    with pytest.raises(errors.InvalidArgumentTypeError, match="request must be a dict"):
        sdk.cache.cache_get(request="x")


def test_seed_error_names_catch_status_errors(sdk: SDK) -> None:
    with pytest.raises(errors.SDKBaseError) as caught:
        sdk.database.db_query(request={"sql": "SELEKT"})
    error = caught.value
    assert isinstance(error, errors.ErrorResponse)
    assert (error.status_code, error.data.code) == (400, "DB_QUERY_FAILED")
    assert error.data.message
    assert error.body


def test_wrong_key_is_an_error_response_with_the_code(emulator: Emulator) -> None:
    with (
        SDK(api_key_auth="sk_wrong", server_url=emulator.base_url) as sdk,
        pytest.raises(errors.ErrorResponse) as caught,
    ):
        sdk.cache.cache_get(request={"key": "k"})
    assert caught.value.data.code == "AUTH_INVALID_KEY"


def test_no_response_is_the_seeds_no_response_error() -> None:
    with (
        SDK(api_key_auth="sk_x", server_url="http://127.0.0.1:9/v1", retry_config=None) as sdk,
        pytest.raises(errors.NoResponseError),
    ):
        sdk.cache.cache_get(request={"key": "k"})


def test_per_call_server_url_wins(emulator: Emulator) -> None:
    with SDK(api_key_auth=emulator.api_key, server_url="http://127.0.0.1:9/v1") as sdk:
        got = sdk.cache.cache_get(request={"key": unique("k")}, server_url=emulator.base_url)
    assert got.exists is False


def test_server_idx_one_is_the_local_emulator_address() -> None:
    sdk = SDK(api_key_auth="sk_x", server_idx=1)
    assert "http://localhost:8787/v1" in repr(sdk)


def test_bad_server_idx_is_a_configuration_error() -> None:
    with pytest.raises(errors.ConfigurationError, match="server_idx"):
        SDK(api_key_auth="sk_x", server_idx=5)


def test_url_params_template_the_server_url(emulator: Emulator) -> None:
    template = emulator.base_url.replace("/v1", "/{version}")
    with SDK(
        api_key_auth=emulator.api_key, server_url=template, url_params={"version": "v1"}
    ) as sdk:
        assert sdk.cache.cache_get(request={"key": unique("k")}).exists is False


def test_http_headers_are_sent_per_call(recording_server: RecordingServer) -> None:
    with SDK(api_key_auth="sk_x", server_url=recording_server.base_url) as sdk:
        sdk.cache.cache_get(request={"key": "k"}, http_headers={"X-Trace": "abc"})
    assert recording_server.headers[-1]["x-trace"] == "abc"


def test_the_key_goes_in_the_seeds_header(recording_server: RecordingServer) -> None:
    with SDK(api_key_auth=lambda: "sk_from_callable", server_url=recording_server.base_url) as sdk:
        sdk.cache.cache_get(request={"key": "k"})
    assert recording_server.headers[-1]["x-aerostack-key"] == "sk_from_callable"


def test_per_call_retries_and_timeout_are_accepted(sdk: SDK) -> None:
    retries = RetryConfig("backoff", BackoffStrategy(1, 5, 1.5, 50), True)
    got = sdk.cache.cache_get(request={"key": unique("k")}, retries=retries, timeout_ms=5000)
    assert got.exists is False


def test_unknown_call_option_is_rejected(sdk: SDK) -> None:
    with pytest.raises(errors.InvalidRequestError, match="unknown option"):
        sdk.cache.cache_get(request={"key": "k"}, retry=None)  # type: ignore[call-arg]


def test_sync_sdk_is_lazy_and_closes_twice(emulator: Emulator) -> None:
    sdk = SDK(api_key_auth=emulator.api_key, server_url=emulator.base_url)
    assert not sdk._loop.started
    sdk.cache.cache_get(request={"key": "k"})
    sdk.close()
    sdk.close()


def test_async_operations_work_across_two_asyncio_runs(emulator: Emulator) -> None:
    sdk = SDK(api_key_auth=emulator.api_key, server_url=emulator.base_url)

    async def main() -> bool:
        async with sdk:
            return (await sdk.cache.cache_get_async(request={"key": unique("k")})).exists

    assert asyncio.run(main()) is False
    assert asyncio.run(main()) is False


def test_seed_model_objects_are_accepted_as_requests(sdk: SDK) -> None:
    from aerostack import models as seed_models

    invoked = sdk.services.services_invoke(
        request=seed_models.ServicesInvokeRequestBody(service_name="echo", data={"a": 1})
    )
    assert invoked.success
    chat = sdk.ai.ai_chat(
        request=seed_models.AiChatRequestBody(
            messages=[seed_models.Messages(role=seed_models.Role.SYSTEM, content="be brief")]
        )
    )
    assert chat.response
