"""The API key never shows up in logs, reprs or error messages."""

from __future__ import annotations

import logging
import os
import sys

import anyio
import pytest

from aerostack_async import AsyncAerostack, RetryPolicy
from aerostack_async.errors import AerostackError
from aerostack_async.testing import Emulator

from .._loopback import Reply, scripted_server
from .conftest import ClientFactory

pytestmark = pytest.mark.anyio


async def test_the_key_is_not_in_debug_logs_of_successes_errors_and_retries(
    emulator: Emulator, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ours, httpx, httpcore, stamina
    client = make_client()
    await client.cache.set("secret-test", {"v": 1})
    await client.cache.get("secret-test")
    errors: list[AerostackError] = []
    try:
        await client.database.query("SELECT * FROM no_such_table")
    except AerostackError as exc:
        errors.append(exc)
    async with scripted_server(Reply(503, b"{}"), Reply(200, b'{"exists": false}')) as server:
        retrying = make_client(base_url=server.base_url)
        await retrying.cache.get("k")
    assert caplog.records, "nothing was logged at DEBUG"
    assert emulator.api_key not in caplog.text
    assert all(emulator.api_key not in str(e) and emulator.api_key not in repr(e) for e in errors)


async def test_a_key_quoted_in_a_log_message_is_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="aerostack_async")
    logging.getLogger("aerostack_async").warning("user passed %s", "sk_live_abcdef123456")
    assert "sk_live_abcdef123456" not in caplog.text
    assert "sk_***" in caplog.text


async def test_the_key_is_not_in_reprs(emulator: Emulator, client: AsyncAerostack) -> None:
    copy = client.with_options(retry=RetryPolicy(attempts=2))
    for text in (
        repr(client),
        str(client),
        repr(copy),
        repr(client.cache),
        repr(client._transport),  # private, but reachable from a debugger or a traceback
    ):
        assert emulator.api_key not in text
    assert "sk_***" in repr(client)


async def test_the_key_is_not_in_authentication_errors(make_client: ClientFactory) -> None:
    client = make_client(api_key="sk_wrong_key_0123456789")
    with pytest.raises(AerostackError) as caught:
        await client.cache.get("k")
    assert "sk_wrong_key_0123456789" not in str(caught.value)
    assert "sk_wrong_key_0123456789" not in repr(caught.value)


async def test_aerostack_log_debug_logs_requests_without_the_key(emulator: Emulator) -> None:
    script = (
        "import anyio\n"
        "from aerostack_async import AsyncAerostack\n"
        "async def main():\n"
        "    async with AsyncAerostack() as client:\n"
        "        await client.cache.get('log-test')\n"
        "anyio.run(main)\n"
    )
    env = {
        **os.environ,
        "AEROSTACK_LOG": "debug",
        "AEROSTACK_API_KEY": emulator.api_key,
        "AEROSTACK_BASE_URL": emulator.base_url,
    }
    with anyio.fail_after(60):
        done = await anyio.run_process([sys.executable, "-c", script], env=env, check=False)
    stderr = done.stderr.decode()
    assert done.returncode == 0, stderr
    assert "POST /cache/get -> 200" in stderr
    assert emulator.api_key not in stderr


async def test_the_key_is_masked_in_the_request_an_error_carries(
    make_client: ClientFactory,
) -> None:
    client = make_client(api_key="sk_wrong_key_0123456789")
    with pytest.raises(AerostackError) as caught:
        await client.cache.get("k")
    raw = getattr(caught.value, "raw_response", None)
    assert raw is not None
    assert "sk_wrong_key_0123456789" not in str(dict(raw.request.headers))


def _closed_port() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


async def test_the_key_is_masked_in_the_request_a_connection_error_carries() -> None:
    secret = "sk_connection_error_secret"
    async with AsyncAerostack(api_key=secret, base_url=_closed_port(), retry=None) as client:
        with pytest.raises(AerostackError) as caught:
            await client.cache.get("k")
    assert secret not in str(caught.value)
    sent = caught.value.__cause__.request  # type: ignore[union-attr]
    assert secret not in str(sent.headers)


@pytest.mark.parametrize("bad", ["sk_trailing_newline\n", " sk_leading_space", "sk_\x00nul"])
async def test_a_key_callable_returning_an_unsendable_key_fails_without_quoting_it(
    bad: str,
) -> None:
    from aerostack_async.errors import ConfigurationError

    async with AsyncAerostack(api_key=lambda: bad, base_url=_closed_port()) as client:
        with pytest.raises(ConfigurationError) as caught:
            await client.cache.get("k")
    assert bad.strip("\n \x00") not in str(caught.value)
