"""Conformance of ``/ai/chat``: both response forms, the SSE framing byte for byte, upstreams."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aerostack_async.server._chat_model import Message, reply, tokenize
from aerostack_async.testing import Emulator, run_emulator

pytestmark = pytest.mark.anyio

QUESTION = [{"role": "user", "content": "How should I cache database queries in Python?"}]


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=emulator.base_url, headers={"X-Aerostack-Key": emulator.api_key}, timeout=30
    ) as http:
        yield http


def frames_of(raw: bytes) -> list[bytes]:
    """Split an event-stream body into frames, checking every frame is ``data: …\\n\\n``."""
    assert raw.endswith(b"\n\n")
    frames = raw[:-2].split(b"\n\n")
    for frame in frames:
        assert frame.startswith(b"data: ")
        assert b"\n" not in frame
    return [frame[len(b"data: ") :] for frame in frames]


async def chat(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    body.setdefault("messages", QUESTION)
    return await client.post("/ai/chat", json=body)


# -- non-streaming --


async def test_reply_has_the_union_shape(client: httpx.AsyncClient) -> None:
    reply = (await chat(client)).json()
    assert isinstance(reply["response"], str)
    assert reply["response"]
    assert reply["id"].startswith("chatcmpl-")
    assert reply["object"] == "chat.completion"
    assert isinstance(reply["created"], int)
    assert reply["model"] == "@cf/meta/llama-3-8b-instruct"
    assert reply["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": reply["response"]},
            "finish_reason": "stop",
        }
    ]
    usage = reply["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["completion_tokens"] > 0


async def test_same_conversation_gives_the_same_reply(client: httpx.AsyncClient) -> None:
    first = (await chat(client)).json()
    second = (await chat(client)).json()
    assert first["response"] == second["response"]
    assert first["id"] != second["id"]


async def test_reply_mentions_the_last_user_message(client: httpx.AsyncClient) -> None:
    messages = [{"role": "user", "content": "Tell me about photosynthesis"}]
    reply = (await chat(client, messages=messages)).json()
    assert "photosynthesis" in reply["response"]


async def test_model_is_echoed(client: httpx.AsyncClient) -> None:
    reply = (await chat(client, model="@cf/mistral/mistral-7b-instruct-v0.1")).json()
    assert reply["model"] == "@cf/mistral/mistral-7b-instruct-v0.1"


async def test_empty_model_name_means_the_default(client: httpx.AsyncClient) -> None:
    reply = (await chat(client, model="")).json()
    assert reply["model"] == "@cf/meta/llama-3-8b-instruct"


async def test_max_tokens_truncates_with_finish_reason_length(client: httpx.AsyncClient) -> None:
    reply = (await chat(client, max_tokens=3)).json()
    assert reply["choices"][0]["finish_reason"] == "length"
    assert reply["usage"]["completion_tokens"] == 3
    full = (await chat(client)).json()["response"]
    assert full.startswith(reply["response"])
    assert len(reply["response"]) < len(full)


async def test_seed_style_empty_message_item_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post("/ai/chat", json={"messages": [{}]})
    assert response.status_code == 200
    assert response.json()["response"]


async def test_sampling_options_in_range_are_accepted(client: httpx.AsyncClient) -> None:
    response = await chat(client, temperature=2, top_p=0, max_tokens=1, stream=False)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"messages": []}, "messages"),
        ({}, "messages"),
        ({"messages": "hi"}, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"messages": ["hi"]}, "messages[0]"),
        ({"messages": QUESTION, "temperature": 2.5}, "temperature"),
        ({"messages": QUESTION, "top_p": 1.5}, "top_p"),
        ({"messages": QUESTION, "max_tokens": 0}, "max_tokens"),
        ({"messages": QUESTION, "stream": "yes"}, "stream"),
        ({"messages": QUESTION, "stream_options": {"include_usage": 1}}, "stream_options"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
async def test_invalid_request_is_400_with_field_error(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/ai/chat", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert any(name.startswith(field) for name in response.json()["details"]["fieldErrors"])


async def test_invalid_streaming_request_is_a_json_error_not_a_stream(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/ai/chat", json={"messages": [], "stream": True})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"


async def test_public_key_is_forbidden(client: httpx.AsyncClient, emulator: Emulator) -> None:
    assert emulator.public_key is not None
    response = await client.post(
        "/ai/chat", json={"messages": QUESTION}, headers={"X-Aerostack-Key": emulator.public_key}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN"


# -- streaming --


async def test_stream_is_event_stream_of_data_frames_ending_with_done(
    client: httpx.AsyncClient,
) -> None:
    response = await chat(client, stream=True)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.content.endswith(b"\n\ndata: [DONE]\n\n")
    frames = frames_of(response.content)
    assert frames[-1] == b"[DONE]"
    assert frames.count(b"[DONE]") == 1


async def test_stream_chunks_share_id_model_created_and_finish_last(
    client: httpx.AsyncClient,
) -> None:
    frames = frames_of((await chat(client, stream=True)).content)
    chunks = [json.loads(frame) for frame in frames[:-1]]
    assert {(c["id"], c["model"], c["created"]) for c in chunks} == {
        (chunks[0]["id"], "@cf/meta/llama-3-8b-instruct", chunks[0]["created"])
    }
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None] * (len(chunks) - 1) + [
        "stop"
    ]
    assert all(c["choices"][0]["index"] == 0 for c in chunks)
    assert all(isinstance(c["choices"][0]["delta"]["content"], str) for c in chunks)


async def test_stream_frames_are_compact_json(client: httpx.AsyncClient) -> None:
    frames = frames_of((await chat(client, stream=True)).content)
    first = frames[0]
    assert first.startswith(b'{"id":"chatcmpl-')
    assert first == json.dumps(json.loads(first), separators=(",", ":")).encode()


async def test_streamed_text_equals_the_non_streamed_reply(client: httpx.AsyncClient) -> None:
    frames = frames_of((await chat(client, stream=True)).content)
    streamed = "".join(json.loads(f)["choices"][0]["delta"]["content"] for f in frames[:-1])
    assert streamed == (await chat(client)).json()["response"]


async def test_usage_frame_comes_after_the_last_chunk_when_asked(
    client: httpx.AsyncClient,
) -> None:
    frames = frames_of(
        (await chat(client, stream=True, stream_options={"include_usage": True})).content
    )
    usage_frame = json.loads(frames[-2])
    assert usage_frame["choices"] == []
    assert usage_frame["object"] == "chat.completion.chunk"
    content_chunks = len(frames) - 3  # minus the finish chunk, the usage frame and [DONE]
    assert usage_frame["usage"]["completion_tokens"] == content_chunks
    assert usage_frame["usage"] == (await chat(client)).json()["usage"]
    assert json.loads(frames[-3])["choices"][0]["finish_reason"] == "stop"


async def test_stream_without_include_usage_has_no_usage_frame(
    client: httpx.AsyncClient,
) -> None:
    frames = frames_of((await chat(client, stream=True)).content)
    assert all(b'"usage"' not in frame for frame in frames)


async def test_streamed_max_tokens_ends_with_length(client: httpx.AsyncClient) -> None:
    frames = frames_of((await chat(client, stream=True, max_tokens=4)).content)
    chunks = [json.loads(frame) for frame in frames[:-1]]
    assert len(chunks) == 5
    assert chunks[-1]["choices"][0] == {
        "index": 0,
        "delta": {"content": ""},
        "finish_reason": "length",
    }


async def test_failing_model_sends_an_error_frame_and_ends(client: httpx.AsyncClient) -> None:
    response = await chat(client, stream=True, model="@local/fail-mid-stream")
    assert response.status_code == 200
    frames = frames_of(response.content)
    error = json.loads(frames[-1])
    assert error == {
        "error": {
            "code": "INTERNAL_ERROR",
            "message": "Simulated failure of model @local/fail-mid-stream",
        }
    }
    assert b"[DONE]" not in frames
    assert all("choices" in json.loads(frame) for frame in frames[:-1])


async def test_failing_model_without_stream_is_500(client: httpx.AsyncClient) -> None:
    response = await chat(client, model="@local/fail-mid-stream")
    assert response.status_code == 500
    assert response.json()["code"] == "INTERNAL_ERROR"


# -- pacing: streams do not block each other --


@pytest.fixture(scope="module")
def paced_emulator() -> Iterator[Emulator]:
    with run_emulator("--ai-token-delay-ms", "50") as running:
        yield running


async def test_a_second_stream_runs_while_the_first_is_still_streaming(
    paced_emulator: Emulator,
) -> None:
    arrivals: list[str] = []
    first_started = anyio.Event()

    async def stream(http: httpx.AsyncClient, label: str) -> None:
        body = {"messages": [{"content": label}], "stream": True, "max_tokens": 40}
        async with http.stream("POST", "/ai/chat", json=body) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    arrivals.append(label)
                    first_started.set()

    async def second(http: httpx.AsyncClient) -> None:
        await first_started.wait()
        await stream(http, "b")

    async with (
        httpx.AsyncClient(
            base_url=paced_emulator.base_url,
            headers={"X-Aerostack-Key": paced_emulator.api_key},
            timeout=60,
        ) as http,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(stream, http, "a")
        tg.start_soon(second, http)
    assert arrivals.count("a") == arrivals.count("b") == 42
    # "b" started after "a" had begun; had the server served one stream at a time, every
    # frame of "a" would come before the first of "b".
    last_a = len(arrivals) - 1 - arrivals[::-1].index("a")
    assert arrivals.index("b") < last_a


# -- --ai-upstream: a tiny OpenAI-compatible server --


class FakeOpenAI(BaseHTTPRequestHandler):
    """Answers ``POST /v1/chat/completions`` like an OpenAI-compatible server."""

    received: list[dict[str, Any]] = []
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeOpenAI.received.append({"path": self.path, "body": body})
        if body["model"] == "broken":
            self._send(500, "application/json", b'{"error": {"message": "boom"}}')
        elif body.get("stream"):
            self._send(200, "text/event-stream", self._stream(body))
        else:
            reply = {
                "id": "chatcmpl-upstream",
                "object": "chat.completion",
                "created": 1700000000,
                "model": "upstream-model",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "Hello from upstream"},
                        "finish_reason": "length",
                    }
                ],
                "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
            }
            self._send(200, "application/json", json.dumps(reply).encode())

    @staticmethod
    def _stream(body: dict[str, Any]) -> bytes:
        base = {"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1700000000}
        base["model"] = "upstream-model"
        events = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
        for piece in ["Hel", "lo", " there"]:
            events.append({**base, "choices": [{"index": 0, "delta": {"content": piece}}]})
        events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if body.get("stream_options", {}).get("include_usage"):
            usage = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
            events.append({**base, "choices": [], "usage": usage})
        lines = [f"data: {json.dumps(event)}\n\n" for event in events] + ["data: [DONE]\n\n"]
        return "".join(lines).encode()

    def _send(self, status: int, content_type: str, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture(scope="module")
def upstream_emulator() -> Iterator[Emulator]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        with run_emulator("--ai-upstream", url) as running:
            yield running
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
async def upstream_client(upstream_emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=upstream_emulator.base_url,
        headers={"X-Aerostack-Key": upstream_emulator.api_key},
        timeout=30,
    ) as http:
        yield http


async def test_upstream_receives_openai_request_with_defaults_applied(
    upstream_client: httpx.AsyncClient,
) -> None:
    FakeOpenAI.received.clear()
    await upstream_client.post("/ai/chat", json={"messages": [{}], "max_tokens": 9})
    [request] = FakeOpenAI.received
    assert request["path"] == "/v1/chat/completions"
    assert request["body"] == {
        "model": "@cf/meta/llama-3-8b-instruct",
        "messages": [{"role": "user", "content": ""}],
        "stream": False,
        "max_tokens": 9,
    }


async def test_upstream_reply_is_mapped_to_the_union_shape(
    upstream_client: httpx.AsyncClient,
) -> None:
    reply = (await upstream_client.post("/ai/chat", json={"messages": QUESTION})).json()
    assert reply["response"] == "Hello from upstream"
    assert reply["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Hello from upstream",
    }
    assert reply["choices"][0]["finish_reason"] == "length"
    assert reply["usage"] == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    assert reply["id"] == "chatcmpl-upstream"
    assert reply["model"] == "upstream-model"
    assert reply["object"] == "chat.completion"


async def test_upstream_stream_is_reframed_in_our_format(
    upstream_client: httpx.AsyncClient,
) -> None:
    response = await upstream_client.post(
        "/ai/chat",
        json={"messages": QUESTION, "stream": True, "stream_options": {"include_usage": True}},
    )
    assert response.headers["content-type"] == "text/event-stream"
    frames = frames_of(response.content)
    assert frames[-1] == b"[DONE]"
    chunks = [json.loads(frame) for frame in frames[:-2]]
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == "Hello there"
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, None, None, "stop"]
    assert {c["id"] for c in chunks} == {"chatcmpl-up"}
    assert json.loads(frames[-2])["usage"] == {
        "prompt_tokens": 5,
        "completion_tokens": 3,
        "total_tokens": 8,
    }


async def test_upstream_failure_is_502_before_the_stream(
    upstream_client: httpx.AsyncClient,
) -> None:
    response = await upstream_client.post(
        "/ai/chat", json={"messages": QUESTION, "model": "broken", "stream": True}
    )
    assert response.status_code == 502
    assert response.json()["code"] == "AI_UPSTREAM_ERROR"
    assert response.json()["details"]["upstreamStatus"] == 500


# -- the local tokenizer (pure) --


@given(st.text())
def test_tokens_concatenate_back_to_the_text(text: str) -> None:
    assert "".join(tokenize(text)) == text


def test_tokens_carry_their_leading_space() -> None:
    assert tokenize("Hello, big world.") == ["Hello", ",", " big", " world", "."]


def test_local_reply_depends_on_model_and_conversation() -> None:
    question = [Message("user", "What is a cache?")]
    assert reply(question, "m1") == reply(question, "m1")
    assert reply(question, "m1") != reply([Message("user", "Something else")], "m1")
