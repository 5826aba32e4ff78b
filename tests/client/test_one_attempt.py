"""``retry=None`` means one attempt, even when a kept-alive connection closes under a request.

The scripted server answers the first call, then reads the second and closes the connection
without answering: it may have acted on it. The pool must not send it again on its own; only
the retry policy may, and then with the same Idempotency-Key.
"""

from __future__ import annotations

import pytest

from aerostack_async.errors import APIConnectionError

from .._loopback import Reply, scripted_server
from .conftest import FAST_RETRY, ClientFactory

pytestmark = pytest.mark.anyio

OK = b'{"success": true}'


async def test_retry_none_sends_a_request_the_server_read_only_once(
    make_client: ClientFactory,
) -> None:
    async with scripted_server(Reply(200, OK), Reply(drop=True), Reply(200, OK)) as server:
        client = make_client(base_url=server.base_url, retry=None)
        await client.cache.set("k", 1)
        with pytest.raises(APIConnectionError):
            await client.cache.set("k", 2)
    assert [r.body for r in server.received] == [b'{"key":"k","value":1}', b'{"key":"k","value":2}']


async def test_a_retry_policy_sends_it_again_with_the_same_idempotency_key(
    make_client: ClientFactory,
) -> None:
    async with scripted_server(Reply(200, OK), Reply(drop=True), Reply(200, OK)) as server:
        client = make_client(base_url=server.base_url, retry=FAST_RETRY)
        await client.cache.set("k", 1)
        await client.cache.set("k", 2)
    first, dropped, again = server.received
    assert dropped.body == again.body
    assert dropped.headers["idempotency-key"] == again.headers["idempotency-key"]
    assert first.headers["idempotency-key"] != again.headers["idempotency-key"]
