"""Chat streaming against the emulator, and tiny servers for failures it cannot stage."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import anyio
import pytest

from aerostack_async import AsyncAerostack, Limits, RetryPolicy, Timeout
from aerostack_async.errors import (
    AuthenticationError,
    InternalServerError,
    PermissionDeniedError,
    StreamIdleTimeout,
    StreamProtocolError,
)
from aerostack_async.testing import Emulator, run_emulator

from .._loopback import Peer, chunk, response, serve

pytestmark = pytest.mark.anyio

PROMPT = [{"role": "user", "content": "Tell me about streaming"}]
FAIL_MID_STREAM = "@local/fail-mid-stream"


def client_for(base_url: str, api_key: str, **kwargs: object) -> AsyncAerostack:
    # One connection only, and a short wait for it: a leaked connection fails fast.
    kwargs.setdefault("limits", Limits(max_connections=1, max_keepalive_connections=1))
    kwargs.setdefault("timeout", Timeout(connect=5, read=30, write=30, pool=3, total=60))
    return AsyncAerostack(api_key=api_key, base_url=base_url, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[AsyncAerostack]:
    async with client_for(emulator.base_url, emulator.api_key) as c:
        yield c


@pytest.fixture(scope="module")
def paced_emulator() -> Iterator[Emulator]:
    """20 ms between tokens: a stream that is buffered would show it beyond doubt."""
    with run_emulator("--ai-token-delay-ms", "20") as running:
        yield running


async def test_tokens_arrive_one_by_one_before_the_stream_ends(paced_emulator: Emulator) -> None:
    async with (
        client_for(paced_emulator.base_url, paced_emulator.api_key) as client,
        client.ai.chat_stream(PROMPT) as stream,
    ):
        downloaded = [stream.response.num_bytes_downloaded async for _ in stream]
    # When the first chunk was handed over, only a small part of the body had arrived, and
    # bytes kept arriving chunk after chunk.
    assert len(downloaded) > 10
    assert downloaded[0] < downloaded[-1] / 4
    assert len(set(downloaded)) > len(downloaded) / 2


async def test_chunks_are_typed_and_text_stream_yields_only_text(client: AsyncAerostack) -> None:
    async with client.ai.chat_stream(PROMPT) as stream:
        first = await stream.__anext__()
        texts = [text async for text in stream.text_stream]
    assert first.object == "chat.completion.chunk"
    assert texts
    assert all(isinstance(t, str) and t for t in texts)


async def test_final_text_equals_the_non_streamed_reply(client: AsyncAerostack) -> None:
    whole = await client.ai.chat(PROMPT)
    async with client.ai.chat_stream(PROMPT) as stream:
        text = await stream.get_final_text()
    assert text == whole.text


async def test_final_message_has_text_finish_reason_and_id(client: AsyncAerostack) -> None:
    async with client.ai.chat_stream(PROMPT) as stream:
        pieces = [text async for text in stream.text_stream]
        message = await stream.get_final_message()
    assert message.text == "".join(pieces)
    assert message.choices[0].finish_reason == "stop"
    assert message.id
    assert message.model


async def test_usage_frame_is_reported_when_asked_for(client: AsyncAerostack) -> None:
    async with client.ai.chat_stream(PROMPT, include_usage=True) as stream:
        message = await stream.get_final_message()
    assert message.usage is not None
    assert message.usage.completion_tokens > 0
    assert (
        message.usage.total_tokens == message.usage.prompt_tokens + message.usage.completion_tokens
    )


async def test_no_usage_without_include_usage(client: AsyncAerostack) -> None:
    async with client.ai.chat_stream(PROMPT) as stream:
        message = await stream.get_final_message()
    assert message.usage is None


async def test_max_tokens_ends_with_finish_reason_length(client: AsyncAerostack) -> None:
    async with client.ai.chat_stream(PROMPT, max_tokens=3) as stream:
        texts = [text async for text in stream.text_stream]
        message = await stream.get_final_message()
    assert len(texts) == 3
    assert message.choices[0].finish_reason == "length"


async def test_request_id_is_exposed(client: AsyncAerostack) -> None:
    async with client.ai.chat_stream(PROMPT) as stream:
        await stream.get_final_text()
    assert stream.request_id


async def test_unknown_key_raises_the_same_error_as_a_plain_call(emulator: Emulator) -> None:
    async with client_for(emulator.base_url, "sk_wrong_key") as client:
        with pytest.raises(AuthenticationError) as plain:
            await client.ai.chat(PROMPT)
        with pytest.raises(AuthenticationError) as streamed:
            async with client.ai.chat_stream(PROMPT):
                pass
    assert streamed.value.code == plain.value.code == "AUTH_INVALID_KEY"


async def test_public_key_is_refused_before_the_stream_starts(emulator: Emulator) -> None:
    assert emulator.public_key is not None
    async with client_for(emulator.base_url, emulator.public_key) as client:
        with pytest.raises(PermissionDeniedError):
            async with client.ai.chat_stream(PROMPT):
                pass


async def test_error_frame_mid_stream_raises_after_the_first_chunks(client: AsyncAerostack) -> None:
    received: list[str] = []
    with pytest.raises(InternalServerError) as caught:  # noqa: PT012 (chunks, then the error)
        async with client.ai.chat_stream(PROMPT, model=FAIL_MID_STREAM) as stream:
            async for text in stream.text_stream:
                received.append(text)
    assert received
    assert caught.value.code == "INTERNAL_ERROR"
    assert caught.value.status_code == 500
    assert await client.ai.chat(PROMPT)  # and the connection is usable again


async def test_breaking_out_of_the_loop_returns_the_connection(client: AsyncAerostack) -> None:
    async with client.ai.chat_stream(PROMPT) as stream:
        async for _ in stream:
            break
    with anyio.fail_after(10):
        assert (await client.ai.chat(PROMPT)).text


async def test_cancelling_mid_stream_returns_the_connection(client: AsyncAerostack) -> None:
    with anyio.CancelScope() as scope:
        async with client.ai.chat_stream(PROMPT) as stream:
            async for _ in stream:
                scope.cancel()
    assert scope.cancelled_caught
    with anyio.fail_after(10):
        assert (await client.ai.chat(PROMPT)).text


async def test_aclose_mid_stream_returns_the_connection_and_ends_iteration(
    client: AsyncAerostack,
) -> None:
    async with client.ai.chat_stream(PROMPT) as stream:
        await stream.__anext__()
        await stream.aclose()
        await stream.aclose()  # twice is fine
        assert [chunk async for chunk in stream] == []
    with anyio.fail_after(10):
        assert (await client.ai.chat(PROMPT)).text


# --- failures staged by purpose-built servers ------------------------------------------------

SSE_HEAD = response(content_type="text/event-stream", chunked=True)


def frame(content: str, finish: str | None = None) -> bytes:
    data = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}],
    }
    return chunk(b"data: " + json.dumps(data).encode() + b"\n\n")


async def test_consecutive_streams_reuse_one_connection() -> None:
    async def handler(conn: Peer) -> None:
        # every request on this one connection, until the client closes it
        while await conn.read_request() is not None:
            body = frame("Hel") + frame("lo", "stop") + chunk(b"data: [DONE]\n\n") + chunk(b"")
            await conn.send(SSE_HEAD + body)

    async with serve(handler) as server, client_for(server.base_url, "sk_x") as client:
        texts = []
        for _ in range(3):
            async with client.ai.chat_stream(PROMPT, max_tokens=2) as stream:
                texts.append(await stream.get_final_text())
    assert texts == ["Hello"] * 3
    assert len(server.requests) == 3
    assert server.connections == 1  # read to [DONE] and its end, each went back to the pool


async def test_2xx_that_is_not_an_event_stream_is_a_protocol_error_never_retried() -> None:
    async def handler(conn: Peer) -> None:
        await conn.read_request()
        await conn.send(response(b'{"response": "not a stream"}', content_type="application/json"))

    async with serve(handler) as server, client_for(server.base_url, "sk_x") as client:
        with pytest.raises(StreamProtocolError) as caught:
            async with client.ai.chat_stream(PROMPT):
                pass
    assert "text/event-stream" in str(caught.value)
    assert caught.value.body == '{"response": "not a stream"}'
    assert len(server.requests) == 1


async def test_stream_that_goes_quiet_raises_stream_idle_timeout() -> None:
    async def handler(conn: Peer) -> None:
        await conn.read_request()
        await conn.send(SSE_HEAD + frame("Hel"))
        await conn.stall()

    async with serve(handler) as server, client_for(server.base_url, "sk_x") as client:
        received = []
        with anyio.fail_after(20), pytest.raises(StreamIdleTimeout):  # noqa: PT012
            async with client.ai.chat_stream(PROMPT, stream_idle=0.5) as stream:
                async for text in stream.text_stream:
                    received.append(text)
    assert received == ["Hel"]


async def test_idle_timeout_counts_from_the_last_event_not_the_stream_start() -> None:
    async def handler(conn: Peer) -> None:
        await conn.read_request()
        await conn.send(SSE_HEAD)
        for piece in ("a", "b", "c"):
            await anyio.sleep(0.3)
            await conn.send(frame(piece))
        await conn.send(frame("", "stop") + chunk(b"data: [DONE]\n\n") + chunk(b""))

    async with (
        serve(handler) as server,
        client_for(server.base_url, "sk_x") as client,
        client.ai.chat_stream(PROMPT, stream_idle=5) as stream,
    ):
        assert await stream.get_final_text() == "abc"


async def test_stream_cut_before_done_is_a_protocol_error() -> None:
    async def handler(conn: Peer) -> None:
        await conn.read_request()
        await conn.send(SSE_HEAD + frame("partial") + chunk(b""))

    async with serve(handler) as server, client_for(server.base_url, "sk_x") as client:
        with pytest.raises(StreamProtocolError, match="DONE"):
            async with client.ai.chat_stream(PROMPT) as stream:
                await stream.get_final_text()


async def test_stream_is_not_retried_after_its_first_event() -> None:
    async def handler(conn: Peer) -> None:
        await conn.read_request()
        await conn.send(SSE_HEAD + frame("a"))
        await conn.reset()

    retry = RetryPolicy(attempts=3, wait_initial=0, wait_jitter=0)
    async with (
        serve(handler) as server,
        client_for(server.base_url, "sk_x", retry=retry) as client,
    ):
        with pytest.raises(Exception) as caught:  # noqa: PT011 (the class is checked below)
            async with client.ai.chat_stream(PROMPT) as stream:
                await stream.get_final_text()
    assert len(server.requests) == 1
    assert type(caught.value).__name__ in ("APIConnectionError", "StreamProtocolError")


async def test_server_error_before_the_stream_is_retried() -> None:
    async def handler(conn: Peer) -> None:
        while await conn.read_request() is not None:
            if len(conn.server.requests) == 1:
                body = b'{"code": "INTERNAL_ERROR", "message": "try again"}'
                await conn.send(response(body, status=503, content_type="application/json"))
            else:
                await conn.send(SSE_HEAD + frame("ok", "stop") + chunk(b"data: [DONE]\n\n"))
                await conn.send(chunk(b""))

    retry = RetryPolicy(attempts=3, wait_initial=0, wait_jitter=0)
    async with (
        serve(handler) as server,
        client_for(server.base_url, "sk_x", retry=retry) as client,
        client.ai.chat_stream(PROMPT) as stream,
    ):
        assert await stream.get_final_text() == "ok"
    assert len(server.requests) == 2


@pytest.mark.parametrize("stream_idle", [0, -1, "5"])
async def test_bad_stream_idle_is_rejected_before_sending(stream_idle: object) -> None:
    async with AsyncAerostack(api_key="sk_x", base_url="http://127.0.0.1:9/v1") as client:
        with pytest.raises(ValueError, match="stream_idle"):
            client.ai.chat_stream(PROMPT, stream_idle=stream_idle)  # type: ignore[arg-type]


async def test_done_ends_iteration_even_if_the_server_keeps_the_body_open() -> None:
    async def handler(conn: Peer) -> None:
        await conn.read_request()
        await conn.send(SSE_HEAD + frame("hi", "stop") + chunk(b"data: [DONE]\n\n"))
        await conn.stall()

    async with serve(handler) as server, client_for(server.base_url, "sk_x") as client:
        with anyio.fail_after(5):
            async with client.ai.chat_stream(PROMPT, stream_idle=30) as stream:
                assert await stream.get_final_text() == "hi"
